//! The ingest handle's writes: `[relabel]` rules, one engine write on a blocking thread or
//! an awaited acknowledgement, the outcome counted in the self-metrics and engine errors
//! mapped to answers (over capacity 503, read-only 403, failing 500).

use strata_engine::{
    Engine, Error as EngineError, LogRecord, PendingWrite, SeriesSamples, SignalOutcome,
    SpanRecord, TenantId, WriteOutcome,
};

use super::{INLINE_WORK_MAX_BYTES, Ingest};
use crate::http::error::{ApiError, RETRY_AFTER_SECS};
use crate::relabel;
use crate::runtime::self_metrics::{Counts, Signal};

impl Ingest {
    /// Writes metric samples for `tenant` on a blocking thread (the write waits for the
    /// WAL's fsync), counts the outcome in the self-metrics, and maps engine errors:
    /// over capacity is 503, poisoned or failing is 500.
    pub(crate) async fn write_metrics(
        &self,
        tenant: &TenantId,
        mut batch: Vec<SeriesSamples>,
    ) -> Result<WriteOutcome, ApiError> {
        if !self.relabel_metrics(tenant, &mut batch) {
            return Ok(WriteOutcome::default());
        }
        self.write(tenant, Signal::Metrics, move |e, t| e.write(t, &batch))
            .await
    }

    /// The tenant's `[relabel]` metrics rules over `batch`, what they dropped counted;
    /// false when nothing is left to write.
    fn relabel_metrics(&self, tenant: &TenantId, batch: &mut Vec<SeriesSamples>) -> bool {
        if let Some(rules) = self.relabel(tenant) {
            let dropped = relabel::owned(&rules.metrics, batch);
            self.count_relabeled(tenant, Signal::Metrics, &dropped);
        }
        !batch.is_empty()
    }

    /// [`Ingest::write_metrics`] for history ([`Engine::backfill`]): samples however far
    /// behind their series' newest are placed (`/api/v1/import?backfill=true`).
    pub(crate) async fn write_metrics_history(
        &self,
        tenant: &TenantId,
        mut batch: Vec<SeriesSamples>,
    ) -> Result<WriteOutcome, ApiError> {
        if !self.relabel_metrics(tenant, &mut batch) {
            return Ok(WriteOutcome::default());
        }
        self.write(tenant, Signal::Metrics, move |e, t| e.backfill(t, &batch))
            .await
    }

    /// Writes native histogram samples for `tenant` as [`Ingest::write_metrics`] writes
    /// floats: `[relabel]` metrics rules first, then one engine write.
    pub(crate) async fn write_metric_histograms(
        &self,
        tenant: &TenantId,
        mut batch: Vec<strata_engine::SeriesHistograms>,
    ) -> Result<WriteOutcome, ApiError> {
        if let Some(rules) = self.relabel(tenant) {
            let dropped = relabel::owned_histograms(&rules.metrics, &mut batch);
            self.count_relabeled(tenant, Signal::Metrics, &dropped);
            if batch.is_empty() {
                return Ok(WriteOutcome::default());
            }
        }
        self.write(tenant, Signal::Metrics, move |e, t| {
            e.write_histograms(t, &batch)
        })
        .await
    }

    /// Writes exemplars for `tenant` (after their samples), counting the outcome in the
    /// self-metrics. The tenant's `[relabel]` metrics rules rewrite their series' labels as
    /// they do the samples' (an exemplar of a dropped series goes with it). Engine errors
    /// map as for samples.
    pub(crate) async fn write_exemplars(
        &self,
        tenant: &TenantId,
        mut batch: Vec<strata_engine::SeriesExemplars>,
    ) -> Result<strata_engine::ExemplarOutcome, ApiError> {
        if let Some(rules) = self.relabel(tenant) {
            batch.retain_mut(|s| {
                matches!(rules.metrics.apply(&mut s.series), relabel::Outcome::Kept)
            });
        }
        if batch.iter().all(|s| s.exemplars.is_empty()) {
            return Ok(strata_engine::ExemplarOutcome::default());
        }
        let engine = self.engine()?;
        let t = tenant.clone();
        let result = tokio::task::spawn_blocking(move || engine.write_exemplars(&t, &batch))
            .await
            .map_err(|e| ApiError::Internal(format!("write task failed: {e}")))?;
        match result {
            Ok(outcome) => {
                self.0.metrics.record_exemplars(tenant, &outcome);
                Ok(outcome)
            }
            Err(e) => self
                .finish_write::<WriteOutcome>(tenant, Signal::Metrics, Err(e))
                .map(|_| strata_engine::ExemplarOutcome::default()),
        }
    }

    /// Writes metric metadata for `tenant` (remote-write, OTLP), counting what the
    /// engine stored and refused (`strata_metadata_*_total`). Decoders' refusals are
    /// counted by the caller ([`crate::runtime::self_metrics::Metrics::record_metadata`]).
    pub(crate) async fn write_metadata(
        &self,
        tenant: &TenantId,
        entries: Vec<strata_engine::FamilyMetadata>,
    ) -> Result<strata_engine::MetadataOutcome, ApiError> {
        if entries.is_empty() {
            return Ok(strata_engine::MetadataOutcome::default());
        }
        let engine = self.engine()?;
        let t = tenant.clone();
        let result = tokio::task::spawn_blocking(move || engine.write_metadata(&t, &entries))
            .await
            .map_err(|e| ApiError::Internal(format!("write task failed: {e}")))?;
        match result {
            Ok(outcome) => {
                self.0.metrics.record_metadata(tenant, &outcome);
                Ok(outcome)
            }
            Err(e) => self
                .finish_write::<WriteOutcome>(tenant, Signal::Metrics, Err(e))
                .map(|_| strata_engine::MetadataOutcome::default()),
        }
    }

    /// Writes spans for `tenant`, as [`Ingest::write_metrics`] does samples.
    pub(crate) async fn write_spans(
        &self,
        tenant: &TenantId,
        mut spans: Vec<SpanRecord>,
    ) -> Result<SignalOutcome, ApiError> {
        if let Some(rules) = self.relabel(tenant) {
            let changed = relabel::spans(&rules.traces, &mut spans);
            self.count_relabeled(tenant, Signal::Traces, &changed);
        }
        let Some(mut batch) = self.0.derive.get().and_then(|d| d.batch(tenant)) else {
            return self
                .write(tenant, Signal::Traces, move |e, t| {
                    e.write_spans_owned(t, spans)
                })
                .await;
        };
        // Derived data counts only what was stored: the batch sees the spans that passed
        // the checks and commits once the write is acknowledged.
        self.write(tenant, Signal::Traces, move |e, t| {
            let result = e.write_spans_observed(t, spans, |it| batch.observe(it));
            if let Ok(outcome) = &result {
                batch.commit(outcome.accepted);
            }
            result
        })
        .await
    }

    /// Writes log records for `tenant`, as [`Ingest::write_metrics`] does samples.
    pub(crate) async fn write_logs(
        &self,
        tenant: &TenantId,
        mut logs: Vec<LogRecord>,
    ) -> Result<SignalOutcome, ApiError> {
        if let Some(rules) = self.relabel(tenant) {
            let changed = relabel::logs(&rules.logs, &mut logs);
            self.count_relabeled(tenant, Signal::Logs, &changed);
        }
        self.write(tenant, Signal::Logs, move |e, t| {
            e.write_logs_owned(t, logs)
        })
        .await
    }

    async fn write<O: Counts + Send + 'static>(
        &self,
        tenant: &TenantId,
        signal: Signal,
        write: impl FnOnce(&Engine, &TenantId) -> strata_engine::Result<O> + Send + 'static,
    ) -> Result<O, ApiError> {
        let engine = self.engine()?;
        let t = tenant.clone();
        let result = tokio::task::spawn_blocking(move || write(&engine, &t))
            .await
            .map_err(|e| ApiError::Internal(format!("write task failed: {e}")))?;
        self.finish_write(tenant, signal, result)
    }

    /// Awaits a submitted write's acknowledgement without holding a thread, then
    /// [`Ingest::finish_write`].
    pub(crate) async fn finish_pending<O: Counts>(
        &self,
        tenant: &TenantId,
        signal: Signal,
        submitted: strata_engine::Result<PendingWrite<O>>,
    ) -> Result<O, ApiError> {
        let result = match submitted {
            Ok(pending) => pending.acked().await,
            Err(e) => Err(e),
        };
        self.finish_write(tenant, signal, result)
    }

    /// Counts a write's outcome in the self-metrics and maps engine errors: over capacity is
    /// 503, poisoned or failing is 500.
    pub(crate) fn finish_write<O: Counts>(
        &self,
        tenant: &TenantId,
        signal: Signal,
        result: strata_engine::Result<O>,
    ) -> Result<O, ApiError> {
        match result {
            Ok(outcome) => {
                self.0.metrics.record_write(tenant, signal, &outcome);
                Ok(outcome)
            }
            Err(e @ EngineError::OverCapacity { .. }) => Err(ApiError::Unavailable {
                message: e.to_string(),
                retry_after: RETRY_AFTER_SECS,
            }),
            // Not retryable here: a query process never takes writes.
            Err(e @ EngineError::ReadOnly) => Err(ApiError::Forbidden(e.to_string())),
            Err(e) => {
                tracing::error!(tenant = %tenant, signal = signal.as_str(), error = %e, "write failed");
                Err(ApiError::Internal(format!("write failed: {e}")))
            }
        }
    }
}

/// Runs a write's CPU work (decode, translate, place, submit to the WAL; never a wait
/// for the WAL) for a payload of `bytes` bytes: on this async worker when the payload
/// is at most [`INLINE_WORK_MAX_BYTES`], on the blocking pool otherwise.
///
/// Inline saves two thread handovers per request, which at two client connections on
/// two cores was 4-11% of the OTLP ingest rate (docs/benchmarks-history.md). The cost: a worker
/// is busy for the request's millisecond or two, and waits with the writer if a flush
/// cut holds the head's locks. Larger payloads would hold a worker for longer than
/// other tasks should wait, so they go to the blocking pool.
pub(crate) async fn cpu_work<T: Send + 'static>(
    bytes: usize,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    if bytes <= INLINE_WORK_MAX_BYTES {
        return Ok(work());
    }
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("write task failed: {e}")))
}
