//! [`AppState`]: the router's state, a bundle of the narrow handles the handlers take
//! ([`Ingest`], [`Queries`], [`BodyLimits`], [`Auth`], the self-metrics) and what only the
//! status pages and the self-metrics read. A handler names the handle it needs
//! (`State(ingest): State<Ingest>`), which axum takes from this state through [`FromRef`];
//! a tonic service holds the handle it needs.

use std::sync::Arc;

use axum::extract::FromRef;
use strata_engine::Engine;

use crate::auth::Auth;
use crate::config::Config;
use crate::http::error::ApiError;
use crate::relabel::Relabeling;
use crate::runtime::admission::Admission;
use crate::runtime::body::BodyLimits;
use crate::runtime::engine_slot::EngineSlot;
use crate::runtime::history::History;
use crate::runtime::inflight::{ADMIT_WAIT, Inflight};
use crate::runtime::info::ProcessInfo;
use crate::runtime::ingest_handle::Ingest;
use crate::runtime::pressure::{Level, Pressure};
use crate::runtime::queries::{Languages, Queries};
use crate::runtime::self_metrics::Metrics;

/// Shared state of the HTTP handlers; cheap to clone (each part is shared).
#[derive(Debug, Clone)]
pub struct AppState {
    /// The engine, once open.
    pub(crate) engine: EngineSlot,
    /// What ingest handlers write through.
    pub(crate) ingest: Ingest,
    /// What query handlers read through.
    pub(crate) queries: Queries,
    /// `server.max_body_bytes`, for handlers that read a body that is not ingest.
    pub(crate) body: BodyLimits,
    /// The configured tokens.
    pub(crate) auth: Auth,
    /// The self-metrics registry.
    pub(crate) metrics: Arc<Metrics>,
    /// The last hour of ingest per tenant (`/api/v1/status/limits`).
    pub(crate) history: Arc<History>,
    /// Start time and the configuration view (`/api/v1/status/*`).
    pub(crate) info: Arc<ProcessInfo>,
    /// The memory limit and its division (`crate::memory`).
    pub(crate) memory: Arc<crate::memory::MemoryPlan>,
    /// The pool rule evaluations charge (`server.rules_memory_bytes`): rules do not wait
    /// for a query's turn, and queries cannot starve them.
    pub(crate) rules_memory: strata_query::memory::QueryMemory,
}

impl AppState {
    /// State with no engine yet (the server is not ready until [`AppState::set_engine`]),
    /// with `config`'s request limits and query settings.
    pub fn new(auth: Auth, config: &Config) -> Self {
        let engine = EngineSlot::default();
        let metrics = Arc::new(Metrics::default());
        let pressure = Pressure::new(config.memory.limit);
        let body = BodyLimits {
            max_bytes: config.max_body_bytes,
        };
        let inflight =
            Inflight::new(config.max_inflight_bytes, ADMIT_WAIT).with_pressure(pressure.clone());
        let admission = Admission::new(
            config.memory.max_concurrent_queries,
            config.query_queue_timeout,
            Some(pressure.clone()),
        );
        let languages = Languages {
            sql: config.sql.clone(),
            promql: config.promql,
            logql: config.logql.clone(),
            tempo: config.tempo.clone(),
        };
        Self {
            ingest: Ingest::new(engine.clone(), inflight, body, metrics.clone(), config.otlp),
            queries: Queries::new(engine.clone(), (admission, pressure), body, languages),
            engine,
            body,
            auth,
            metrics,
            history: Default::default(),
            info: Arc::new(ProcessInfo::new(config)),
            memory: Arc::new(config.memory.clone()),
            rules_memory: config.rules_memory.clone(),
        }
    }

    /// Installs the opened engine: from now on the server is ready.
    pub fn set_engine(&self, engine: Arc<Engine>) {
        self.engine.set(engine);
    }

    /// Takes the engine out (at shutdown); later requests get 503.
    pub fn take_engine(&self) -> Option<Arc<Engine>> {
        self.engine.take()
    }

    /// The engine, or 503 while it is still recovering (or shutting down).
    pub fn engine(&self) -> Result<Arc<Engine>, ApiError> {
        self.engine.get()
    }

    /// Sets the ingest-time rules (`[relabel]`), once, before serving.
    pub fn set_relabeling(&self, rules: Arc<Relabeling>) {
        self.ingest.set_relabeling(rules);
    }

    /// Starts the memory pressure watch (`runtime/pressure.rs`): past the limit it drops
    /// the page cache, the footer cache and the allocator's free memory.
    pub(crate) fn watch_pressure(&self) -> std::io::Result<()> {
        let engine = self.engine.clone();
        let pools = [
            self.queries.query_memory().clone(),
            self.rules_memory.clone(),
        ];
        self.queries.pressure().watch(
            move |level| {
                // Running queries fail at their next allocation from 110 %.
                for p in &pools {
                    p.set_closed(level >= Level::Queries);
                }
            },
            move || {
                let mut freed = engine.get().map_or(0, |e| e.shed_page_cache());
                freed += strata_query::sql::shed_footer_cache() as u64;
                crate::runtime::allocator::release_memory();
                freed
            },
        )
    }
}

/// The ingest handlers take the ingest handle.
impl FromRef<AppState> for Ingest {
    fn from_ref(state: &AppState) -> Self {
        state.ingest.clone()
    }
}

/// The query handlers take the query handle.
impl FromRef<AppState> for Queries {
    fn from_ref(state: &AppState) -> Self {
        state.queries.clone()
    }
}

/// Handlers that read a body that is not ingest take the body limit.
impl FromRef<AppState> for BodyLimits {
    fn from_ref(state: &AppState) -> Self {
        state.body
    }
}

/// The request-metrics layer takes the self-metrics.
impl FromRef<AppState> for Arc<Metrics> {
    fn from_ref(state: &AppState) -> Self {
        state.metrics.clone()
    }
}

/// The auth extractors ([`crate::auth::ReadTenant`], [`crate::auth::WriteTenant`]) take the
/// tokens from the state.
impl FromRef<AppState> for Auth {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}
