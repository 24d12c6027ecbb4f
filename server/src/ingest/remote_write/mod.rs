//! Prometheus remote-write (`POST /api/v1/write`): snappy block format around a protobuf
//! `prometheus.WriteRequest` (1.0) or `io.prometheus.write.v2.Request` (2.0, [`v2`]), chosen
//! by the Content-Type's `proto` parameter ([`negotiate`]). Float samples and native
//! histograms of a request go to the engine in one write.
//!
//! Answers: 204 when every sample was stored (identical re-sends count as stored); 400 with
//! counts and reasons when some were rejected (the valid ones are stored, so a client must
//! not retry); 429 with Retry-After when the tenant's rate limit refused samples (a retry
//! is harmless: what was stored is deduplicated); 503 with Retry-After when the engine is
//! over capacity or not ready, or the ingest memory budget stays full
//! ([`crate::runtime::inflight`]); 413/415/400 for oversized, mistyped or malformed bodies.
//! Exemplars (`TimeSeries.exemplars`) are stored after the samples; any refused exemplar
//! (out of order, duplicate, bad trace id, ...) makes the answer a 400 naming them, its
//! sample stored all the same (`docs/exemplars.md`). Metric metadata (1.0's
//! `WriteRequest.metadata`, 2.0's per-series `metadata`) is stored last; a refused entry
//! makes the answer a 400 naming it, everything else stored. A 2.0 answer carries the
//! `X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written` headers (zeros on 429
//! and 503), as Prometheus's receiver does.

mod answer;
mod decode;
mod histogram;
pub mod proto;
pub mod v2;
pub(crate) mod wire;

use std::fmt::Write as _;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use strata_engine::{ExemplarReject, RejectReason, WriteOutcome};

pub use crate::ingest::protobuf::WireError;
pub use answer::{Proto, negotiate};
use answer::{Sent, Written, rejection_message};
pub use decode::{Batch, Decoded, Refused, declared_len, decode, decode_protobuf, decompress};
pub(crate) use decode::{snappy_block, snappy_len};

use crate::auth::WriteTenant;
use crate::http::error::{ApiError, RETRY_AFTER_SECS};
use crate::relabel;
use crate::runtime::inflight::request_cost;
use crate::runtime::self_metrics::Signal;
use crate::runtime::state::AppState;

/// The handler of `POST /api/v1/write`, both versions.
pub async fn write(
    State(state): State<AppState>,
    WriteTenant(tenant): WriteTenant,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let proto = match negotiate(&headers) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let mut written = Written::default();
    let mut resp = match store(&state, &tenant, proto, &headers, body, &mut written).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    };
    if proto == Proto::V2 {
        if matches!(
            resp.status(),
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            written = Written::default();
        }
        written.set_headers(resp.headers_mut());
    }
    resp
}

/// Decodes, stores and answers a request; `written` says what was stored, for 2.0's headers.
async fn store(
    state: &AppState,
    tenant: &strata_engine::TenantId,
    proto: Proto,
    headers: &HeaderMap,
    body: Body,
    written: &mut Written,
) -> Result<(), ApiError> {
    // Admitted into the ingest memory budget on its declared length before it is read,
    // then on its real estimate below.
    let (body, mut permit) = state.read_ingest_body(headers, body, true).await?;
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
    let (sent, refused, result, dropped, exemplars) = AppState::cpu_work(size, move || {
        let raw = decompress(&body, max)?;
        drop(body);
        // Labels are decoded only for series the engine does not know by their raw bytes.
        let known = |keys: &[&[u8]]| match &engine {
            Ok(e) => e
                .known_series(&t, keys)
                .unwrap_or_else(|_| vec![None; keys.len()]),
            Err(_) => vec![None; keys.len()],
        };
        // 2.0 looks series up by their symbols first: no key is built for known series.
        let by_symbols = |strings: &[&str], series: &[&[u32]]| match &engine {
            Ok(e) => e
                .known_series_symbols(&t, strings, series)
                .unwrap_or_else(|_| vec![None; series.len()]),
            Err(_) => vec![None; series.len()],
        };
        let mut v2;
        let mut batch = match proto {
            Proto::V1 => Batch::parse_known(&raw, known)?,
            Proto::V2 => {
                v2 = v2::Request::parse(&raw)?;
                v2.resolve(&by_symbols, &known);
                v2.batch()
            }
        };
        let exemplars = (
            std::mem::take(&mut batch.exemplars),
            std::mem::take(&mut batch.exemplars_refused),
            std::mem::take(&mut batch.metadata),
            std::mem::take(&mut batch.metadata_refused),
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
        let sent = Sent {
            samples: batch.samples(),
            histograms: batch.histogram_count(),
            start_timestamps: batch.start_timestamps,
        };
        let refused = std::mem::take(&mut batch.refused);
        Ok::<_, ApiError>((sent, refused, result, dropped, exemplars))
    })
    .await??;
    state.count_relabeled(tenant, Signal::Metrics, &dropped);
    for (reason, r) in &refused {
        state
            .metrics()
            .record_rejected(tenant, Signal::Metrics, reason, r.count);
    }
    let outcome = match result {
        None => WriteOutcome::default(),
        Some(result) => {
            state
                .finish_pending(tenant, Signal::Metrics, result?)
                .await?
        }
    };
    written.samples(&outcome, &sent);
    state
        .metrics()
        .record_write(tenant, Signal::Metrics, &sent.starts(&outcome));
    // Exemplars after their samples: a refused exemplar never refuses its sample.
    let (exemplars, ex_refused, metadata, mut meta_outcome) = exemplars;
    state.metrics().record_exemplars(tenant, &ex_refused);
    let ex_sent = exemplars
        .iter()
        .map(|s| s.exemplars.len() as u64)
        .sum::<u64>()
        + ex_refused.rejected_total();
    let mut ex_outcome = state.write_exemplars(tenant, exemplars).await?;
    for (reason, n) in &ex_refused.rejected {
        *ex_outcome.rejected.entry(*reason).or_default() += n;
        if let Some(m) = ex_refused.messages.get(reason) {
            ex_outcome
                .messages
                .entry(*reason)
                .or_insert_with(|| m.clone());
        }
    }
    // A duplicate of an exemplar already stored is what a sender's retry resends: counted
    // (self-metrics), but, as a duplicate sample, not an error to answer.
    let ex_duplicates = ex_outcome
        .rejected
        .remove(&ExemplarReject::Duplicate)
        .unwrap_or(0);
    ex_outcome.messages.remove(&ExemplarReject::Duplicate);
    written.exemplars = ex_outcome.accepted + ex_duplicates;
    // Metadata last: a refused entry never refuses a sample or an exemplar.
    state.metrics().record_metadata(tenant, &meta_outcome);
    meta_outcome.merge(state.write_metadata(tenant, metadata).await?);
    let refused_total: u64 = refused.values().map(|r| r.count).sum();
    if outcome.rejected_total() == 0
        && refused_total == 0
        && ex_outcome.rejected_total() == 0
        && meta_outcome.rejected_total() == 0
    {
        return Ok(());
    }
    let mut message = rejection_message(&sent, &outcome, &refused);
    if let Some(m) = ex_outcome.message() {
        let _ = write!(
            message,
            "; stored {} of {ex_sent} exemplars, {m}",
            ex_outcome.accepted
        );
    }
    if let Some(m) = meta_outcome.message() {
        let _ = write!(message, "; {m}");
    }
    if outcome.rejected.contains_key(&RejectReason::RateLimited) {
        return Err(ApiError::RateLimited {
            message,
            retry_after: RETRY_AFTER_SECS,
        });
    }
    Err(ApiError::BadRequest(message))
}
