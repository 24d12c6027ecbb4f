//! Configuration shared by the engine's integration tests.
//!
//! Many tests write at fixed timestamps (1970, or November 2025) with the real clock, so
//! they keep metrics for a century instead of the default 30 days, which would reject
//! those samples as out of retention, and turn partitions cold only after a century too
//! (compaction would otherwise write every such partition in the cold layout; the cold
//! layout has tests of its own, `cold.rs`).
#![allow(dead_code)]

use std::time::Duration;

use std::collections::BTreeMap;

use strata_engine::{Engine, EngineConfig, Limits, TenantId};

/// A century.
pub(crate) const FOREVER: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Default limits, keeping metrics for a century and young for as long.
pub(crate) fn limits() -> Limits {
    Limits {
        metrics_retention: FOREVER,
        cold_after: FOREVER,
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

/// Every series of `t` (memory and files) as labels -> (ts, value bits).
pub(crate) fn dump(engine: &Engine, t: &TenantId) -> BTreeMap<String, Vec<(i64, u64)>> {
    engine
        .select(t, &[], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .map(|s| {
            let v = s
                .samples
                .iter()
                .map(|x| (x.ts, x.value.to_bits()))
                .collect();
            (s.labels.to_string(), v)
        })
        .collect()
}
