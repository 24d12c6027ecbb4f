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

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::Arc;

use strata_engine::{
    Engine, ExemplarOutcome, ExemplarReject, FamilyMetadata, MetadataOutcome, PendingWrite,
    RejectReason, SeriesExemplars, TenantId, WriteOutcome,
};

pub use crate::ingest::protobuf::WireError;
pub use answer::{Proto, negotiate};
use answer::{Sent, Written, rejection_message};
pub use decode::{Batch, Decoded, Refused, declared_len, decode, decode_protobuf, decompress};
pub(crate) use decode::{snappy_block, snappy_len};

use crate::auth::WriteTenant;
use crate::http::error::{ApiError, RETRY_AFTER_SECS};
use crate::relabel::{self, Relabeling, RuleCounts};
use crate::runtime::inflight::request_cost;
use crate::runtime::ingest_handle::{Ingest, cpu_work};
use crate::runtime::self_metrics::Signal;

/// The handler of `POST /api/v1/write`, both versions.
pub(crate) async fn write(
    State(ingest): State<Ingest>,
    WriteTenant(tenant): WriteTenant,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let proto = match negotiate(&headers) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let mut written = Written::default();
    let mut resp = match store(&ingest, &tenant, proto, &headers, body, &mut written).await {
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
    ingest: &Ingest,
    tenant: &TenantId,
    proto: Proto,
    headers: &HeaderMap,
    body: Body,
    written: &mut Written,
) -> Result<(), ApiError> {
    // Admitted into the ingest memory budget on its declared length before it is read,
    // then on its real estimate below.
    let (body, mut permit) = ingest.read_ingest_body(headers, body, true).await?;
    let max = ingest.max_body_bytes();
    let engine = ingest.engine();
    let relabeling = ingest.relabeling();
    let t = tenant.clone();
    // Decompress, decode and place (the labels borrowed from the decompressed buffer
    // throughout), then await the WAL's acknowledgement without holding a thread.
    // A malformed header (400) or one declaring over `max` (413) is refused here, before
    // the budget is asked for the buffer.
    let size = declared_len(&body, max)?;
    // The compressed body, its decompressed copy (as declared: `decompress` allocates
    // exactly that) and what it decodes to, held against the ingest memory budget until
    // the answer; waited for holding none of it, as an inflated OTLP body is.
    ingest
        .resize_requeued(
            &mut permit,
            request_cost(body.len() as u64, size as u64, true, 0),
        )
        .await?;
    let s = cpu_work(size, move || {
        submit(body, max, proto, engine, relabeling.as_deref(), &t)
    })
    .await??;
    let outcome =
        finish_samples(ingest, tenant, s.submitted, &s.refused, &s.dropped, &s.sent).await?;
    written.samples(&outcome, &s.sent);
    // Exemplars after their samples: a refused exemplar never refuses its sample.
    let (ex_outcome, ex_sent, ex_duplicates) =
        store_exemplars(ingest, tenant, s.exemplars, s.exemplars_refused).await?;
    written.exemplars = ex_outcome.accepted + ex_duplicates;
    // Metadata last: a refused entry never refuses a sample or an exemplar.
    let mut meta_outcome = s.metadata_refused;
    ingest.metrics().record_metadata(tenant, &meta_outcome);
    meta_outcome.merge(ingest.write_metadata(tenant, s.metadata).await?);
    refusals(
        &s.sent,
        &outcome,
        &s.refused,
        &ex_outcome,
        ex_sent,
        &meta_outcome,
    )
}

/// The samples' write, waiting for the WAL ([`Ingest::finish_pending`]).
type Pending = Result<strata_engine::Result<PendingWrite<WriteOutcome>>, ApiError>;

/// What the CPU-bound part of a write ([`submit`]) made of a body.
struct Submitted {
    sent: Sent,
    /// Samples refused while decoding, by self-metrics reason.
    refused: BTreeMap<&'static str, Refused>,
    /// The samples' write; none when there was nothing to store.
    submitted: Option<Pending>,
    /// What the `[relabel]` rules dropped, by rule.
    dropped: RuleCounts,
    exemplars: Vec<SeriesExemplars>,
    exemplars_refused: ExemplarOutcome,
    metadata: Vec<FamilyMetadata>,
    metadata_refused: MetadataOutcome,
}

/// Decompresses and decodes `body`, rewrites its series by the `[relabel]` rules and
/// submits them to the engine; exemplars and metadata are set aside for after the samples.
fn submit(
    body: Bytes,
    max: u64,
    proto: Proto,
    engine: Result<Arc<Engine>, ApiError>,
    relabeling: Option<&Relabeling>,
    t: &TenantId,
) -> Result<Submitted, ApiError> {
    let raw = decompress(&body, max)?;
    drop(body);
    // Labels are decoded only for series the engine does not know by their raw bytes.
    let known = |keys: &[&[u8]]| match &engine {
        Ok(e) => e
            .known_series(t, keys)
            .unwrap_or_else(|_| vec![None; keys.len()]),
        Err(_) => vec![None; keys.len()],
    };
    // 2.0 looks series up by their symbols first: no key is built for known series.
    let by_symbols = |strings: &[&str], series: &[&[u32]]| match &engine {
        Ok(e) => e
            .known_series_symbols(t, strings, series)
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
    let exemplars = std::mem::take(&mut batch.exemplars);
    let exemplars_refused = std::mem::take(&mut batch.exemplars_refused);
    let metadata = std::mem::take(&mut batch.metadata);
    let metadata_refused = std::mem::take(&mut batch.metadata_refused);
    let series = batch.series();
    // `[relabel]` rules rewrite (or drop) the series before the engine sees them.
    let rules = relabeling.map(|r| &r.for_tenant(t).metrics);
    let (submitted, dropped) = match (&engine, rules) {
        (Ok(e), Some(rules)) if !rules.is_empty() => {
            let (result, dropped) = relabel::keyed(rules, &series, |s| e.submit_keyed(t, s));
            (result.map(Ok), dropped)
        }
        // Not ready (503) only matters when there is something to store.
        _ => (
            (!series.is_empty()).then(|| engine.map(|e| e.submit_keyed(t, &series))),
            Vec::new(),
        ),
    };
    let sent = Sent {
        samples: batch.samples(),
        histograms: batch.histogram_count(),
        start_timestamps: batch.start_timestamps,
    };
    let refused = std::mem::take(&mut batch.refused);
    Ok(Submitted {
        sent,
        refused,
        submitted,
        dropped,
        exemplars,
        exemplars_refused,
        metadata,
        metadata_refused,
    })
}

/// Counts what the rules dropped and decoding refused, waits for the samples' write and
/// counts its outcome.
async fn finish_samples(
    ingest: &Ingest,
    tenant: &TenantId,
    submitted: Option<Pending>,
    refused: &BTreeMap<&'static str, Refused>,
    dropped: &RuleCounts,
    sent: &Sent,
) -> Result<WriteOutcome, ApiError> {
    ingest.count_relabeled(tenant, Signal::Metrics, dropped);
    for (reason, r) in refused {
        ingest
            .metrics()
            .record_rejected(tenant, Signal::Metrics, reason, r.count);
    }
    let outcome = match submitted {
        None => WriteOutcome::default(),
        Some(result) => {
            ingest
                .finish_pending(tenant, Signal::Metrics, result?)
                .await?
        }
    };
    ingest
        .metrics()
        .record_write(tenant, Signal::Metrics, &sent.starts(&outcome));
    Ok(outcome)
}

/// Stores the exemplars and adds those refused while decoding to the outcome. Returns the
/// outcome (duplicates taken out), how many exemplars the request held, and how many were
/// duplicates of exemplars already stored.
async fn store_exemplars(
    ingest: &Ingest,
    tenant: &TenantId,
    exemplars: Vec<SeriesExemplars>,
    ex_refused: ExemplarOutcome,
) -> Result<(ExemplarOutcome, u64, u64), ApiError> {
    ingest.metrics().record_exemplars(tenant, &ex_refused);
    let ex_sent = exemplars
        .iter()
        .map(|s| s.exemplars.len() as u64)
        .sum::<u64>()
        + ex_refused.rejected_total();
    let mut ex_outcome = ingest.write_exemplars(tenant, exemplars).await?;
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
    Ok((ex_outcome, ex_sent, ex_duplicates))
}

/// The answer once everything is stored: `Ok` when nothing was refused, else a 429 when
/// the rate limit refused samples, a 400 otherwise, naming what was refused and why.
fn refusals(
    sent: &Sent,
    outcome: &WriteOutcome,
    refused: &BTreeMap<&'static str, Refused>,
    ex_outcome: &ExemplarOutcome,
    ex_sent: u64,
    meta_outcome: &MetadataOutcome,
) -> Result<(), ApiError> {
    let refused_total: u64 = refused.values().map(|r| r.count).sum();
    if outcome.rejected_total() == 0
        && refused_total == 0
        && ex_outcome.rejected_total() == 0
        && meta_outcome.rejected_total() == 0
    {
        return Ok(());
    }
    let mut message = rejection_message(sent, outcome, refused);
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
