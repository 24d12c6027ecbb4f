//! [`Strata`]: the embedding handle (open, write, SQL, PromQL).

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use strata_engine::{
    Engine, EngineConfig, LogRecord, SeriesSamples, SignalOutcome, SpanRecord, TenantId,
    WriteOutcome,
};

use crate::promql::{EngineSource, PromqlEngine, QueryOptions, QueryResult};
use crate::sql::{self, SqlConfig};

/// Why a [`Strata`] call failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The storage engine refused or failed (see [`strata_engine::Error`]).
    #[error(transparent)]
    Engine(#[from] strata_engine::Error),
    /// A SQL query failed.
    #[error(transparent)]
    Sql(#[from] sql::Error),
    /// A PromQL query failed.
    #[error(transparent)]
    Promql(#[from] crate::promql::Error),
    /// The blocking SQL entry point could not start its runtime.
    #[error("starting a runtime for a blocking SQL query: {0}")]
    Runtime(#[source] std::io::Error),
}

/// Result of [`Strata`] calls.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Settings of a [`Strata`] handle.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StrataConfig {
    /// The storage engine's (WAL, flushes, limits, retention).
    pub engine: EngineConfig,
    /// SQL memory budget, timeout and parallelism.
    pub sql: SqlConfig,
    /// PromQL lookback, sample limit and timeout.
    pub promql: QueryOptions,
}

/// One handle for an embedding program: a data directory, writes, SQL and PromQL.
/// `Send + Sync`; share it in an `Arc`. See the crate docs for an example.
#[derive(Debug)]
pub struct Strata {
    engine: Arc<Engine>,
    sql: SqlConfig,
    promql: PromqlEngine,
}

impl Strata {
    /// Opens (creating if needed) the data directory `dir`: replays the WAL, loads the
    /// partitions, starts the background flusher.
    pub fn open(dir: impl AsRef<Path>, config: StrataConfig) -> Result<Self> {
        config.sql.validate()?;
        let engine = Engine::open(dir, config.engine)?;
        Ok(Self::with_engine(
            Arc::new(engine),
            config.sql,
            config.promql,
        ))
    }

    /// A handle over an engine already open (a server shares one engine).
    pub fn with_engine(engine: Arc<Engine>, sql: SqlConfig, promql: QueryOptions) -> Self {
        Self {
            engine,
            sql,
            promql: PromqlEngine::new(promql),
        }
    }

    /// The engine under the handle (flush, compaction, statistics).
    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    /// Writes samples for `tenant`; see [`Engine::write`]. A sample is visible to the next
    /// query once this returns.
    pub fn write(&self, tenant: &TenantId, batch: &[SeriesSamples]) -> Result<WriteOutcome> {
        Ok(self.engine.write(tenant, batch)?)
    }

    /// Writes spans for `tenant`; see [`Engine::write_spans`]. A span is visible to the
    /// next query of table `spans` once this returns.
    pub fn write_spans(&self, tenant: &TenantId, spans: &[SpanRecord]) -> Result<SignalOutcome> {
        Ok(self.engine.write_spans(tenant, spans)?)
    }

    /// Writes log records for `tenant`; see [`Engine::write_logs`]. A record is visible to
    /// the next query of table `logs` once this returns.
    pub fn write_logs(&self, tenant: &TenantId, logs: &[LogRecord]) -> Result<SignalOutcome> {
        Ok(self.engine.write_logs(tenant, logs)?)
    }

    /// A DataFusion session over `tenant`'s tables, for callers that build their own plans
    /// (use [`sql::read_only`] options to keep it read-only).
    pub fn session(&self, tenant: &TenantId) -> Result<SessionContext> {
        Ok(sql::tenant_session(self.engine.clone(), tenant, &self.sql)?)
    }

    /// Runs a read-only SQL query over `tenant`'s tables; for async callers (a server on
    /// tokio). The runtime must have timers enabled.
    pub async fn sql_async(&self, tenant: &TenantId, query: &str) -> Result<Vec<RecordBatch>> {
        let ctx = self.session(tenant)?;
        Ok(sql::run_sql(&ctx, query, &self.sql).await?)
    }

    /// [`Strata::sql_async`] for synchronous callers: runs the query on a runtime of its
    /// own on this thread. Do not call it from inside an async runtime (tokio panics on a
    /// nested `block_on`); use [`Strata::sql_async`] there.
    pub fn sql(&self, tenant: &TenantId, query: &str) -> Result<Vec<RecordBatch>> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .map_err(Error::Runtime)?;
        runtime.block_on(self.sql_async(tenant, query))
    }

    /// Evaluates PromQL `query` for `tenant` at `t_ms` (an instant query).
    pub fn promql_instant(&self, tenant: &TenantId, query: &str, t_ms: i64) -> Result<QueryResult> {
        let source = EngineSource::new(&self.engine, tenant);
        Ok(self.promql.instant(&source, query, t_ms)?)
    }

    /// Evaluates PromQL `query` for `tenant` at every `step_ms` from `start_ms` to `end_ms`
    /// (a range query).
    pub fn promql_range(
        &self,
        tenant: &TenantId,
        query: &str,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult> {
        let source = EngineSource::new(&self.engine, tenant);
        Ok(self
            .promql
            .range(&source, query, start_ms, end_ms, step_ms)?)
    }
}
