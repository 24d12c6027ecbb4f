//! What the status endpoints (`/api/v1/status/runtimeinfo`, `/config`) show of the
//! process itself: when it started, the configuration in force with its secrets hidden
//! (`config/view.rs`), and the settings they report.

use std::time::{Duration, SystemTime};

use strata_wal::Durability;

use crate::config::Config;

/// Fixed at start.
#[derive(Debug, Clone)]
pub(crate) struct ProcessInfo {
    /// When the server state was made (the process start, near enough).
    pub(crate) started: SystemTime,
    /// The configuration as TOML, secrets hidden.
    pub(crate) config_toml: String,
    /// `engine.max_head_bytes`.
    pub(crate) max_head_bytes: u64,
    /// `wal.durability`: `fsync`, `interval` or `none`.
    pub(crate) durability: &'static str,
    /// The default tenant's metrics retention (`retention.metrics`).
    pub(crate) metrics_retention: Duration,
    /// `cluster.role`.
    pub(crate) role: &'static str,
}

impl ProcessInfo {
    /// From the resolved configuration.
    pub(crate) fn new(config: &Config) -> Self {
        Self {
            started: SystemTime::now(),
            config_toml: crate::config::view::redacted_toml(config),
            max_head_bytes: config.engine.max_head_bytes,
            durability: match config.engine.wal.durability {
                Durability::Fsync => "fsync",
                Durability::Interval(_) => "interval",
                Durability::None => "none",
            },
            metrics_retention: config.engine.limits.metrics_retention,
            role: config.role.as_str(),
        }
    }
}
