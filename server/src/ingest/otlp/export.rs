//! What an OTLP export does once its body is read, the same over HTTP ([`super::http`]) and
//! gRPC ([`super::grpc`]): translate, write into the engine, count what was refused, and
//! answer with `partial_success`. Items over the tenant's ingest rate fail the request as
//! retryable (429 with Retry-After / UNAVAILABLE with `RetryInfo`); other rejections, and
//! for spans and logs the truncations the attribute caps made, are reported in
//! `partial_success`.

use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use prost::bytes::Bytes;
use strata_engine::{
    ExemplarOutcome, LogRecord, MetadataOutcome, RejectReason, SignalOutcome, SignalReject,
    SpanRecord, TenantId, WriteOutcome,
};

use super::metrics::fast as metrics_fast;
use super::metrics::response::{with_exemplars, with_metadata};
use super::request_items;
use super::{
    Batch, Encoding, PartialSuccess, SignalKind, Translated, decode_metrics, partial_success,
    signal_partial_success, translate_metrics,
};
use crate::http::error::{ApiError, RETRY_AFTER_SECS};
use crate::relabel;
use crate::runtime::inflight::request_cost;
use crate::runtime::ingest_handle::{Ingest, cpu_work};
use crate::runtime::self_metrics::Signal;

/// Counted as the rejection reason of OTLP points the Prometheus mapping cannot store.
const UNMAPPED: &str = "otlp_unmapped";

/// The ingest memory budget's estimate ([`request_cost`]) of an uncompressed OTLP body
/// (`wire` bytes as received): its records along `path` are counted from the protobuf
/// framing (a JSON body is estimated from its size alone).
pub(super) fn cost(plain: &[u8], wire: usize, enc: Encoding, path: request_items::Path) -> u64 {
    let records = match enc {
        Encoding::Protobuf => request_items::protobuf_records(plain, path).unwrap_or(0),
        Encoding::Json => 0,
    };
    let compressed = wire != plain.len();
    request_cost(wire as u64, plain.len() as u64, compressed, records as u64)
}

/// Maps, writes and answers one metrics export; shared by HTTP and gRPC.
///
/// When the tenant's ingest rate refused any sample, the whole request fails as retryable
/// (429 with Retry-After over HTTP, `UNAVAILABLE` with `RetryInfo` over gRPC) instead of
/// reporting those samples in `partial_success`, which OTLP clients must not retry. A retry
/// is harmless: the samples that were stored are stored again as duplicates.
pub(super) async fn export_metrics(
    ingest: &Ingest,
    tenant: &TenantId,
    req: &ExportMetricsServiceRequest,
) -> Result<ExportMetricsServiceResponse, ApiError> {
    let mut translated = translate_metrics(req, &options(ingest));
    ingest.metrics().record_rejected(
        tenant,
        Signal::Metrics,
        UNMAPPED,
        translated.rejected_points,
    );
    if ingest.otlp_settings().delta_to_cumulative {
        cumulate(ingest, tenant, &mut translated);
    }
    let series = std::mem::take(&mut translated.series);
    let mut outcome = if series.is_empty() {
        WriteOutcome::default()
    } else {
        ingest.write_metrics(tenant, series).await?
    };
    let histograms = std::mem::take(&mut translated.histograms);
    if !histograms.is_empty() {
        let h = ingest.write_metric_histograms(tenant, histograms).await?;
        outcome.accepted += h.accepted;
        outcome.accepted_histograms += h.accepted_histograms;
        outcome.duplicates += h.duplicates;
        for (reason, n) in h.rejected {
            *outcome.rejected.entry(reason).or_default() += n;
        }
        for (reason, m) in h.messages {
            outcome.messages.entry(reason).or_insert(m);
        }
    }
    let extras = write_extras(ingest, tenant, &mut translated, &outcome).await?;
    metrics_answer(&translated, &outcome, &extras)
}

/// The translation options of the server's `[otlp]` settings.
fn options(ingest: &Ingest) -> super::TranslateOptions {
    let s = ingest.otlp_settings();
    super::TranslateOptions {
        convert_histograms_to_nhcb: s.convert_histograms_to_nhcb,
        delta_to_cumulative: s.delta_to_cumulative,
        ..Default::default()
    }
}

/// Makes the delta series of `translated` cumulative (`[otlp] delta_to_cumulative`):
/// converted samples counted, dropped ones counted by reason and reported as refused.
fn cumulate(ingest: &Ingest, tenant: &TenantId, translated: &mut Translated) {
    let Some(totals) = ingest.state::<super::delta::DeltaState>() else {
        return;
    };
    let c = totals.accumulate(tenant, translated);
    let m = ingest.metrics();
    m.record_delta_converted(tenant, c.converted);
    m.record_rejected(
        tenant,
        Signal::Metrics,
        "delta_out_of_order",
        c.out_of_order,
    );
    m.record_rejected(tenant, Signal::Metrics, "delta_streams_limit", c.over_limit);
    let dropped = c.out_of_order + c.over_limit;
    if dropped > 0 {
        translated.rejected_points += dropped;
        translated.errors.push(format!(
            "{dropped} delta samples not stored: {} not after their series' last point, {} past the limit of {} delta series",
            c.out_of_order,
            c.over_limit,
            super::delta::MAX_STREAMS
        ));
    }
}

/// Writes the exemplars, then the metric metadata, of a translated request after its
/// samples (not when the rate limit refused samples: the request fails as retryable and
/// comes again).
async fn write_extras(
    ingest: &Ingest,
    tenant: &TenantId,
    translated: &mut Translated,
    outcome: &WriteOutcome,
) -> Result<(ExemplarOutcome, MetadataOutcome), ApiError> {
    let exemplars = std::mem::take(&mut translated.exemplars);
    let metadata = std::mem::take(&mut translated.metadata);
    if outcome.rejected.contains_key(&RejectReason::RateLimited) {
        return Ok(Default::default());
    }
    let exemplars = ingest.write_exemplars(tenant, exemplars).await?;
    Ok((exemplars, ingest.write_metadata(tenant, metadata).await?))
}

/// [`export_metrics`] for a protobuf body: the fast path ([`metrics_fast`]) when it takes
/// the request, else the body decoded with prost and [`export_metrics`]. Both store and
/// answer the same.
pub(super) async fn export_metrics_protobuf(
    ingest: &Ingest,
    tenant: &TenantId,
    body: Bytes,
) -> Result<ExportMetricsServiceResponse, ApiError> {
    request_items::check(&body, false, request_items::POINTS, "data points")?;
    // Delta points are made cumulative before they are written: the general path.
    let fast_path = !ingest.otlp_settings().delta_to_cumulative;
    if let Ok(engine) = ingest.engine()
        && fast_path
    {
        let t = tenant.clone();
        let body2 = body.clone();
        let relabeling = ingest.relabeling();
        let opts = options(ingest);
        let fast = cpu_work(body.len(), move || {
            let fast = metrics_fast::translate(&body2, &opts, |keys| {
                engine
                    .known_series(&t, keys)
                    .unwrap_or_else(|_| vec![None; keys.len()])
            })?;
            // `[relabel]` rules rewrite (or drop) the series before the engine sees them.
            let rules = relabeling.as_ref().map(|r| &r.for_tenant(&t).metrics);
            let (result, dropped) = match rules {
                Some(rules) if !rules.is_empty() && !fast.is_empty() => fast.with_series(|s| {
                    relabel::keyed(rules, s, |kept| engine.submit_keyed(&t, kept))
                }),
                _ => (
                    (!fast.is_empty()).then(|| fast.with_series(|s| engine.submit_keyed(&t, s))),
                    Vec::new(),
                ),
            };
            Some((fast.translated, result, dropped))
        })
        .await?;
        if let Some((mut translated, result, dropped)) = fast {
            ingest.count_relabeled(tenant, Signal::Metrics, &dropped);
            ingest.metrics().record_rejected(
                tenant,
                Signal::Metrics,
                UNMAPPED,
                translated.rejected_points,
            );
            let outcome = match result {
                None => WriteOutcome::default(),
                Some(result) => {
                    ingest
                        .finish_pending(tenant, Signal::Metrics, result)
                        .await?
                }
            };
            let extras = write_extras(ingest, tenant, &mut translated, &outcome).await?;
            return metrics_answer(&translated, &outcome, &extras);
        }
    }
    let req = decode_metrics(&body, Encoding::Protobuf)?;
    drop(body);
    export_metrics(ingest, tenant, &req).await
}

/// The answer to a metrics export once written: `partial_success`, or retryable when the
/// tenant's ingest rate refused any sample (see [`export_metrics`]).
fn metrics_answer(
    translated: &Translated,
    outcome: &WriteOutcome,
    (exemplars, metadata): &(ExemplarOutcome, MetadataOutcome),
) -> Result<ExportMetricsServiceResponse, ApiError> {
    let resp = with_metadata(
        with_exemplars(partial_success(translated, outcome), exemplars),
        metadata,
    );
    if outcome.rejected.contains_key(&RejectReason::RateLimited) {
        let detail = resp
            .partial_success
            .map(|p| p.error_message)
            .unwrap_or_default();
        let submitted = outcome.rejected_total() + outcome.accepted + outcome.duplicates;
        return Err(rate_limited(
            "samples",
            outcome.rejected_total(),
            submitted,
            &detail,
        ));
    }
    Ok(resp)
}

/// The retryable answer to a write the tenant's ingest rate refused in part: 429 with
/// Retry-After over HTTP, `UNAVAILABLE` with `RetryInfo` over gRPC, instead of reporting
/// the refused items in `partial_success`, which OTLP clients must not retry. `detail` is
/// the `partial_success` message the request would have had.
fn rate_limited(unit: &str, refused: u64, submitted: u64, detail: &str) -> ApiError {
    ApiError::RateLimited {
        message: format!(
            "over the tenant's ingest rate, retry the request: {refused} of {submitted} {unit} \
             were not stored ({detail})"
        ),
        retry_after: RETRY_AFTER_SECS,
    }
}

/// Translates, writes and answers one traces export; shared by HTTP and gRPC. Over the
/// rate, the request fails as retryable, as for metrics; a retry stores the spans that
/// were stored again (spans are not deduplicated).
pub(super) async fn export_traces(
    ingest: &Ingest,
    tenant: &TenantId,
    mut batch: Batch<SpanRecord>,
) -> Result<Option<PartialSuccess>, ApiError> {
    count_refused(ingest, tenant, Signal::Traces, &batch);
    let records = std::mem::take(&mut batch.records);
    let engine = if records.is_empty() {
        SignalOutcome::default()
    } else {
        ingest.write_spans(tenant, records).await?
    };
    answer(SignalKind::Traces, &batch, engine)
}

/// [`export_traces`] for log records.
pub(super) async fn export_logs(
    ingest: &Ingest,
    tenant: &TenantId,
    mut batch: Batch<LogRecord>,
) -> Result<Option<PartialSuccess>, ApiError> {
    count_refused(ingest, tenant, Signal::Logs, &batch);
    let records = std::mem::take(&mut batch.records);
    let engine = if records.is_empty() {
        SignalOutcome::default()
    } else {
        ingest.write_logs(tenant, records).await?
    };
    answer(SignalKind::Logs, &batch, engine)
}

/// Counts what translation refused in the self-metrics (the engine's outcome is counted by
/// the write).
fn count_refused<R>(ingest: &Ingest, tenant: &TenantId, signal: Signal, batch: &Batch<R>) {
    for (reason, n) in &batch.rejected.rejected {
        ingest
            .metrics()
            .record_rejected(tenant, signal, reason.as_str(), *n);
    }
}

/// The `partial_success` of a spans or logs export, or the retryable error when the rate
/// refused any record.
fn answer<R>(
    kind: SignalKind,
    batch: &Batch<R>,
    engine: SignalOutcome,
) -> Result<Option<PartialSuccess>, ApiError> {
    let outcome = batch.outcome(engine);
    let partial = signal_partial_success(kind, &outcome, batch.empty_values);
    if outcome.rejected.contains_key(&SignalReject::RateLimited) {
        let detail = partial.map(|p| p.message).unwrap_or_default();
        let refused = outcome.rejected_total();
        return Err(rate_limited(
            kind.unit(),
            refused,
            refused + outcome.accepted,
            &detail,
        ));
    }
    Ok(partial)
}
