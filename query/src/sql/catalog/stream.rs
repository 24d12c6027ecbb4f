//! [`SqlStream`]: a query's result batch by batch, for callers that must bound what they
//! hold (a server serializing a response) instead of collecting it; and [`read_only`], the
//! options every query is planned with.

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::ParamValues;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::{SQLOptions, SessionContext};
use futures::StreamExt;
use tokio::time::Instant;

use crate::sql::SqlConfig;
use crate::sql::distributed::health::{self, Spread};
use crate::sql::error::{Error, Result};

/// What a query may do: read only. DDL (`CREATE EXTERNAL TABLE` could name any file),
/// DML and `SET` statements are refused.
pub fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// The result of a running query. Dropping it cancels the query. The query's deadline
/// (`sql.timeout`, from when it was started) covers planning and every batch.
///
/// A query spread over workers is started by reading its first batch: one a worker fails
/// before then (it cannot be reached, or its stream breaks off) is planned again over the
/// workers still up, or run in this process alone (`super::super::distributed::health`),
/// so the caller sees no failure. One that fails after its first batch fails with
/// [`Error::WorkerUnavailable`], the worker left out of the queries that follow.
pub struct SqlStream {
    inner: SendableRecordBatchStream,
    /// The first batch of a spread query, read to start it (`Some(None)`: the result is
    /// empty).
    first: Option<Option<RecordBatch>>,
    spread: Option<Arc<Spread>>,
    deadline: Instant,
    timeout: Duration,
    budget: usize,
}

impl std::fmt::Debug for SqlStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqlStream")
            .field("schema", &self.inner.schema())
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl SqlStream {
    /// Plans `sql` (read only, see [`read_only`]) in `ctx` and starts executing it. Fails with
    /// [`Error::Plan`] for a query that does not parse or plan (DDL and DML included), and
    /// with [`Error::Timeout`] if planning outlives `config.timeout`. Must run inside a tokio
    /// runtime with timers.
    pub async fn start(ctx: &SessionContext, sql: &str, config: &SqlConfig) -> Result<Self> {
        Self::start_with(ctx, sql, None, config).await
    }

    /// As [`SqlStream::start`], with `params` bound to the query's placeholders (`$1`, `$2`,
    /// ...) before it runs. A value that does not fit its placeholder, or a placeholder
    /// left without a value, fails with [`Error::Plan`].
    pub async fn start_with(
        ctx: &SessionContext,
        sql: &str,
        params: Option<ParamValues>,
        config: &SqlConfig,
    ) -> Result<Self> {
        let deadline = Instant::now() + config.timeout;
        let spread = ctx.state().config().get_extension::<Spread>();
        if let Some(workers) = &spread {
            workers.spread_again();
        }
        let mut attempt = 1;
        loop {
            let mut stream = Self {
                inner: Self::execute(ctx, sql, params.clone(), config, deadline).await?,
                first: None,
                spread: spread.clone(),
                deadline,
                timeout: config.timeout,
                budget: config.memory_pool_bytes,
            };
            let Some(workers) = &spread else {
                return Ok(stream);
            };
            match stream.read().await {
                Ok(first) => {
                    stream.first = Some(first);
                    return Ok(stream);
                }
                Err(Error::WorkerUnavailable(why)) if !workers.is_local() => {
                    if workers.after_failure(attempt).await {
                        tracing::warn!(error = %why, "a worker failed a spread SQL query: planning it again over the workers still up");
                    } else {
                        tracing::warn!(error = %why, "a worker failed a spread SQL query: running it in this process");
                    }
                }
                Err(e) => return Err(e),
            }
            attempt += 1;
        }
    }

    /// Plans `sql` with `params` in `ctx` and starts it, by `deadline`.
    async fn execute(
        ctx: &SessionContext,
        sql: &str,
        params: Option<ParamValues>,
        config: &SqlConfig,
        deadline: Instant,
    ) -> Result<SendableRecordBatchStream> {
        let start = async {
            let mut frame = ctx.sql_with_options(sql, read_only()).await?;
            if let Some(params) = params {
                frame = frame.with_param_values(params)?;
            }
            frame.execute_stream().await
        };
        match tokio::time::timeout_at(deadline, start).await {
            Ok(result) => result.map_err(|e| Error::from_datafusion(e, config.memory_pool_bytes)),
            Err(_) => Err(Error::Timeout(config.timeout)),
        }
    }

    /// The result's columns (known before any row, also for an empty result).
    pub fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    /// The next batch, `None` at the end. Fails with [`Error::Timeout`] once the query's
    /// deadline passes and [`Error::OverMemoryBudget`] when an operator needs more than the
    /// session's memory pool.
    pub async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        if let Some(first) = self.first.take() {
            return Ok(first);
        }
        match self.read().await {
            Err(Error::WorkerUnavailable(why)) => {
                // Too late to plan again (rows may have gone out); the queries that
                // follow leave the worker out.
                if let Some(spread) = &self.spread {
                    health::probe(spread.configured()).await;
                }
                Err(Error::WorkerUnavailable(why))
            }
            other => other,
        }
    }

    /// The next batch from the running plan.
    async fn read(&mut self) -> Result<Option<RecordBatch>> {
        match tokio::time::timeout_at(self.deadline, self.inner.next()).await {
            Ok(Some(Ok(batch))) => Ok(Some(batch)),
            Ok(Some(Err(e))) => Err(Error::from_datafusion(e, self.budget)),
            Ok(None) => Ok(None),
            Err(_) => Err(Error::Timeout(self.timeout)),
        }
    }
}
