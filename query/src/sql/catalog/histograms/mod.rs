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
use datafusion::logical_expr::expr_rewriter::unnormalize_col;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use strata_engine::{Engine, TenantId};

use crate::sql::scan::time_range::time_range;

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
        let reservation = crate::memory::own_consumer("histograms scan")
            .register(&state.runtime_env().memory_pool);
        reservation.try_grow(bytes)?;
        drop(reservation);
        let source =
            MemorySourceConfig::try_new(&[batches], self.schema.clone(), projection.cloned())?
                .with_limit(limit);
        Ok(DataSourceExec::from_data_source(source))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::AsArray;
    use datafusion::arrow::datatypes::Int64Type;
    use strata_engine::{
        Counts, Engine, EngineConfig, Histogram, HistogramSample, ResetHint, SeriesHistograms,
        Span, TenantId,
    };

    use crate::sql::{Error, SqlConfig, run_sql, tenant_session};

    /// 3,000 integer histograms of 100 buckets (each holding 1) in memory.
    fn engine(dir: &std::path::Path) -> (Arc<Engine>, TenantId) {
        let engine = Arc::new(Engine::open(dir, EngineConfig::default()).expect("open"));
        let tenant = TenantId::new("t").expect("tenant");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_millis() as i64;
        let h = Arc::new(Histogram {
            schema: 0,
            zero_threshold: 0.0,
            sum: 1.0,
            reset_hint: ResetHint::Gauge,
            positive_spans: vec![Span {
                offset: 0,
                length: 100,
            }],
            negative_spans: vec![],
            custom_values: vec![],
            counts: Counts::Int {
                count: 100,
                zero_count: 0,
                positive_deltas: std::iter::once(1).chain([0; 99]).collect(),
                negative_deltas: vec![],
            },
        });
        let series = SeriesHistograms {
            labels: vec![("__name__".into(), "h".into())],
            histograms: (0..3000)
                .map(|i| HistogramSample {
                    ts: now - 3_000_000 + i * 1000,
                    h: h.clone(),
                })
                .collect(),
        };
        let out = engine.write_histograms(&tenant, &[series]).expect("write");
        assert_eq!(out.accepted_histograms, 3000, "{out:?}");
        (engine, tenant)
    }

    async fn count(
        engine: &Arc<Engine>,
        t: &TenantId,
        pool: usize,
        table: &str,
    ) -> crate::sql::Result<i64> {
        let config = SqlConfig {
            memory_pool_bytes: pool,
            ..SqlConfig::for_tests()
        };
        let ctx = tenant_session(engine.clone(), t, &config)?;
        let sql = format!("SELECT count(*) FROM {table}");
        let batches = run_sql(&ctx, &sql, &config).await?;
        Ok(batches[0].column(0).as_primitive::<Int64Type>().value(0))
    }

    #[tokio::test]
    async fn rows_that_do_not_fit_the_memory_budget_fail_the_query() {
        let dir = tempfile::tempdir().expect("dir");
        let (engine, t) = engine(dir.path());
        // 300,000 bucket rows of ~47 bytes: over a 1 MiB budget, within 64 MiB.
        let err = count(&engine, &t, 1 << 20, "histogram_buckets")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::OverMemoryBudget { .. }), "{err:?}");
        let n = count(&engine, &t, 64 << 20, "histogram_buckets")
            .await
            .expect("fits");
        assert_eq!(n, 300_000);
        // 3,000 sample rows fit in 1 MiB.
        assert_eq!(
            count(&engine, &t, 1 << 20, "histograms")
                .await
                .expect("fits"),
            3000
        );
    }
}
