//! [`Ingest`]: what an ingest handler needs, and nothing else: the engine slot, the ingest
//! memory budget, the body limit, the `[relabel]` rules, the span derivation and the
//! self-metrics its writes bump. A request flows down through it: read the body (admitted
//! into the budget), decode, write ([`write`]).
//!
//! An OTLP/HTTP handler, for example: `async fn otlp_metrics(State(ingest): State<Ingest>,
//! WriteTenant(tenant): WriteTenant, headers: HeaderMap, body: Body) -> Response` reads the
//! body with [`Ingest::read_ingest_body`], decodes, and stores through
//! [`Ingest::write_metrics`].

mod write;

use std::sync::{Arc, OnceLock};

use axum::body::{Body, Bytes};
use axum::http::HeaderMap;
use strata_engine::{Engine, TenantId};

pub(crate) use write::cpu_work;

use crate::http::error::ApiError;
use crate::relabel::{Relabeling, RuleCounts, TenantRules};
use crate::runtime::body::{BodyLimits, content_length, drain, too_large};
use crate::runtime::engine_slot::EngineSlot;
use crate::runtime::inflight::{Inflight, InflightPermit, declared_cost};
use crate::runtime::self_metrics::{Metrics, Signal};
use crate::runtime::span_hook::SpanDerive;

/// How long an ingest request waits for a flush to make room in a full head before the
/// engine may refuse it (503).
pub(crate) const HEAD_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Payloads (uncompressed bytes) up to this size are decoded and written on the async
/// worker that received them (a few ms of CPU at most); larger ones on the blocking
/// pool. See [`cpu_work`].
pub(crate) const INLINE_WORK_MAX_BYTES: usize = 1 << 20;

/// The ingest handle; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Ingest(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    engine: EngineSlot,
    inflight: Inflight,
    body: BodyLimits,
    relabel: OnceLock<Arc<Relabeling>>,
    derive: OnceLock<Arc<dyn SpanDerive>>,
    metrics: Arc<Metrics>,
    /// How OTLP metrics become series (`[otlp]`).
    otlp: crate::config::OtlpSettings,
    /// State an ingest path keeps across requests (the OTLP delta series' running
    /// totals), typed by that path: see [`Ingest::state`].
    state: OnceLock<Arc<dyn std::any::Any + Send + Sync>>,
}

impl Ingest {
    /// A handle writing to `engine`'s engine, admitting into `inflight`, reading bodies
    /// under `body`, counting in `metrics`; no rules and no span derivation yet.
    pub(crate) fn new(
        engine: EngineSlot,
        inflight: Inflight,
        body: BodyLimits,
        metrics: Arc<Metrics>,
        otlp: crate::config::OtlpSettings,
    ) -> Self {
        Self(Arc::new(Inner {
            engine,
            inflight,
            body,
            relabel: OnceLock::new(),
            derive: OnceLock::new(),
            metrics,
            otlp,
            state: OnceLock::new(),
        }))
    }

    /// How OTLP metrics become series (`[otlp]`).
    pub(crate) fn otlp_settings(&self) -> crate::config::OtlpSettings {
        self.0.otlp
    }

    /// The state of type `T` an ingest path keeps across requests, made (empty) at its
    /// first use; `None` if another type took the slot first (one path uses it: the OTLP
    /// delta series' running totals). Held here, below the ingest paths that define it.
    pub(crate) fn state<T: std::any::Any + Send + Sync + Default>(&self) -> Option<Arc<T>> {
        let any = self
            .0
            .state
            .get_or_init(|| Arc::new(T::default()) as Arc<dyn std::any::Any + Send + Sync>);
        Arc::clone(any).downcast::<T>().ok()
    }

    /// The engine, or 503 while it is still recovering (or shutting down).
    pub(crate) fn engine(&self) -> Result<Arc<Engine>, ApiError> {
        self.0.engine.get()
    }

    /// The self-metrics registry.
    pub(crate) fn metrics(&self) -> &Metrics {
        &self.0.metrics
    }

    /// `server.max_body_bytes`.
    pub(crate) fn max_body_bytes(&self) -> u64 {
        self.0.body.max_bytes
    }

    /// The ingest memory budget, for the self-metrics.
    pub(crate) fn inflight(&self) -> &Inflight {
        &self.0.inflight
    }

    /// Sets the ingest-time rules (`[relabel]`), once, before serving.
    pub(crate) fn set_relabeling(&self, rules: Arc<Relabeling>) {
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
    pub(crate) fn relabeling(&self) -> Option<Arc<Relabeling>> {
        self.0.relabel.get().cloned()
    }

    /// `tenant`'s ingest-time rules, if any are configured.
    pub(crate) fn relabel(&self, tenant: &TenantId) -> Option<&TenantRules> {
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
            self.0.metrics.record_relabel(tenant, signal, name, *n);
        }
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

    /// Sets an admitted request's share to `cost` bytes as [`Ingest::resize`] does, but
    /// waits for more holding none of it ([`Inflight::resize_requeued`]): before
    /// allocating a buffer of that size.
    pub(crate) async fn resize_requeued(
        &self,
        permit: &mut InflightPermit,
        cost: u64,
    ) -> Result<(), ApiError> {
        self.0.inflight.resize_requeued(permit, cost).await
    }

    /// Reads an ingest request's body as [`BodyLimits::read_body`] does, admitted into the
    /// ingest memory budget first, on its declared `Content-Length` ([`declared_cost`];
    /// `compressed` when the body has a Content-Encoding), so that bodies being read count
    /// against the budget. The caller sets the permit to the request's real estimate once
    /// the body is inflated ([`Ingest::resize`]). A body without a declared length
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
        let limit = self.0.body.max_bytes;
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
        let chunked = declared
            .is_none()
            .then_some((&mut permit, compressed, &self.0.inflight));
        let body = self.0.body.read_limited(headers, body, chunked).await?;
        Ok((body, permit))
    }
}
