//! A physical optimizer rule: every Parquet scan's predicate without repeated conjuncts.
//!
//! The tables hand their filters to their Parquet source (pruning by statistics, the page
//! index, the line and trace-id lookups), and DataFusion's filter pushdown then ANDs the
//! same filters in again from the `FilterExec` above the scan. Each conjunct of the
//! predicate is a row-filter stage that decodes its columns for the rows still selected,
//! so a repeated one decoded `time`, `service_name` or `body` pages a second time.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::datasource::physical_plan::{
    FileScanConfig, FileScanConfigBuilder, FileSource, ParquetSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::Result;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::utils::{conjunction, split_conjunction};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;

/// Drops the repeated conjuncts of each Parquet scan's predicate (the first stays, in
/// its place: the order of the row filter's stages is kept).
#[derive(Debug, Default)]
pub(crate) struct DistinctConjuncts;

impl PhysicalOptimizerRule for DistinctConjuncts {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let rewritten = node
                .downcast_ref::<DataSourceExec>()
                .and_then(|exec| exec.data_source().downcast_ref::<FileScanConfig>())
                .and_then(distinct);
            Ok(match rewritten {
                Some(exec) => Transformed::yes(exec),
                None => Transformed::no(node),
            })
        })
        .data()
    }

    fn name(&self) -> &str {
        "distinct_parquet_conjuncts"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The scan of `config` with a predicate without repeats, if its predicate had any.
fn distinct(config: &FileScanConfig) -> Option<Arc<dyn ExecutionPlan>> {
    let parquet = config.file_source().downcast_ref::<ParquetSource>()?;
    let predicate = parquet.filter()?;
    let all = split_conjunction(&predicate);
    let mut kept: Vec<Arc<dyn PhysicalExpr>> = Vec::with_capacity(all.len());
    for c in &all {
        if !kept.iter().any(|k| k.as_ref() == c.as_ref()) {
            kept.push(Arc::clone(c));
        }
    }
    if kept.len() == all.len() {
        return None;
    }
    let source = parquet.with_predicate(conjunction(kept));
    let config = FileScanConfigBuilder::from(config.clone())
        .with_source(Arc::new(source))
        .build();
    Some(DataSourceExec::from_data_source(config))
}

#[cfg(test)]
mod tests {
    use crate::sql::{SqlConfig, tenant_session};

    /// A filter on the `logs` table reaches the Parquet scan once, not twice.
    #[tokio::test]
    async fn scans_get_each_conjunct_once() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (engine, tenant) = crate::sql::engine_with_one_log(dir.path(), "a needle here");
        let ctx = tenant_session(engine, &tenant, &SqlConfig::for_tests()).expect("session");
        // Two bytes: too short for a line lookup, so the Parquet scan runs the filters.
        let sql = "SELECT body FROM logs WHERE service_name = 'shop' \
                   AND strpos(body, 'ne') > 0";
        let plan = ctx
            .sql(sql)
            .await
            .expect("plan")
            .create_physical_plan()
            .await
            .expect("physical plan");
        let shown = datafusion::physical_plan::displayable(plan.as_ref())
            .indent(true)
            .to_string();
        let predicate = shown
            .split("predicate=")
            .nth(1)
            .and_then(|s| s.split(", pruning_predicate").next())
            .unwrap_or_else(|| panic!("no predicate in {shown}"));
        assert_eq!(predicate.matches("strpos").count(), 1, "{shown}");
        assert_eq!(predicate.matches("service_name@").count(), 1, "{shown}");
        // The rewritten plan itself runs and finds the record.
        let batches = datafusion::physical_plan::collect(plan, ctx.task_ctx())
            .await
            .expect("run");
        assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
    }
}
