//! SQL over several processes with `datafusion-distributed` (`docs/scale-out.md`): a query
//! process plans as usual and the library splits its Parquet scans across workers
//! (`strata serve --role worker`), each reading the bucket's files by key through its own
//! cache (`super::bucket`). Strata's own plans (the line and trace-id lookups, the
//! deduplication of overlapping sets, the series table) have no codec: their stages are
//! kept to one task, which runs in the query process itself.

use std::path::Path;
use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_distributed::{
    DesiredTaskCountEvent, DesiredTaskCountEventResponse, DistributedExt, SessionStateBuilderExt,
    Worker, WorkerResolver,
};
use strata_engine::Engine;
use url::Url;

use super::SqlConfig;
use super::bucket::EngineSlot;

/// The URL the query process's own worker answers as: stages of one task run there.
const LOCAL_WORKER: &str = "http://strata-query-process.local";

/// The configured workers' URLs.
#[derive(Debug, Clone)]
struct WorkerUrls(Vec<Url>);

impl WorkerResolver for WorkerUrls {
    fn get_urls(&self) -> Result<Vec<Url>, DataFusionError> {
        Ok(self.0.clone())
    }
}

/// Parses `[cluster] workers`.
pub(crate) fn worker_urls(workers: &[String]) -> Result<Vec<Url>> {
    workers
        .iter()
        .map(|w| {
            Url::parse(w)
                .map_err(|e| DataFusionError::Configuration(format!("cluster.workers: {w:?}: {e}")))
        })
        .collect()
}

/// A worker's service over `engine` (a reader of the bucket), reading with `runtime`'s
/// memory pool and footer cache; serve it with `tonic` (`Worker::into_worker_server`).
pub fn worker(engine: Arc<Engine>, runtime: Arc<RuntimeEnv>) -> Result<Worker> {
    super::bucket::register(&runtime, engine)?;
    Ok(Worker::default().with_runtime_env(runtime))
}

/// A worker's service for a server whose engine (a reader of the bucket, data directory
/// `dir`) is still opening: `slot` gives it once open, and tasks that read before then
/// fail with "not ready". Its tasks share one runtime with `config`'s memory pool and
/// footer cache, and read nothing but the bucket's files: the local file system is not
/// registered, so a plan naming `file://` paths fails.
pub fn worker_for(dir: &Path, slot: EngineSlot, config: &SqlConfig) -> Result<Worker> {
    config
        .validate()
        .map_err(|e| DataFusionError::Configuration(e.to_string()))?;
    let runtime = super::catalog::runtime_env(config)?;
    let file = Url::parse("file:///").map_err(|e| DataFusionError::Configuration(e.to_string()))?;
    runtime.object_store_registry.deregister_store(&file)?;
    super::bucket::register_slot(&runtime, dir, slot)?;
    Ok(Worker::default().with_runtime_env(runtime))
}

/// Whether `plan` is one of Strata's own plans, which workers cannot decode.
fn ours(plan: &Arc<dyn ExecutionPlan>) -> bool {
    matches!(
        plan.name(),
        "LineLookupExec" | "DedupExec" | "SeriesExec" | "LookupExec"
    ) || (plan.as_ref() as &dyn std::any::Any)
        .downcast_ref::<datafusion::datasource::source::DataSourceExec>()
        .is_some_and(|d| {
            d.data_source()
                .downcast_ref::<datafusion::datasource::memory::MemorySourceConfig>()
                .is_some()
        })
}

/// Whether `plan` is one of Strata's own plans or above one. Such stages keep one task,
/// which runs in the query process; a stage spread over workers could need rows from
/// it, and workers cannot reach the query process's own worker. Scans below no such
/// plan (the probe side of a join with `series`, say) are still spread.
fn holds_ours(plan: &Arc<dyn ExecutionPlan>) -> bool {
    ours(plan) || plan.children().into_iter().any(holds_ours)
}

/// `builder` (its config already set) planning over `workers`, with the query process's
/// own worker over `runtime` for the stages that stay here, and `config`'s
/// `bytes_per_partition`.
pub(crate) fn distribute(
    builder: SessionStateBuilder,
    workers: Vec<Url>,
    engine: Arc<Engine>,
    runtime: Arc<RuntimeEnv>,
    config: &SqlConfig,
) -> Result<SessionStateBuilder> {
    let local = worker(engine, runtime)?;
    let self_url =
        Url::parse(LOCAL_WORKER).map_err(|e| DataFusionError::Configuration(e.to_string()))?;
    builder
        .with_distributed_planner()
        .with_distributed_worker_resolver(WorkerUrls(workers))
        .with_distributed_local_worker_context(local.to_local_worker_context(self_url))
        .with_distributed_desired_task_count_handler(|ev: DesiredTaskCountEvent<'_>| {
            holds_ours(ev.plan).then(|| Ok(DesiredTaskCountEventResponse::maximum(1)))
        })
        .with_distributed_file_scan_config_bytes_per_partition(config.bytes_per_partition)
}
