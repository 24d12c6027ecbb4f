//! Prometheus remote-write 1.0 (`POST /api/v1/write`): snappy block format around a
//! protobuf `prometheus.WriteRequest`.
//!
//! Answers: 204 when every sample was stored (identical re-sends count as stored); 400 with
//! counts and reasons when some were rejected (the valid ones are stored, so a client must
//! not retry); 429 with Retry-After when the tenant's rate limit refused samples (a retry
//! is harmless: what was stored is deduplicated); 503 with Retry-After when the engine is
//! over capacity or not ready, or the ingest memory budget stays full
//! ([`crate::runtime::inflight`]); 413/415/400 for oversized, mistyped or malformed bodies.
//! Exemplars (`TimeSeries.exemplars`) are stored after the samples; any refused exemplar
//! (out of order, duplicate, bad trace id, ...) makes the answer a 400 naming them, its
//! sample stored all the same (`docs/exemplars.md`).

mod decode;
mod histogram;
pub mod proto;
pub mod v2;
pub(crate) mod wire;

use std::fmt::Write as _;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use strata_engine::{ExemplarReject, RejectReason, WriteOutcome};

pub use crate::ingest::protobuf::WireError;
pub use decode::{
    Batch, Decoded, Refused, SeriesHistograms, declared_len, decode, decode_protobuf, decompress,
};
pub(crate) use decode::{snappy_block, snappy_len};

use crate::auth::WriteTenant;
use crate::http::error::{ApiError, RETRY_AFTER_SECS};
use crate::relabel;
use crate::runtime::inflight::request_cost;
use crate::runtime::metrics::Signal;
use crate::runtime::state::AppState;

/// Self-metrics reason for native histogram samples.
pub const NATIVE_HISTOGRAM: &str = "native_histogram";

/// The handler of `POST /api/v1/write`.
pub async fn write(
    State(state): State<AppState>,
    WriteTenant(tenant): WriteTenant,
    headers: HeaderMap,
    body: Body,
) -> Result<StatusCode, ApiError> {
    check_headers(&headers)?;
    // Admitted into the ingest memory budget on its declared length before it is read,
    // then on its real estimate below.
    let (body, mut permit) = state.read_ingest_body(&headers, body, true).await?;
    let max = state.max_body_bytes();
    let engine = state.engine();
    let relabeling = state.relabeling();
    let t = tenant.clone();
    // Decompress, decode and place (the labels borrowed from the decompressed buffer
    // throughout), then await the WAL's acknowledgement without holding a thread.
    // A malformed header (400) or one declaring over `max` (413) is refused here, before
    // the budget is asked for the buffer.
    let size = declared_len(&body, max)?;
    // The compressed body, its decompressed copy (as declared: `decompress` allocates
    // exactly that) and what it decodes to, held against the ingest memory budget until
    // the answer; waited for holding none of it, as an inflated OTLP body is.
    state
        .resize_requeued(
            &mut permit,
            request_cost(body.len() as u64, size as u64, true, 0),
        )
        .await?;
    let (total, histograms, result, dropped, exemplars) = AppState::cpu_work(size, move || {
        let raw = decompress(&body, max)?;
        drop(body);
        // Labels are decoded only for series the engine does not know by their raw bytes.
        let mut batch = match &engine {
            Ok(e) => Batch::parse_known(&raw, |keys| {
                e.known_series(&t, keys)
                    .unwrap_or_else(|_| vec![None; keys.len()])
            })?,
            Err(_) => Batch::parse(&raw)?,
        };
        let exemplars = (
            std::mem::take(&mut batch.exemplars),
            std::mem::take(&mut batch.exemplars_refused),
        );
        let series = batch.series();
        // `[relabel]` rules rewrite (or drop) the series before the engine sees them.
        let rules = relabeling.as_ref().map(|r| &r.for_tenant(&t).metrics);
        let (result, dropped) = match (&engine, rules) {
            (Ok(e), Some(rules)) if !rules.is_empty() => {
                let (result, dropped) = relabel::keyed(rules, &series, |s| e.submit_keyed(&t, s));
                (result.map(Ok), dropped)
            }
            // Not ready (503) only matters when there is something to store.
            _ => (
                (!series.is_empty()).then(|| engine.map(|e| e.submit_keyed(&t, &series))),
                Vec::new(),
            ),
        };
        Ok::<_, ApiError>((
            batch.samples(),
            batch.histogram_count(),
            result,
            dropped,
            exemplars,
        ))
    })
    .await??;
    state.count_relabeled(&tenant, Signal::Metrics, &dropped);
    state
        .metrics()
        .record_rejected(&tenant, Signal::Metrics, NATIVE_HISTOGRAM, histograms);
    let outcome = match result {
        None => WriteOutcome::default(),
        Some(result) => {
            state
                .finish_pending(&tenant, Signal::Metrics, result?)
                .await?
        }
    };
    // Exemplars after their samples: a refused exemplar never refuses its sample.
    let (exemplars, refused) = exemplars;
    state.metrics().record_exemplars(&tenant, &refused);
    let sent = exemplars
        .iter()
        .map(|s| s.exemplars.len() as u64)
        .sum::<u64>()
        + refused.rejected_total();
    let mut ex_outcome = state.write_exemplars(&tenant, exemplars).await?;
    for (reason, n) in &refused.rejected {
        *ex_outcome.rejected.entry(*reason).or_default() += n;
        if let Some(m) = refused.messages.get(reason) {
            ex_outcome
                .messages
                .entry(*reason)
                .or_insert_with(|| m.clone());
        }
    }
    // A duplicate of an exemplar already stored is what a sender's retry resends: counted
    // (self-metrics), but, as a duplicate sample, not an error to answer.
    ex_outcome.rejected.remove(&ExemplarReject::Duplicate);
    ex_outcome.messages.remove(&ExemplarReject::Duplicate);
    if outcome.rejected_total() == 0 && histograms == 0 && ex_outcome.rejected_total() == 0 {
        return Ok(StatusCode::NO_CONTENT);
    }
    let mut message = rejection_message(total, histograms, &outcome);
    if let Some(m) = ex_outcome.message() {
        let _ = write!(
            message,
            "; stored {} of {sent} exemplars, {m}",
            ex_outcome.accepted
        );
    }
    if outcome.rejected.contains_key(&RejectReason::RateLimited) {
        return Err(ApiError::RateLimited {
            message,
            retry_after: RETRY_AFTER_SECS,
        });
    }
    Err(ApiError::BadRequest(message))
}

/// Remote-write 1.0 requires `Content-Type: application/x-protobuf` and
/// `Content-Encoding: snappy`.
fn check_headers(headers: &HeaderMap) -> Result<(), ApiError> {
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
    for p in parts {
        if let Some((k, v)) = p.split_once('=')
            && k.trim().eq_ignore_ascii_case("proto")
            && v.trim() != "prometheus.WriteRequest"
        {
            return Err(ApiError::UnsupportedMediaType(format!(
                "only remote-write 1.0 (proto=prometheus.WriteRequest) is supported, got proto={}",
                v.trim()
            )));
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
    Ok(())
}

/// "stored 8 of 10 samples; rejected 2: too_old 2 (first: ...)".
fn rejection_message(total: u64, histograms: u64, outcome: &WriteOutcome) -> String {
    let stored = outcome.accepted + outcome.duplicates;
    let rejected = outcome.rejected_total() + histograms;
    let mut m = format!(
        "stored {stored} of {} samples; rejected {rejected}:",
        total + histograms
    );
    for (reason, n) in &outcome.rejected {
        let _ = write!(m, " {reason} {n}");
        if let Some(first) = outcome.messages.get(reason) {
            let _ = write!(m, " (first: {first})");
        }
        m.push(';');
    }
    if histograms > 0 {
        let _ = write!(
            m,
            " {NATIVE_HISTOGRAM} {histograms} (native histograms are not supported; send classic histograms);"
        );
    }
    m.pop();
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

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
    fn content_type_and_encoding_are_checked() {
        assert!(check_headers(&headers("application/x-protobuf", "snappy")).is_ok());
        assert!(
            check_headers(&headers(
                "application/x-protobuf;proto=prometheus.WriteRequest",
                "snappy"
            ))
            .is_ok()
        );
        for (ct, enc, want) in [
            ("application/json", "snappy", "Content-Type"),
            (
                "application/x-protobuf;proto=io.prometheus.write.v2.Request",
                "snappy",
                "1.0",
            ),
            ("application/x-protobuf", "gzip", "Content-Encoding"),
        ] {
            let err = check_headers(&headers(ct, enc)).unwrap_err();
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
        let m = rejection_message(10, 3, &o);
        assert_eq!(
            m,
            "stored 8 of 13 samples; rejected 5: too_old 2 (first: sample too old); native_histogram 3 (native histograms are not supported; send classic histograms)"
        );
    }
}
