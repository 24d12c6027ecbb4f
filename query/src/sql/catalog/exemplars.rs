//! The `exemplars` table (`docs/sql.md`): `ts, metric, labels, value, trace_id, span_id,
//! exemplar_labels` ([`strata_engine::exemplars_schema`]), one row per exemplar of the
//! tenant, from memory and the partitions' exemplars files, read at scan time for the time
//! range the `ts` filters allow.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use strata_engine::{Engine, TenantId, exemplars_schema};

use crate::sql::scan::time_range::time_range;

/// The `exemplars` table of one tenant.
#[derive(Debug)]
pub(crate) struct ExemplarsTable {
    engine: Arc<Engine>,
    tenant: TenantId,
    schema: SchemaRef,
}

impl ExemplarsTable {
    pub(crate) fn new(engine: Arc<Engine>, tenant: TenantId) -> Self {
        Self {
            engine,
            tenant,
            schema: exemplars_schema(),
        }
    }
}

#[async_trait]
impl TableProvider for ExemplarsTable {
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
        _state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let range = time_range(filters, "ts");
        let external = |e: strata_engine::Error| DataFusionError::External(Box::new(e));
        let batch = self
            .engine
            .exemplars_batch(&self.tenant, range.start, range.end)
            .map_err(external)?;
        let source =
            MemorySourceConfig::try_new(&[vec![batch]], self.schema.clone(), projection.cloned())?
                .with_limit(limit);
        Ok(DataSourceExec::from_data_source(source))
    }
}
