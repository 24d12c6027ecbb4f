//! Configuration shared by the engine's integration tests.
//!
//! Many tests write at fixed timestamps (1970, or November 2025) with the real clock, so
//! they keep metrics for a century instead of the default 30 days, which would reject
//! those samples as out of retention.
#![allow(dead_code)]

use std::time::Duration;

use strata_engine::{EngineConfig, Limits};

/// A century.
pub(crate) const FOREVER: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Default limits, keeping metrics for a century.
pub(crate) fn limits() -> Limits {
    Limits {
        metrics_retention: FOREVER,
        ..Limits::default()
    }
}

/// The default configuration with [`limits`].
pub(crate) fn config() -> EngineConfig {
    EngineConfig {
        limits: limits(),
        ..EngineConfig::default()
    }
}
