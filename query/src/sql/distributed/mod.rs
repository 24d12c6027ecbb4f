//! SQL over several processes with `datafusion-distributed` (`docs/scale-out.md`): a query
//! process plans as usual and the library splits its Parquet scans across workers
//! (`strata serve --role worker`), each reading the bucket's files by key through its own
//! cache ([`crate::sql::scan::bucket`]); each file goes whole to one worker, the same at every
//! query ([`placement`]). The merge of overlapping sample sets goes to workers through
//! Strata's codec ([`codec`]). The line lookup and the in-memory tables (`series`)
//! are kept to one task, which runs in the query process itself.
//!
//! With a cluster token (`[cluster] token_file`), every task a query process or a worker
//! sends carries `authorization: Bearer <token>`; the server checks it on the worker's
//! side of the gRPC listener.

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::{SessionState, SessionStateBuilder};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_distributed::{
    DesiredTaskCountEvent, DesiredTaskCountEventResponse, DistributedExt, SessionStateBuilderExt,
    Worker, WorkerQueryContext, WorkerSessionBuilder,
};
use http::HeaderMap;
use http::header::{AUTHORIZATION, HeaderValue};
use strata_engine::Engine;
use url::Url;

mod codec;
pub(crate) mod health;
mod placement;

use codec::StrataCodec;

use super::{ClusterToken, SqlConfig};
use crate::sql::scan::bucket::EngineSlot;

/// The URL the query process's own worker answers as: stages of one task run there.
const LOCAL_WORKER: &str = "http://strata-query-process.local";

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

/// The headers every task sent to a worker carries: the cluster token, if any.
fn task_headers(token: Option<&ClusterToken>) -> Result<HeaderMap> {
    let mut headers = HeaderMap::new();
    if let Some(t) = token {
        let value = HeaderValue::from_str(&format!("Bearer {}", t.secret()))
            .map_err(|e| DataFusionError::Configuration(format!("cluster token: {e}")))?;
        headers.insert(AUTHORIZATION, value);
    }
    Ok(headers)
}

/// Builds the session of each task a worker runs, so that the tasks it sends on to other
/// workers (the inputs of a stage) carry the cluster token too.
#[derive(Clone)]
struct TaskSessions {
    headers: HeaderMap,
}

#[async_trait]
impl WorkerSessionBuilder for TaskSessions {
    async fn build_session_state(&self, ctx: WorkerQueryContext) -> Result<SessionState> {
        health::note_task();
        Ok(ctx
            .builder
            .with_distributed_user_codec(StrataCodec)
            .with_distributed_passthrough_headers(self.headers.clone())?
            .build())
    }
}

/// A worker over `runtime` whose tasks send `token` on.
fn worker_over(runtime: Arc<RuntimeEnv>, token: Option<&ClusterToken>) -> Result<Worker> {
    let sessions = TaskSessions {
        headers: task_headers(token)?,
    };
    Ok(Worker::from_session_builder(sessions).with_runtime_env(runtime))
}

/// A worker's service over `engine` (a reader of the bucket), reading with `runtime`'s
/// memory pool and footer cache, its tasks sending `token` to other workers; serve it
/// with `tonic` (`Worker::into_worker_server`).
pub fn worker(
    engine: Arc<Engine>,
    runtime: Arc<RuntimeEnv>,
    token: Option<&ClusterToken>,
) -> Result<Worker> {
    crate::sql::scan::bucket::register(&runtime, engine)?;
    worker_over(runtime, token)
}

/// A worker's service for a server whose engine (a reader of the bucket, data directory
/// `dir`) is still opening: `slot` gives it once open, and tasks that read before then
/// fail with "not ready". Its tasks share one runtime with `config`'s whole memory pool and
/// footer cache, and read nothing but the bucket's files: the local file system is not
/// registered, so a plan naming `file://` paths fails.
pub fn worker_for(dir: &Path, slot: EngineSlot, config: &SqlConfig) -> Result<Worker> {
    config
        .validate()
        .map_err(|e| DataFusionError::Configuration(e.to_string()))?;
    // Tasks of every query this worker runs charge one account: the whole pool.
    let runtime = crate::sql::runtime::runtime_env(config, &config.memory.whole())?;
    let file = Url::parse("file:///").map_err(|e| DataFusionError::Configuration(e.to_string()))?;
    runtime.object_store_registry.deregister_store(&file)?;
    crate::sql::scan::bucket::register_slot(&runtime, dir, slot)?;
    worker_over(runtime, config.cluster_token.as_ref())
}

/// Whether `plan` stays in the query process: the line lookup (its searches ran while
/// planning, here) and the in-memory tables.
fn ours(plan: &Arc<dyn ExecutionPlan>) -> bool {
    plan.name() == "LineLookupExec"
        || (plan.as_ref() as &dyn std::any::Any)
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

/// `builder` (its config already set) planning over the workers of `spread` that are up
/// ([`health`]), with the query process's own worker over `runtime` for the stages that
/// stay here, and `config`'s `bytes_per_partition` and cluster token.
pub(crate) fn distribute(
    builder: SessionStateBuilder,
    spread: Arc<health::Spread>,
    engine: Arc<Engine>,
    runtime: Arc<RuntimeEnv>,
    config: &SqlConfig,
) -> Result<SessionStateBuilder> {
    let token = config.cluster_token.as_ref();
    let local = worker(engine, runtime, token)?;
    let self_url =
        Url::parse(LOCAL_WORKER).map_err(|e| DataFusionError::Configuration(e.to_string()))?;
    builder
        .with_distributed_planner()
        .with_distributed_user_codec(StrataCodec)
        .with_distributed_worker_resolver(health::LiveWorkers(spread))
        .with_distributed_local_worker_context(local.to_local_worker_context(self_url))
        .with_distributed_desired_task_count_handler(|ev: DesiredTaskCountEvent<'_>| {
            holds_ours(ev.plan).then(|| Ok(DesiredTaskCountEventResponse::maximum(1)))
        })
        .with_distributed_scale_up_leaf_node_handler(placement::scale_up)
        .with_distributed_route_tasks_handler(placement::route)
        .with_distributed_file_scan_config_bytes_per_partition(config.bytes_per_partition)?
        .with_distributed_passthrough_headers(task_headers(token)?)
}
