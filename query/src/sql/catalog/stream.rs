//! [`SqlStream`]: a query's result batch by batch, for callers that must bound what they
//! hold (a server serializing a response) instead of collecting it; and [`read_only`], the
//! options every query is planned with.

use std::time::Duration;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::ParamValues;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::{SQLOptions, SessionContext};
use futures::StreamExt;
use tokio::time::Instant;

use crate::sql::SqlConfig;
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
pub struct SqlStream {
    inner: SendableRecordBatchStream,
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
        let budget = config.memory_pool_bytes;
        let start = async {
            let mut frame = ctx.sql_with_options(sql, read_only()).await?;
            if let Some(params) = params {
                frame = frame.with_param_values(params)?;
            }
            frame.execute_stream().await
        };
        let inner = match tokio::time::timeout_at(deadline, start).await {
            Ok(result) => result.map_err(|e| Error::from_datafusion(e, budget))?,
            Err(_) => return Err(Error::Timeout(config.timeout)),
        };
        Ok(Self {
            inner,
            deadline,
            timeout: config.timeout,
            budget,
        })
    }

    /// The result's columns (known before any row, also for an empty result).
    pub fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }

    /// The next batch, `None` at the end. Fails with [`Error::Timeout`] once the query's
    /// deadline passes and [`Error::OverMemoryBudget`] when an operator needs more than the
    /// session's memory pool.
    pub async fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        match tokio::time::timeout_at(self.deadline, self.inner.next()).await {
            Ok(Some(Ok(batch))) => Ok(Some(batch)),
            Ok(Some(Err(e))) => Err(Error::from_datafusion(e, self.budget)),
            Ok(None) => Ok(None),
            Err(_) => Err(Error::Timeout(self.timeout)),
        }
    }
}
