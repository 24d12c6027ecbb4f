//! [`AppState`]: what every handler shares: the engine (once recovery is done), auth, the
//! self-metrics and the request limits.
//!
//! An ingest handler is a small function over it. For example an OTLP/HTTP handler:
//! `async fn otlp_metrics(State(state): State<AppState>, WriteTenant(tenant): WriteTenant,
//! headers: HeaderMap, body: Body) -> Response` reads the body with
//! [`AppState::read_body`], decodes, and stores through [`AppState::write_metrics`]; a tonic
//! service holds an `AppState` and calls `state.auth().authorize(&metadata.into_headers(),
//! Scope::Write)`.

use std::sync::{Arc, PoisonError, RwLock};

use axum::body::{Body, Bytes};
use axum::extract::FromRef;
use axum::http::HeaderMap;
use http_body_util::BodyExt;
use strata_engine::{
    Engine, Error as EngineError, LogRecord, PendingWrite, SeriesSamples, SignalOutcome,
    SpanRecord, TenantId, WriteOutcome,
};
use strata_query::promql::QueryOptions;

use crate::auth::Auth;
use crate::config::{Config, SqlSettings};
use crate::http::error::{ApiError, RETRY_AFTER_SECS};
use crate::relabel::{self, Relabeling, RuleCounts, TenantRules};
use crate::runtime::inflight::{ADMIT_WAIT, Inflight, InflightPermit, declared_cost};
use crate::runtime::self_metrics::{Counts, Metrics, Signal};
use crate::runtime::span_hook::SpanDerive;

/// After refusing a body over the limit, how much more of it is read and discarded (so the
/// client, still sending, gets the 413 instead of a connection reset) and for how long.
const DRAIN_BYTES: u64 = 16 << 20;
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads and discards up to [`DRAIN_BYTES`] of `body` for at most [`DRAIN_TIME`].
async fn drain(mut body: Body) {
    let discard = async {
        let mut n = 0u64;
        while let Some(Ok(frame)) = body.frame().await {
            n += frame.data_ref().map_or(0, |d| d.len() as u64);
            if n > DRAIN_BYTES {
                return;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_TIME, discard).await;
}

/// How long an ingest request waits for a flush to make room in a full head before the
/// engine may refuse it (503).
pub(crate) const HEAD_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Payloads (uncompressed bytes) up to this size are decoded and written on the async
/// worker that received them (a few ms of CPU at most); larger ones on the blocking
/// pool. See [`AppState::cpu_work`].
pub(crate) const INLINE_WORK_MAX_BYTES: usize = 1 << 20;

/// Shared state of the HTTP and gRPC handlers; cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    auth: Auth,
    metrics: Metrics,
    max_body_bytes: u64,
    inflight: Inflight,
    sql: SqlSettings,
    promql: QueryOptions,
    logql: crate::config::LogqlSettings,
    tempo: crate::config::tempo::TempoSettings,
    engine: RwLock<Option<Arc<Engine>>>,
    relabel: std::sync::OnceLock<Arc<Relabeling>>,
    derive: std::sync::OnceLock<Arc<dyn SpanDerive>>,
    /// The last hour of ingest per tenant (`/api/v1/status/limits`).
    history: crate::runtime::history::History,
    /// Start time and the configuration view (`/api/v1/status/*`).
    info: crate::runtime::info::ProcessInfo,
    /// How many queries run at once (`server.max_concurrent_queries`).
    admission: crate::runtime::admission::Admission,
    /// The memory limit and its division (`crate::memory`).
    memory: crate::memory::MemoryPlan,
    /// The pool rule evaluations charge (`server.rules_memory_bytes`).
    rules_memory: strata_query::memory::QueryMemory,
    /// Memory pressure against the limit (`runtime/pressure.rs`).
    pressure: crate::runtime::pressure::Pressure,
}

impl AppState {
    /// State with no engine yet (the server is not ready until [`AppState::set_engine`]),
    /// with `config`'s request limits and SQL settings.
    pub fn new(auth: Auth, config: &Config) -> Self {
        let pressure = crate::runtime::pressure::Pressure::new(config.memory.limit);
        Self(Arc::new(Inner {
            auth,
            metrics: Metrics::default(),
            max_body_bytes: config.max_body_bytes,
            inflight: Inflight::new(config.max_inflight_bytes, ADMIT_WAIT)
                .with_pressure(pressure.clone()),
            sql: config.sql.clone(),
            promql: config.promql,
            logql: config.logql.clone(),
            tempo: config.tempo.clone(),
            engine: RwLock::new(None),
            relabel: std::sync::OnceLock::new(),
            derive: std::sync::OnceLock::new(),
            history: Default::default(),
            info: crate::runtime::info::ProcessInfo::new(config),
            admission: crate::runtime::admission::Admission::new(
                config.memory.max_concurrent_queries,
                config.query_queue_timeout,
                Some(pressure.clone()),
            ),
            memory: config.memory.clone(),
            rules_memory: config.rules_memory.clone(),
            pressure,
        }))
    }

    /// The query gate (`server.max_concurrent_queries`).
    pub(crate) fn admission(&self) -> &crate::runtime::admission::Admission {
        &self.0.admission
    }

    /// Memory pressure against the limit.
    pub(crate) fn pressure(&self) -> &crate::runtime::pressure::Pressure {
        &self.0.pressure
    }

    /// Starts the memory pressure watch (`runtime/pressure.rs`): past the limit it drops
    /// the page cache, the footer cache and the allocator's free memory.
    pub(crate) fn watch_pressure(&self) -> std::io::Result<()> {
        let state = self.clone();
        let pools = [self.query_memory().clone(), self.rules_memory().clone()];
        self.0.pressure.watch(
            move |level| {
                // Running queries fail at their next allocation from 110 %.
                for p in &pools {
                    p.set_closed(level >= crate::runtime::pressure::Level::Queries);
                }
            },
            move || {
                let mut freed = state.engine().map_or(0, |e| e.shed_page_cache());
                freed += strata_query::sql::shed_footer_cache() as u64;
                crate::runtime::allocator::release_memory();
                freed
            },
        )
    }

    /// The memory limit and its division.
    pub(crate) fn memory_plan(&self) -> &crate::memory::MemoryPlan {
        &self.0.memory
    }

    /// The query memory pool every query of every language charges.
    pub fn query_memory(&self) -> &strata_query::memory::QueryMemory {
        &self.0.sql.query.memory
    }

    /// The pool rule evaluations charge (`server.rules_memory_bytes`): rules do not wait
    /// for a query's turn, and queries cannot starve them.
    pub(crate) fn rules_memory(&self) -> &strata_query::memory::QueryMemory {
        &self.0.rules_memory
    }

    /// The last hour of ingest per tenant.
    pub(crate) fn history(&self) -> &crate::runtime::history::History {
        &self.0.history
    }

    /// Start time and the configuration view.
    pub(crate) fn info(&self) -> &crate::runtime::info::ProcessInfo {
        &self.0.info
    }

    /// Sets the ingest-time rules (`[relabel]`), once, before serving.
    pub fn set_relabeling(&self, rules: Arc<Relabeling>) {
        let _ = self.0.relabel.set(rules);
    }

    /// Sets what derives data from stored spans (RED metrics, service graph), once,
    /// before serving.
    pub(crate) fn set_span_derive(&self, derive: Arc<dyn SpanDerive>) {
        let _ = self.0.derive.set(derive);
    }

    /// Appends the span derivation's self-metrics to `out` (see [`SpanDerive::render`]).
    pub(crate) fn render_derived(&self, out: &mut String, only: Option<&TenantId>) {
        if let Some(d) = self.0.derive.get() {
            d.render(out, only);
        }
    }

    /// The ingest-time rules of every tenant, if any are configured (for work moved to
    /// another thread).
    pub fn relabeling(&self) -> Option<Arc<Relabeling>> {
        self.0.relabel.get().cloned()
    }

    /// `tenant`'s ingest-time rules, if any are configured.
    pub fn relabel(&self, tenant: &TenantId) -> Option<&TenantRules> {
        self.0.relabel.get().map(|r| r.for_tenant(tenant))
    }

    /// Counts what `tenant`'s rules for `signal` dropped or changed in one write.
    pub(crate) fn count_relabeled(&self, tenant: &TenantId, signal: Signal, counts: &RuleCounts) {
        if counts.is_empty() {
            return;
        }
        let Some(rules) = self.relabel(tenant) else {
            return;
        };
        let names = match signal {
            Signal::Metrics => rules.metrics.rule_names(),
            Signal::Traces => rules.traces.rule_names(),
            Signal::Logs => rules.logs.rule_names(),
        };
        for (rule, n) in counts {
            let name = names.get(*rule).map_or("?", String::as_str);
            self.metrics().record_relabel(tenant, signal, name, *n);
        }
    }

    /// The configured tokens.
    pub fn auth(&self) -> &Auth {
        &self.0.auth
    }

    /// The self-metrics registry.
    pub fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// `server.max_body_bytes`.
    pub fn max_body_bytes(&self) -> u64 {
        self.0.max_body_bytes
    }

    /// Admits an ingest request estimated to hold `cost` bytes into the ingest memory
    /// budget (`server.max_inflight_bytes`, [`crate::runtime::inflight`]): waits for room, or 503.
    ///
    /// While the engine's head is over `engine.max_head_bytes` (a flush is behind), the
    /// request first waits for the flush, up to [`HEAD_WAIT`]: back-pressure before the
    /// engine answers 503.
    pub(crate) async fn admit(&self, cost: u64) -> Result<InflightPermit, ApiError> {
        if let Ok(engine) = self.engine() {
            let deadline = tokio::time::Instant::now() + HEAD_WAIT;
            while !engine.head_has_room() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
        self.0.inflight.admit(cost).await
    }

    /// Sets an admitted request's share of the ingest memory budget to `cost` bytes
    /// ([`Inflight::resize`]): gives back what is over, waits for what is under, or 503.
    pub(crate) async fn resize(
        &self,
        permit: &mut InflightPermit,
        cost: u64,
    ) -> Result<(), ApiError> {
        self.0.inflight.resize(permit, cost).await
    }

    /// Sets an admitted request's share to `cost` bytes as [`AppState::resize`] does, but
    /// waits for more holding none of it ([`Inflight::resize_requeued`]): before
    /// allocating a buffer of that size.
    pub(crate) async fn resize_requeued(
        &self,
        permit: &mut InflightPermit,
        cost: u64,
    ) -> Result<(), ApiError> {
        self.0.inflight.resize_requeued(permit, cost).await
    }

    /// Reads an ingest request's body as [`AppState::read_body`] does, admitted into the
    /// ingest memory budget first, on its declared `Content-Length` ([`declared_cost`];
    /// `compressed` when the body has a Content-Encoding), so that bodies being read count
    /// against the budget. The caller sets the permit to the request's real estimate once
    /// the body is inflated ([`AppState::resize`]). A body without a declared length
    /// (chunked) starts with one unit and its share grows as it is read, to cover at least
    /// what it has read and at most about twice that ([`chunked_charge`]); a grow that finds no
    /// room waits as an admission does, and is answered 503 after the wait. One declared
    /// over `server.max_body_bytes` is refused at once, without waiting for budget.
    pub(crate) async fn read_ingest_body(
        &self,
        headers: &HeaderMap,
        body: Body,
        compressed: bool,
    ) -> Result<(Bytes, InflightPermit), ApiError> {
        let limit = self.max_body_bytes();
        let declared = content_length(headers);
        if let Some(len) = declared
            && len > limit
        {
            return Err(too_large(limit, Some(len)));
        }
        let mut permit = match self
            .admit(declared_cost(declared.unwrap_or(0), compressed))
            .await
        {
            Ok(p) => p,
            Err(e) => {
                // Refused before reading: read (a bounded part of) the body first, so the
                // client gets the 503 on a connection that stays open.
                drain(body).await;
                return Err(e);
            }
        };
        let chunked = declared.is_none().then_some((&mut permit, compressed));
        let body = self.read_limited(headers, body, chunked).await?;
        Ok((body, permit))
    }

    /// The ingest memory budget, for the self-metrics.
    pub(crate) fn inflight(&self) -> &Inflight {
        &self.0.inflight
    }

    /// The `[promql]` settings: how PromQL queries are evaluated.
    pub fn promql(&self) -> &QueryOptions {
        &self.0.promql
    }

    /// The `[sql]` settings: a query's memory budget and timeout, the largest result.
    pub fn sql(&self) -> &SqlSettings {
        &self.0.sql
    }

    /// The `[tempo]` settings: bounds of the Tempo API.
    pub fn tempo(&self) -> &crate::config::tempo::TempoSettings {
        &self.0.tempo
    }

    /// The `[logql]` settings: bounds on one LogQL query.
    pub fn logql(&self) -> &crate::config::LogqlSettings {
        &self.0.logql
    }

    /// Installs the opened engine: from now on the server is ready.
    pub fn set_engine(&self, engine: Arc<Engine>) {
        *self
            .0
            .engine
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(engine);
    }

    /// Takes the engine out (at shutdown); later requests get 503.
    pub fn take_engine(&self) -> Option<Arc<Engine>> {
        self.0
            .engine
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// The engine, or 503 while it is still recovering (or shutting down).
    pub fn engine(&self) -> Result<Arc<Engine>, ApiError> {
        self.0
            .engine
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .ok_or_else(|| ApiError::Unavailable {
                message:
                    "not ready: the engine is recovering its write-ahead log (or shutting down)"
                        .into(),
                retry_after: RETRY_AFTER_SECS,
            })
    }

    /// Whether the engine is open.
    pub fn is_ready(&self) -> bool {
        self.0
            .engine
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    }

    /// Reads a request body of at most `max_body_bytes` (413 beyond it, refused from the
    /// Content-Length before reading when the client declares one).
    pub async fn read_body(&self, headers: &HeaderMap, body: Body) -> Result<Bytes, ApiError> {
        self.read_limited(headers, body, None).await
    }

    /// [`AppState::read_body`]; with `chunked` (a body without a declared length, its
    /// permit, and whether it is compressed), the permit grows as the body is read
    /// ([`chunked_charge`]). A grow refused after the wait ends the read (the rest of the
    /// body is drained, as for one over the limit) and is the answer.
    async fn read_limited(
        &self,
        headers: &HeaderMap,
        body: Body,
        mut chunked: Option<(&mut InflightPermit, bool)>,
    ) -> Result<Bytes, ApiError> {
        let limit = self.max_body_bytes();
        let declared = content_length(headers);
        if let Some(len) = declared
            && len > limit
        {
            return Err(too_large(limit, Some(len)));
        }
        let mut body = body;
        // Sized from a declared length (under the limit here; at most 16 MiB reserved ahead
        // of the data), so the copy does not grow by doubling.
        let declared = declared.unwrap_or(0);
        let mut buf: Vec<u8> = Vec::with_capacity(declared.min(limit).min(16 << 20) as usize);
        let mut charged = 0; // wire bytes a chunked body's permit covers
        while let Some(frame) = body.frame().await {
            let frame = frame
                .map_err(|e| ApiError::BadRequest(format!("cannot read the request body: {e}")))?;
            let Ok(data) = frame.into_data() else {
                continue; // trailers
            };
            if (buf.len() + data.len()) as u64 > limit {
                drain(body).await;
                return Err(too_large(limit, None));
            }
            if buf.capacity() - buf.len() < data.len() {
                // Grow by doubling, but never past the limit.
                let want = (buf.capacity() * 2)
                    .max(buf.len() + data.len())
                    .min(limit as usize);
                buf.reserve_exact(want - buf.len());
            }
            buf.extend_from_slice(&data);
            let read = buf.len() as u64;
            if let Some((permit, compressed)) = chunked.as_mut()
                && read > charged
            {
                charged = chunked_charge(read, charged, limit);
                if let Err(e) = self
                    .resize(permit, declared_cost(charged, *compressed))
                    .await
                {
                    drain(body).await;
                    return Err(e);
                }
            }
        }
        Ok(Bytes::from(buf))
    }

    /// Writes metric samples for `tenant` on a blocking thread (the write waits for the
    /// WAL's fsync), counts the outcome in the self-metrics, and maps engine errors:
    /// over capacity is 503, poisoned or failing is 500.
    pub async fn write_metrics(
        &self,
        tenant: &TenantId,
        mut batch: Vec<SeriesSamples>,
    ) -> Result<WriteOutcome, ApiError> {
        if let Some(rules) = self.relabel(tenant) {
            let dropped = relabel::owned(&rules.metrics, &mut batch);
            self.count_relabeled(tenant, Signal::Metrics, &dropped);
            if batch.is_empty() {
                return Ok(WriteOutcome::default());
            }
        }
        self.write(tenant, Signal::Metrics, move |e, t| e.write(t, &batch))
            .await
    }

    /// Writes native histogram samples for `tenant` as [`AppState::write_metrics`] writes
    /// floats: `[relabel]` metrics rules first, then one engine write.
    pub async fn write_metric_histograms(
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
    pub async fn write_exemplars(
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
                self.metrics().record_exemplars(tenant, &outcome);
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
    pub async fn write_metadata(
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
                self.metrics().record_metadata(tenant, &outcome);
                Ok(outcome)
            }
            Err(e) => self
                .finish_write::<WriteOutcome>(tenant, Signal::Metrics, Err(e))
                .map(|_| strata_engine::MetadataOutcome::default()),
        }
    }

    /// Writes spans for `tenant`, as [`AppState::write_metrics`] does samples.
    pub async fn write_spans(
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

    /// Writes log records for `tenant`, as [`AppState::write_metrics`] does samples.
    pub async fn write_logs(
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

    /// Awaits a submitted write's acknowledgement without holding a thread, then
    /// [`AppState::finish_write`].
    pub async fn finish_pending<O: Counts>(
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
    pub fn finish_write<O: Counts>(
        &self,
        tenant: &TenantId,
        signal: Signal,
        result: strata_engine::Result<O>,
    ) -> Result<O, ApiError> {
        match result {
            Ok(outcome) => {
                self.metrics().record_write(tenant, signal, &outcome);
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

/// The auth extractors ([`crate::auth::ReadTenant`], [`crate::auth::WriteTenant`]) take the
/// tokens from the state.
impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Self {
        state.auth().clone()
    }
}

/// 413 for a body over `limit` bytes (`declared`: its declared length, when known).
fn too_large(limit: u64, declared: Option<u64>) -> ApiError {
    let size = declared.map_or(String::new(), |n| format!(" of {n} bytes"));
    ApiError::PayloadTooLarge(format!(
        "request body{size} is over the limit of {limit} bytes (server.max_body_bytes)"
    ))
}

/// The wire bytes a chunked body being read is charged for once it has read `read`
/// bytes, having been charged for `charged`: at least twice the old charge and
/// [`CHUNKED_STEP`] (so a body grows its share a logarithmic number of times), never
/// less than what it has read, never over `limit` (`server.max_body_bytes`).
fn chunked_charge(read: u64, charged: u64, limit: u64) -> u64 {
    charged
        .saturating_mul(2)
        .max(CHUNKED_STEP)
        .min(limit)
        .max(read)
}

/// The first step of a chunked body's share of the ingest budget, in wire bytes.
const CHUNKED_STEP: u64 = 64 * 1024;

/// The request's declared `Content-Length`, if it has a valid one.
fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chunked body's charge covers what it has read, never more than twice that (or the
    /// first step), never over the limit, and grows a logarithmic number of times.
    #[test]
    fn a_chunked_body_is_charged_between_what_it_read_and_twice_that() {
        let limit = 8 << 20;
        for frame in [1u64, 1000, 16 * 1024, 1 << 20] {
            let (mut read, mut charged, mut grows) = (0u64, 0u64, 0);
            while read < limit {
                read = (read + frame).min(limit);
                if read > charged {
                    charged = chunked_charge(read, charged, limit);
                    grows += 1;
                }
                assert!(charged >= read, "{charged} < {read}");
                assert!(charged <= (2 * read).max(CHUNKED_STEP).min(limit));
            }
            assert!(grows <= 8, "{grows} grows for {frame}-byte frames");
        }
    }
}
