//! [`Queries`]: what a query handler needs, and nothing else: the engine slot, the query
//! gate and memory pressure, the query memory pool, each language's settings and the
//! limit a query's body is read under.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::HeaderMap;

use strata_engine::Engine;
use strata_query::promql::QueryOptions;

use crate::config::tempo::TempoSettings;
use crate::config::{LogqlSettings, SqlSettings};
use crate::http::error::ApiError;
use crate::runtime::admission::Admission;
use crate::runtime::body::BodyLimits;
use crate::runtime::engine_slot::EngineSlot;
use crate::runtime::pressure::Pressure;

/// The query handle; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Queries(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    engine: EngineSlot,
    admission: Admission,
    pressure: Pressure,
    body: BodyLimits,
    sql: SqlSettings,
    promql: QueryOptions,
    logql: LogqlSettings,
    tempo: TempoSettings,
}

/// A query language's settings, as [`Queries::new`] takes them.
#[derive(Debug, Clone)]
pub(crate) struct Languages {
    /// `[sql]`, whose query settings carry the query memory pool.
    pub(crate) sql: SqlSettings,
    /// `[promql]`.
    pub(crate) promql: QueryOptions,
    /// `[logql]`.
    pub(crate) logql: LogqlSettings,
    /// `[tempo]`.
    pub(crate) tempo: TempoSettings,
}

impl Queries {
    /// A handle reading `engine`'s engine, gated by `admission`, watching `pressure`,
    /// reading request bodies under `body`.
    pub(crate) fn new(
        engine: EngineSlot,
        (admission, pressure): (Admission, Pressure),
        body: BodyLimits,
        languages: Languages,
    ) -> Self {
        let Languages {
            sql,
            promql,
            logql,
            tempo,
        } = languages;
        Self(Arc::new(Inner {
            engine,
            admission,
            pressure,
            body,
            sql,
            promql,
            logql,
            tempo,
        }))
    }

    /// The engine, or 503 while it is still recovering (or shutting down).
    pub(crate) fn engine(&self) -> Result<Arc<Engine>, ApiError> {
        self.0.engine.get()
    }

    /// The query gate (`server.max_concurrent_queries`).
    pub(crate) fn admission(&self) -> &Admission {
        &self.0.admission
    }

    /// Memory pressure against the limit.
    pub(crate) fn pressure(&self) -> &Pressure {
        &self.0.pressure
    }

    /// Reads a query's request body under `server.max_body_bytes`
    /// ([`BodyLimits::read_body`]).
    pub(crate) async fn read_body(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Bytes, ApiError> {
        self.0.body.read_body(headers, body).await
    }

    /// `server.max_body_bytes`.
    pub(crate) fn max_body_bytes(&self) -> u64 {
        self.0.body.max_bytes
    }

    /// The query memory pool every query of every language charges.
    pub(crate) fn query_memory(&self) -> &strata_query::memory::QueryMemory {
        &self.0.sql.query.memory
    }

    /// The `[promql]` settings: how PromQL queries are evaluated.
    pub(crate) fn promql(&self) -> &QueryOptions {
        &self.0.promql
    }

    /// The `[sql]` settings: a query's memory budget and timeout, the largest result.
    pub(crate) fn sql(&self) -> &SqlSettings {
        &self.0.sql
    }

    /// The `[tempo]` settings: bounds of the Tempo API.
    pub(crate) fn tempo(&self) -> &TempoSettings {
        &self.0.tempo
    }

    /// The `[logql]` settings: bounds on one LogQL query.
    pub(crate) fn logql(&self) -> &LogqlSettings {
        &self.0.logql
    }
}
