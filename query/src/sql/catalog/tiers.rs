//! The downsampled tiers' tables (`docs/sql.md`): `samples_5m`, `samples_1h`, ... one per
//! resolution the tenant has configured or on disk, with the tier files' columns
//! ([`strata_engine::tier_schema`]: `series_id, ts, value` of each interval's last sample,
//! then `first_ts, first, min, max, sum, count, increase`), one row per series and
//! interval. A tier's partitions are whole days that never overlap, so a scan is one
//! Parquet scan with the filters pushed down. The files leave out `first`, `min`, `max`
//! and `sum` where they follow from the other columns; the table is a view that derives
//! them again ([`view`]), so every row is whole.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::project_schema;
use datafusion::datasource::{TableProvider, TableType};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use strata_engine::{Engine, TenantId, tier_schema};

use crate::sql::scan::time_range::time_range;
use crate::sql::scan::{parquet_exec, parquet_source, partitioned_file, predicate};

/// `table` as the view a query sees: the columns the files leave out derived again
/// (`strata_engine::tier_schema`).
pub(crate) fn view(table: TierTable) -> datafusion::error::Result<Arc<dyn TableProvider>> {
    use datafusion::datasource::{ViewTable, provider_as_source};
    use datafusion::functions::expr_fn::{coalesce, greatest, least};
    use datafusion::logical_expr::{LogicalPlanBuilder, cast, col};
    let first = || coalesce(vec![col("first"), col("value")]);
    let count = || {
        cast(
            col("count"),
            datafusion::arrow::datatypes::DataType::Float64,
        )
    };
    let plan = LogicalPlanBuilder::scan("tier_files", provider_as_source(Arc::new(table)), None)?
        .project(vec![
            col("series_id"),
            col("ts"),
            col("value"),
            col("first_ts"),
            first().alias("first"),
            coalesce(vec![col("min"), least(vec![first(), col("value")])]).alias("min"),
            coalesce(vec![col("max"), greatest(vec![first(), col("value")])]).alias("max"),
            coalesce(vec![col("sum"), col("value") * count()]).alias("sum"),
            col("count"),
            col("correction"),
        ])?
        .build()?;
    Ok(Arc::new(ViewTable::new(plan, None)))
}

/// The table of one tier of one tenant.
#[derive(Debug)]
pub(crate) struct TierTable {
    engine: Arc<Engine>,
    tenant: TenantId,
    resolution_ms: i64,
    schema: SchemaRef,
}

impl TierTable {
    pub(crate) fn new(engine: Arc<Engine>, tenant: TenantId, resolution_ms: i64) -> Self {
        Self {
            engine,
            tenant,
            resolution_ms,
            schema: tier_schema(),
        }
    }
}

#[async_trait]
impl TableProvider for TierTable {
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
        // Used for pruning only; DataFusion still applies every filter to the rows.
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
        let held = self
            .engine
            .tier_files(&self.tenant, self.resolution_ms, range.start, range.end)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        if held.is_empty() {
            return Ok(Arc::new(EmptyExec::new(project_schema(
                &self.schema,
                projection,
            )?)));
        }
        let files = held
            .iter()
            .map(partitioned_file)
            .collect::<Result<Vec<_>>>()?;
        let pred = predicate(state, &self.schema, filters)?;
        let source = parquet_source(state, self.schema.clone(), pred.as_ref())?;
        parquet_exec(state, source, files, projection.cloned(), limit)
    }
}
