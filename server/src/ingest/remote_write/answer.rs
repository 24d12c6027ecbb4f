//! What a remote-write request is and what its answer says: the version negotiated from the
//! Content-Type, the 400 message naming counts and reasons, and remote-write 2.0's
//! `X-Prometheus-Remote-Write-*-Written` headers (Prometheus's `storage/remote/stats.go`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::http::{HeaderMap, HeaderValue, header};
use strata_engine::WriteOutcome;

use super::decode::{INVALID_HISTOGRAM, Refused};
use crate::http::error::ApiError;

/// The protobuf message of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// `prometheus.WriteRequest` (remote-write 1.0).
    V1,
    /// `io.prometheus.write.v2.Request` (remote-write 2.0).
    V2,
}

/// The message remote-write 2.0 names in `proto=`.
const V2_MESSAGE: &str = "io.prometheus.write.v2.Request";

/// Reads `Content-Type: application/x-protobuf[;proto=...]` and `Content-Encoding: snappy`:
/// 1.0 without `proto` or with `prometheus.WriteRequest`, 2.0 with
/// `io.prometheus.write.v2.Request`, 415 for anything else (which tells a Prometheus sender
/// to fall back to 1.0).
pub fn negotiate(headers: &HeaderMap) -> Result<Proto, ApiError> {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut parts = ct.split(';').map(str::trim);
    let media = parts.next().unwrap_or("");
    if !media.eq_ignore_ascii_case("application/x-protobuf") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "remote-write needs Content-Type: application/x-protobuf, got {ct:?}"
        )));
    }
    let mut proto = Proto::V1;
    for p in parts {
        if let Some((k, v)) = p.split_once('=')
            && k.trim().eq_ignore_ascii_case("proto")
        {
            proto = match v.trim().trim_matches('"') {
                "prometheus.WriteRequest" => Proto::V1,
                V2_MESSAGE => Proto::V2,
                other => {
                    return Err(ApiError::UnsupportedMediaType(format!(
                        "remote-write takes proto=prometheus.WriteRequest (1.0) or proto={V2_MESSAGE} (2.0), got proto={other}"
                    )));
                }
            };
        }
    }
    let enc = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !enc.trim().eq_ignore_ascii_case("snappy") {
        return Err(ApiError::UnsupportedMediaType(format!(
            "remote-write needs Content-Encoding: snappy (block format), got {enc:?}"
        )));
    }
    Ok(proto)
}

/// What a request held that decoded.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Sent {
    pub(crate) samples: u64,
    pub(crate) histograms: u64,
    /// 2.0: samples and histograms with a start timestamp.
    pub(crate) start_timestamps: u64,
}

impl Sent {
    /// What became of 2.0's start timestamps, given the engine's outcome: zero samples
    /// stored, and the rest not stored (not before their sample, or not after what the
    /// series holds: Prometheus drops those too).
    pub(crate) fn starts(&self, outcome: &WriteOutcome) -> Starts {
        let zero = outcome.start_zero_samples;
        Starts {
            zero,
            dropped: self.start_timestamps.saturating_sub(zero),
        }
    }
}

/// Start timestamps as self-metrics counts: the zero samples stored count as samples
/// accepted (`strata_samples_accepted_total`), the others in `strata_truncated_total`
/// (`start_timestamp_not_stored`).
pub(crate) struct Starts {
    zero: u64,
    dropped: u64,
}

impl crate::runtime::self_metrics::Counts for Starts {
    fn accepted(&self) -> u64 {
        self.zero
    }
    fn duplicates(&self) -> u64 {
        0
    }
    fn rejected(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
    fn truncated(&self) -> Vec<(&'static str, u64)> {
        [("start_timestamp_not_stored", self.dropped)]
            .into_iter()
            .filter(|&(_, n)| n > 0)
            .collect()
    }
}

/// What a 2.0 answer says was written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Written {
    pub(crate) samples: u64,
    pub(crate) histograms: u64,
    pub(crate) exemplars: u64,
}

impl Written {
    /// Samples and histograms from the engine's outcome. Identical re-sends (duplicates)
    /// count as written, as Prometheus's appender takes them: under histograms when the
    /// request had no float samples, else under samples (the outcome does not split them).
    pub(crate) fn samples(&mut self, outcome: &WriteOutcome, sent: &Sent) {
        let floats = outcome.accepted.saturating_sub(outcome.accepted_histograms);
        self.histograms = outcome.accepted_histograms;
        self.samples = floats;
        if sent.samples == 0 {
            self.histograms += outcome.duplicates;
        } else {
            self.samples += outcome.duplicates;
        }
    }

    /// Sets the three headers.
    pub(crate) fn set_headers(&self, headers: &mut HeaderMap) {
        for (name, n) in [
            ("x-prometheus-remote-write-samples-written", self.samples),
            (
                "x-prometheus-remote-write-histograms-written",
                self.histograms,
            ),
            (
                "x-prometheus-remote-write-exemplars-written",
                self.exemplars,
            ),
        ] {
            headers.insert(name, HeaderValue::from(n));
        }
    }
}

/// "stored 8 of 10 samples and 1 of 2 histograms; rejected 3: too_old 2 (first: ...);
/// invalid_histogram 1 (first: ...)".
pub(crate) fn rejection_message(
    sent: &Sent,
    outcome: &WriteOutcome,
    refused: &BTreeMap<&'static str, Refused>,
) -> String {
    let refused_total: u64 = refused.values().map(|r| r.count).sum();
    let stored = outcome.accepted + outcome.duplicates;
    let rejected = outcome.rejected_total() + refused_total;
    // "samples" alone when the request had no histograms (as before they were stored).
    let what = if sent.histograms == 0 && !refused.contains_key(INVALID_HISTOGRAM) {
        "samples"
    } else {
        "samples and histograms"
    };
    let mut m = format!(
        "stored {stored} of {} {what}; rejected {rejected}:",
        sent.samples + sent.histograms + refused_total
    );
    for (reason, n) in &outcome.rejected {
        let _ = write!(m, " {reason} {n}");
        if let Some(first) = outcome.messages.get(reason) {
            let _ = write!(m, " (first: {first})");
        }
        m.push(';');
    }
    for (reason, r) in refused {
        let _ = write!(m, " {reason} {}", r.count);
        if let Some(first) = &r.first {
            let _ = write!(m, " (first: {first})");
        }
        m.push(';');
    }
    m.pop();
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use strata_engine::RejectReason;

    fn headers(ct: &str, enc: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        h.insert(
            header::CONTENT_ENCODING,
            HeaderValue::from_str(enc).unwrap(),
        );
        h
    }

    #[test]
    fn the_version_is_negotiated_by_the_proto_parameter() {
        for (ct, want) in [
            ("application/x-protobuf", Proto::V1),
            (
                "application/x-protobuf;proto=prometheus.WriteRequest",
                Proto::V1,
            ),
            (
                "application/x-protobuf; proto=io.prometheus.write.v2.Request",
                Proto::V2,
            ),
        ] {
            assert_eq!(negotiate(&headers(ct, "snappy")).unwrap(), want, "{ct}");
        }
        for (ct, enc, want) in [
            ("application/json", "snappy", "Content-Type"),
            (
                "application/x-protobuf;proto=io.prometheus.write.v3.Request",
                "snappy",
                "got proto=io.prometheus.write.v3.Request",
            ),
            ("application/x-protobuf", "gzip", "Content-Encoding"),
            (
                "application/x-protobuf;proto=io.prometheus.write.v2.Request",
                "gzip",
                "Content-Encoding",
            ),
        ] {
            let err = negotiate(&headers(ct, enc)).unwrap_err();
            assert_eq!(err.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
            assert!(err.to_string().contains(want), "{err}");
        }
    }

    #[test]
    fn rejection_message_names_counts_and_reasons() {
        let mut o = WriteOutcome {
            accepted: 7,
            duplicates: 1,
            ..WriteOutcome::default()
        };
        o.rejected.insert(RejectReason::TooOld, 2);
        o.messages
            .insert(RejectReason::TooOld, "sample too old".into());
        let mut refused = BTreeMap::new();
        refused.insert(
            "invalid_histogram",
            Refused {
                count: 1,
                first: Some("timeseries[3]: bad hint".into()),
            },
        );
        let sent = Sent {
            samples: 9,
            histograms: 1,
            ..Sent::default()
        };
        let floats_only = Sent {
            samples: 9,
            ..Sent::default()
        };
        let m = rejection_message(&floats_only, &o, &BTreeMap::new());
        assert_eq!(
            m,
            "stored 8 of 9 samples; rejected 2: too_old 2 (first: sample too old)"
        );
        let m = rejection_message(&sent, &o, &refused);
        assert_eq!(
            m,
            "stored 8 of 11 samples and histograms; rejected 3: too_old 2 (first: sample too old); invalid_histogram 1 (first: timeseries[3]: bad hint)"
        );
    }

    #[test]
    fn duplicates_count_as_written() {
        let o = WriteOutcome {
            accepted: 3,
            accepted_histograms: 1,
            duplicates: 2,
            ..WriteOutcome::default()
        };
        let mut w = Written::default();
        let both = Sent {
            samples: 3,
            histograms: 2,
            ..Sent::default()
        };
        w.samples(&o, &both);
        assert_eq!((w.samples, w.histograms), (4, 1));
        let only_histograms = Sent {
            histograms: 3,
            ..Sent::default()
        };
        w.samples(&o, &only_histograms);
        assert_eq!((w.samples, w.histograms), (2, 3));
        let mut h = HeaderMap::new();
        w.set_headers(&mut h);
        assert_eq!(h["x-prometheus-remote-write-histograms-written"], "3");
    }
}
