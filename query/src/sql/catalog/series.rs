//! The `series` table: `series_id UInt64, metric Utf8, labels Map<Utf8, Utf8>` (every
//! label but `__name__`), one row per series the tenant has, built from the engine's
//! series index at scan time.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use strata_engine::{Engine, TenantId, series_schema};

/// The `series` table of one tenant.
#[derive(Debug)]
pub(crate) struct SeriesTable {
    engine: Arc<Engine>,
    tenant: TenantId,
    schema: SchemaRef,
}

impl SeriesTable {
    pub(crate) fn new(engine: Arc<Engine>, tenant: TenantId) -> Self {
        Self {
            engine,
            tenant,
            schema: series_schema(),
        }
    }
}

#[async_trait]
impl TableProvider for SeriesTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let external = |e: strata_engine::Error| DataFusionError::External(Box::new(e));
        // An empty time range: the series only, no samples, no files.
        let snap = self
            .engine
            .snapshot(&self.tenant, i64::MAX, i64::MIN)
            .map_err(external)?;
        let batch = snap.series_batch().map_err(external)?;
        let source =
            MemorySourceConfig::try_new(&[vec![batch]], self.schema.clone(), projection.cloned())?
                .with_limit(limit);
        Ok(DataSourceExec::from_data_source(source))
    }
}
