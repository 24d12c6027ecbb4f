//! The `histograms` and `histogram_buckets` tables (`docs/sql.md`): the engine's native
//! histogram samples of one tenant, one row per sample, and their buckets, one row per
//! bucket with its bounds.
//!
//! A scan takes a [`strata_engine::Snapshot`] for the time range its `ts` filters allow
//! (file sets outside it are never opened), reads every histograms file (and, for
//! `histogram_buckets`, bucket file) of the sets in it and the histograms in memory, and
//! keeps for each (series_id, ts) the sample of the oldest source, as `samples` does; a
//! bucket row is kept only if its sample was ([`read`]). Both tables come from the same
//! snapshot and the same rule, so they agree.
//!
//! Simple rather than fast: the rows in the range are read whole (no page-index pruning,
//! no filter or projection pushed into the Parquet read) and held in memory while the
//! query runs, as the `exemplars` table does. Planning checks their size against the free
//! memory of the query's pool (a range too large fails with the memory-budget error), but
//! does not hold that reservation while the query runs.

mod bounds;
mod read;
mod schema;

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::project_schema;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use strata_engine::{Engine, TenantId};

use super::time_range::time_range;

/// Which rows a [`HistogramsTable`] gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rows {
    /// `histograms`: one row per sample.
    Samples,
    /// `histogram_buckets`: one row per bucket.
    Buckets,
}

/// The `histograms` or `histogram_buckets` table of one tenant.
#[derive(Debug)]
pub(crate) struct HistogramsTable {
    engine: Arc<Engine>,
    tenant: TenantId,
    rows: Rows,
    schema: SchemaRef,
}

impl HistogramsTable {
    pub(crate) fn new(engine: Arc<Engine>, tenant: TenantId, rows: Rows) -> Self {
        let schema = match rows {
            Rows::Samples => schema::histograms_table_schema(),
            Rows::Buckets => schema::buckets_table_schema(),
        };
        Self {
            engine,
            tenant,
            rows,
            schema,
        }
    }
}

#[async_trait]
impl TableProvider for HistogramsTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Used for the time range only; DataFusion still applies every filter to the rows.
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let filters: Vec<Expr> = filters.iter().cloned().map(unnormalize_col).collect();
        let range = time_range(&filters, "ts");
        if range.is_empty() {
            return Ok(Arc::new(EmptyExec::new(project_schema(
                &self.schema,
                projection,
            )?)));
        }
        let external = |e: strata_engine::Error| DataFusionError::External(Box::new(e));
        let snap = self
            .engine
            .snapshot(&self.tenant, range.start, range.end)
            .map_err(external)?;
        let deduped = read::deduped(&snap, range, self.rows == Rows::Buckets)?;
        let batches = match self.rows {
            Rows::Samples => deduped.rows,
            Rows::Buckets => deduped.buckets,
        };
        // The rows are held until the query ends: they must fit the budget (checked, not held).
        let bytes: usize = batches.iter().map(|b| b.get_array_memory_size()).sum();
        let reservation =
            MemoryConsumer::new("histograms scan").register(&state.runtime_env().memory_pool);
        reservation.try_grow(bytes)?;
        drop(reservation);
        let source =
            MemorySourceConfig::try_new(&[batches], self.schema.clone(), projection.cloned())?
                .with_limit(limit);
        Ok(DataSourceExec::from_data_source(source))
    }
}
