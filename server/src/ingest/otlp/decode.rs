//! OTLP request bodies: decompression with an output limit, then protobuf or OTLP/JSON.
//!
//! JSON goes through opentelemetry-proto's `with-serde` types, which follow OTLP/JSON:
//! lowerCamelCase keys, trace and span ids as hex, 64-bit integers as strings or numbers,
//! enums as integers, unknown keys ignored, and (through [`json_nonfinite`]) the quoted
//! doubles `"NaN"`, `"Infinity"` and `"-Infinity"` wherever a double is expected.

use std::borrow::Cow;
use std::io::Read;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde::de::DeserializeOwned;

use super::error::OtlpError;
use super::json_nonfinite;
use super::request_items::{self, POINTS};

/// How a body (request or response) is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Encoding {
    /// Binary protobuf, `application/x-protobuf` (and OTLP/gRPC).
    Protobuf,
    /// OTLP/JSON, `application/json`.
    Json,
}

impl Encoding {
    /// The encoding for a `Content-Type` header value (parameters such as `charset` are
    /// ignored), or `None` when OTLP/HTTP does not define it (the server answers 415).
    pub(crate) fn from_content_type(content_type: &str) -> Option<Self> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if essence.eq_ignore_ascii_case("application/x-protobuf") {
            Some(Self::Protobuf)
        } else if essence.eq_ignore_ascii_case("application/json") {
            Some(Self::Json)
        } else {
            None
        }
    }

    /// The `Content-Type` of a response in this encoding.
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }
}

/// Read size while inflating: memory grows with the output, never with a declared size.
const CHUNK: usize = 64 * 1024;

/// The body with its `Content-Encoding` removed: `identity` (or no header) as it is, `gzip`
/// inflated. Fails with [`OtlpError::BodyTooLarge`] as soon as the output passes `max_len`
/// bytes, so a small gzip bomb costs at most `max_len` bytes of memory and the time to inflate
/// `max_len` bytes; the sizes the stream declares (the gzip trailer) are never trusted.
pub(crate) fn decompress<'a>(
    body: &'a [u8],
    content_encoding: Option<&str>,
    max_len: usize,
) -> Result<Cow<'a, [u8]>, OtlpError> {
    let encoding = content_encoding.map(str::trim).unwrap_or("");
    if encoding.is_empty() || encoding.eq_ignore_ascii_case("identity") {
        if body.len() > max_len {
            return Err(OtlpError::BodyTooLarge { limit: max_len });
        }
        return Ok(Cow::Borrowed(body));
    }
    if !(encoding.eq_ignore_ascii_case("gzip") || encoding.eq_ignore_ascii_case("x-gzip")) {
        return Err(OtlpError::UnsupportedContentEncoding {
            encoding: encoding.to_owned(),
        });
    }
    read_limited(flate2::read::MultiGzDecoder::new(body), max_len).map(Cow::Owned)
}

/// Everything `reader` yields, failing once that passes `max_len` bytes. Memory grows with
/// what was read (capacity never above `max_len`), not with any size the input declares.
fn read_limited(mut reader: impl Read, max_len: usize) -> Result<Vec<u8>, OtlpError> {
    let mut out: Vec<u8> = Vec::new();
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(OtlpError::Gzip { source }),
        };
        if out.len() + n > max_len {
            return Err(OtlpError::BodyTooLarge { limit: max_len });
        }
        if out.capacity() - out.len() < n {
            // Grow by doubling, but never past the limit.
            let want = (out.capacity() * 2).max(out.len() + n).min(max_len);
            out.reserve_exact(want - out.len());
        }
        out.extend_from_slice(&chunk[..n]);
    }
}

fn decode<T: Message + Default + DeserializeOwned>(
    body: &[u8],
    encoding: Encoding,
    signal: &'static str,
    restore: fn(&mut T, &json_nonfinite::Sentinels),
) -> Result<T, OtlpError> {
    let json_error = |source| OtlpError::Json { signal, source };
    match encoding {
        Encoding::Protobuf => {
            T::decode(body).map_err(|source| OtlpError::Protobuf { signal, source })
        }
        Encoding::Json => {
            // `"NaN"`/`"Infinity"` doubles: see `json_nonfinite`. A body that is not JSON
            // falls through to the plain decode, which reports it.
            if json_nonfinite::may_hold_nonfinite(body)
                && let Ok(Some((rewritten, sentinels))) = json_nonfinite::rewrite(body)
            {
                let mut req: T = serde_json::from_slice(&rewritten).map_err(json_error)?;
                restore(&mut req, &sentinels);
                return Ok(req);
            }
            serde_json::from_slice(body).map_err(json_error)
        }
    }
}

/// An `ExportMetricsServiceRequest` from a (decompressed) body.
pub(crate) fn decode_metrics(
    body: &[u8],
    encoding: Encoding,
) -> Result<ExportMetricsServiceRequest, OtlpError> {
    request_items::check(body, encoding == Encoding::Json, POINTS, "data points")?;
    let req: ExportMetricsServiceRequest =
        decode(body, encoding, "metrics", json_nonfinite::restore_metrics)?;
    if encoding == Encoding::Json {
        check_json_metric_data(body, &req)?;
    }
    Ok(req)
}

/// The metric types, as OTLP/JSON keys.
const DATA_KEYS: [&str; 5] = [
    "gauge",
    "sum",
    "histogram",
    "exponentialHistogram",
    "summary",
];

/// opentelemetry-proto decodes a metric whose `gauge`/`sum`/... object does not match the
/// schema as a metric without data (serde's flattened `Option` swallows the error). When a
/// decoded metric has no data, look at the JSON again: if it has one of those keys, the body
/// is malformed. Costs a second parse only for such bodies.
fn check_json_metric_data(body: &[u8], req: &ExportMetricsServiceRequest) -> Result<(), OtlpError> {
    let mut json: Option<serde_json::Value> = None;
    for (i, rm) in req.resource_metrics.iter().enumerate() {
        for (j, sm) in rm.scope_metrics.iter().enumerate() {
            for (k, metric) in sm.metrics.iter().enumerate() {
                if metric.data.is_some() {
                    continue;
                }
                if json.is_none() {
                    json =
                        Some(
                            serde_json::from_slice(body).map_err(|source| OtlpError::Json {
                                signal: "metrics",
                                source,
                            })?,
                        );
                }
                let Some(value) = &json else { continue };
                let m = &value["resourceMetrics"][i]["scopeMetrics"][j]["metrics"][k];
                if let Some(key) = DATA_KEYS.iter().find(|key| m.get(**key).is_some()) {
                    return Err(OtlpError::MalformedMetricData {
                        name: metric.name.clone(),
                        kind: key,
                    });
                }
            }
        }
    }
    Ok(())
}

/// An `ExportTraceServiceRequest` from a (decompressed) body.
pub(crate) fn decode_traces(
    body: &[u8],
    encoding: Encoding,
) -> Result<ExportTraceServiceRequest, OtlpError> {
    decode(body, encoding, "traces", json_nonfinite::restore_traces)
}

/// An `ExportLogsServiceRequest` from a (decompressed) body.
pub(crate) fn decode_logs_request(
    body: &[u8],
    encoding: Encoding,
) -> Result<ExportLogsServiceRequest, OtlpError> {
    decode(body, encoding, "logs", json_nonfinite::restore_logs)
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
