//! The offline commands, `strata sql` ([`sql`]) and `strata promql` ([`promql`]), and what
//! they share: how a result is printed ([`OutputFormat`]) and opening a data directory
//! ([`open_engine`]). They only read, so they never drop data: retention and disk budgets are lifted whatever the
//! configuration says. Opening an engine applies retention at once, and a forgotten
//! `--config` must not apply the 30-day default to a directory a server keeps for a year.

pub(crate) mod promql;
pub(crate) mod sql;

use std::time::Duration;

use clap::ValueEnum;
use strata_engine::{Engine, Limits};

use crate::config::Config;
use crate::error::{Error, Result};

/// How query results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns.
    Table,
    /// Comma-separated values with a header line.
    Csv,
    /// JSON: for `promql` the Prometheus API's `data` object, for `sql` an array of one
    /// object per row.
    Json,
}

/// Longer than any data can be old.
const FOREVER: Duration = Duration::from_secs(1_000 * 365 * 86_400);

fn keep_everything(limits: &mut Limits) {
    limits.metrics_retention = FOREVER;
    limits.traces_retention = FOREVER;
    limits.logs_retention = FOREVER;
    limits.disk_budget = None;
}

/// The engine over `config.data_dir`, with nothing expiring.
pub(crate) fn open_engine(config: &Config) -> Result<Engine> {
    let mut engine_config = config.engine.clone();
    keep_everything(&mut engine_config.limits);
    engine_config
        .tenant_limits
        .values_mut()
        .for_each(keep_everything);
    Engine::open(&config.data_dir, engine_config).map_err(|source| Error::Engine {
        dir: config.data_dir.clone(),
        source,
    })
}
