//! The DataFusion runtime of a query or of a worker's tasks: its memory pool, where it
//! spills, and the process's footer cache.

use std::sync::Arc;

use datafusion::execution::disk_manager::{DiskManagerBuilder, DiskManagerMode};
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};

use super::SqlConfig;
use crate::memory::QueryBudget;
use crate::sql::scan::footers;

/// The runtime of one query (or of a worker's tasks): `budget` as its memory pool (its
/// share of the process's query pool), spilling where `config.memory` has a spill
/// directory (nowhere otherwise), the process's footer cache.
pub(crate) fn runtime_env(
    config: &SqlConfig,
    budget: &QueryBudget,
) -> datafusion::error::Result<Arc<RuntimeEnv>> {
    let mut builder = RuntimeEnvBuilder::new()
        .with_memory_pool(budget.pool())
        .with_cache_manager(footers::cache_config(config.metadata_cache_bytes));
    match config.memory.spill() {
        Some(disk) => builder.disk_manager = Some(disk.clone()),
        None => {
            builder = builder.with_disk_manager_builder(
                DiskManagerBuilder::default().with_mode(DiskManagerMode::Disabled),
            )
        }
    }
    builder.build_arc()
}
