//! The per-tenant catalog: a DataFusion session whose tables read one tenant's data only,
//! and running a query in it under the memory budget and the timeout. Its tables are the
//! children: `samples`, `series`, `exemplars`, `spans` and `logs` ([`signal_table`]),
//! `histograms` and `histogram_buckets`, and a downsampled tier's `samples_<res>` each
//! (`tiers.rs`); [`stream`] runs a query batch by batch and
//! [`describe`] plans one without running it.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::datasource::ViewTable;
use datafusion::datasource::provider_as_source;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::{JoinType, LogicalPlanBuilder, col};
use datafusion::prelude::{SessionConfig, SessionContext};
use strata_engine::{Engine, TenantId};

pub(crate) mod describe;
mod exemplars;
mod histograms;
mod samples;
mod series;
pub(crate) mod signal_table;
pub(crate) mod stream;
mod tiers;

use exemplars::ExemplarsTable;
use histograms::{HistogramsTable, Rows};
use samples::SamplesTable;
use series::SeriesTable;
use signal_table::{Signal, SignalTable};
use stream::SqlStream;

use crate::sql::SqlConfig;
use crate::sql::distributed::health::Spread;
use crate::sql::error::{Error, Result};
use crate::sql::runtime::runtime_env;
use crate::sql::scan::conjuncts::DistinctConjuncts;

/// The definition of the `metrics` view.
const METRICS_VIEW: &str = "SELECT series.metric, series.labels, samples.ts, samples.value \
     FROM samples JOIN series ON samples.series_id = series.series_id";

/// A DataFusion session over `tenant`'s data in `engine`: tables `samples`, `series`,
/// `metrics`, `spans`, `logs`, `exemplars`, `histograms` and `histogram_buckets` (see
/// `docs/sql.md`). Its tables list only that tenant's file sets and memory,
/// so no query in it can read another tenant's data. The memory budget comes from
/// `config`; the timeout applies in [`run_sql`].
pub fn tenant_session(
    engine: Arc<Engine>,
    tenant: &TenantId,
    config: &SqlConfig,
) -> Result<SessionContext> {
    config.validate()?;
    let budget = config.memory.query_capped(config.memory_pool_bytes);
    let df = |e| Error::from_datafusion(e, budget.share());
    let runtime = runtime_env(config, &budget).map_err(df)?;
    // A sort keeps this much aside to merge what it spilled (DataFusion's default, 10 MiB,
    // is more than a small share holds): a quarter of the share.
    let merge_reserve = (budget.share() / 4).min(10 << 20);
    let mut session = SessionConfig::new()
        .with_sort_spill_reservation_bytes(merge_reserve)
        .with_target_partitions(config.target_partitions)
        .with_batch_size(config.batch_size)
        .with_information_schema(true);
    if engine.is_reader() {
        // Files by key below the bucket, read through the engine's cache.
        crate::sql::scan::bucket::register(&runtime, engine.clone()).map_err(df)?;
        let root = std::path::absolute(engine.data_dir()).map_err(|e| {
            df(datafusion::error::DataFusionError::Execution(format!(
                "cannot resolve {}: {e}",
                engine.data_dir().display()
            )))
        })?;
        session = session.with_extension(Arc::new(crate::sql::scan::bucket::BucketNames { root }));
    }
    let mut builder = SessionStateBuilder::new()
        .with_config(session)
        .with_runtime_env(runtime.clone())
        .with_default_features()
        .with_physical_optimizer_rule(Arc::new(DistinctConjuncts));
    let mut spread = None;
    if engine.is_reader() && !config.workers.is_empty() {
        let urls = crate::sql::distributed::worker_urls(&config.workers).map_err(df)?;
        let workers = Arc::new(Spread::new(urls));
        spread = Some(workers.clone());
        builder =
            crate::sql::distributed::distribute(builder, workers, engine.clone(), runtime, config)
                .map_err(df)?;
    }
    let mut state = builder.build();
    if let Some(spread) = spread {
        // For `SqlStream` to plan a query again without a worker that failed it.
        state.config_mut().set_extension(spread);
    }
    let ctx = SessionContext::new_with_state(state);
    let samples = Arc::new(SamplesTable::new(engine.clone(), tenant.clone()));
    let series = Arc::new(SeriesTable::new(engine.clone(), tenant.clone()));
    for (name, signal) in [("spans", Signal::Spans), ("logs", Signal::Logs)] {
        let table = SignalTable::new(engine.clone(), tenant.clone(), signal);
        ctx.register_table(name, Arc::new(table)).map_err(df)?;
    }
    ctx.register_table("samples", samples.clone()).map_err(df)?;
    for res in engine.tier_resolutions(tenant) {
        let name = format!("samples_{}", strata_engine::format_resolution(res));
        let table = tiers::TierTable::new(engine.clone(), tenant.clone(), res);
        ctx.register_table(name, tiers::view(table).map_err(df)?)
            .map_err(df)?;
    }
    ctx.register_table("series", series.clone()).map_err(df)?;
    let exemplars = ExemplarsTable::new(engine.clone(), tenant.clone());
    ctx.register_table("exemplars", Arc::new(exemplars))
        .map_err(df)?;
    for (name, rows) in [
        ("histograms", Rows::Samples),
        ("histogram_buckets", Rows::Buckets),
    ] {
        let table = HistogramsTable::new(engine.clone(), tenant.clone(), rows);
        ctx.register_table(name, Arc::new(table)).map_err(df)?;
    }
    let plan = LogicalPlanBuilder::scan("samples", provider_as_source(samples), None)
        .and_then(|b| {
            b.join(
                LogicalPlanBuilder::scan("series", provider_as_source(series), None)?.build()?,
                JoinType::Inner,
                (vec!["series_id"], vec!["series_id"]),
                None,
            )
        })
        .and_then(|b| b.project(vec![col("metric"), col("labels"), col("ts"), col("value")]))
        .and_then(|b| b.build())
        .map_err(df)?;
    let view = ViewTable::new(plan, Some(METRICS_VIEW.to_owned()));
    ctx.register_table("metrics", Arc::new(view)).map_err(df)?;
    Ok(ctx)
}

/// Runs `sql` (read only) in `ctx` and collects the result, failing with
/// [`Error::Timeout`] after `config.timeout` and [`Error::OverMemoryBudget`] when an operator
/// needs more than the session's memory pool. Must run inside a tokio runtime with timers.
/// [`SqlStream`] gives the result batch by batch instead.
pub async fn run_sql(
    ctx: &SessionContext,
    sql: &str,
    config: &SqlConfig,
) -> Result<Vec<RecordBatch>> {
    let mut stream = SqlStream::start(ctx, sql, config).await?;
    let mut batches = Vec::new();
    while let Some(batch) = stream.next_batch().await? {
        batches.push(batch);
    }
    Ok(batches)
}
