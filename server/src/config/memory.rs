//! The memory limit in the configuration: which budgets the file and the flags set, and
//! [`Config::plan_memory`], which divides the limit into the others
//! (`crate::memory::plan`).

use std::collections::BTreeMap;
use std::time::Duration;

use strata_query::memory::QueryMemory;

use super::Config;
use super::file::{FileConfig, SizeValue};
use crate::error::{Error, Result};
use crate::memory::plan::{
    EXEMPLARS, HEAD, INFLIGHT, METADATA_CACHE, MemoryPlan, PAGE_CACHE, QUERIES, RULES, Source,
};
use crate::memory::{Ceiling, cgroup};

/// Default of `server.query_queue_timeout`: how long a query waits for a turn to run.
pub(crate) const DEFAULT_QUERY_QUEUE_TIMEOUT: Duration = Duration::from_secs(10);

/// Default of `sql.max_spill_bytes`: what SQL queries may spill to disk, all together.
pub(crate) const DEFAULT_MAX_SPILL_BYTES: u64 = 2 << 30;

/// Estimated bytes one exemplar holds in a tenant's ring (entry, labels shared with its
/// series, the newest-per-series map): `server.exemplar_memory_bytes` over this is
/// `limits.max_exemplars`.
pub(crate) const EXEMPLAR_BYTES: u64 = 160;

/// Default `limits.max_exemplars` (Prometheus's `max_exemplars` default).
const DEFAULT_MAX_EXEMPLARS: usize = 100_000;

/// Default `engine.flush_head_samples`: 4,000,000 samples (64 MB).
const DEFAULT_FLUSH_HEAD_SAMPLES: u64 = 4_000_000;

/// What the configuration says of memory before the limit is divided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemorySettings {
    /// `server.memory_limit`, when set.
    pub limit: Option<u64>,
    /// Budgets set explicitly, by key (`crate::memory::plan::SHARES`).
    pub explicit: BTreeMap<&'static str, u64>,
    /// `server.max_concurrent_queries`, when set.
    pub max_concurrent_queries: Option<usize>,
    /// `engine.flush_head_samples` was set.
    pub flush_explicit: bool,
}

/// Reads the memory keys of `file` into `c` (before `c`'s other budgets are resolved).
pub(super) fn read(file: &FileConfig, c: &mut Config) -> Result<()> {
    let s = &file.server;
    let size =
        |key: &'static str, v: &Option<SizeValue>| v.as_ref().map(|v| v.bytes(key)).transpose();
    c.memory_settings.limit = size("server.memory_limit", &s.memory_limit)?;
    let m = &mut c.memory_settings.explicit;
    for (key, v) in [
        (QUERIES, &s.query_memory_bytes),
        (RULES, &s.rules_memory_bytes),
        (EXEMPLARS, &s.exemplar_memory_bytes),
    ] {
        if let Some(n) = size(key, v)? {
            m.insert(key, n);
        }
    }
    for (key, v) in [
        (HEAD, file.engine.max_head_bytes),
        (PAGE_CACHE, file.engine.page_cache_bytes),
        (INFLIGHT, s.max_inflight_bytes),
        (
            METADATA_CACHE,
            file.sql.metadata_cache_bytes.map(|n| n as u64),
        ),
    ] {
        if let Some(n) = v {
            m.insert(key, n);
        }
    }
    if let Some(n) = file.limits.max_exemplars {
        m.insert(EXEMPLARS, n as u64 * EXEMPLAR_BYTES);
    }
    c.memory_settings.flush_explicit = file.engine.flush_head_samples.is_some();
    if let Some(n) = s.max_concurrent_queries {
        if n == 0 {
            return Err(Error::config(
                "server.max_concurrent_queries",
                "must be at least 1",
            ));
        }
        c.memory_settings.max_concurrent_queries = Some(n);
    }
    if let Some(t) = &s.query_queue_timeout {
        c.query_queue_timeout = super::parse_duration("server.query_queue_timeout", t)?;
    }
    if let Some(v) = &file.sql.max_spill_bytes {
        c.sql.max_spill_bytes = v.bytes("sql.max_spill_bytes")?;
    }
    if let Some(n) = file.promql.max_samples {
        if n == 0 {
            return Err(Error::config("promql.max_samples", "must be at least 1"));
        }
        c.promql.max_samples = n;
    }
    Ok(())
}

impl Config {
    /// Divides the memory limit (`server.memory_limit`, else [`cgroup::detect`]'s ceiling
    /// times [`crate::memory::plan::LIMIT_FRACTION`]) into the budgets the configuration
    /// does not set, and sets them: the head (and the flush threshold, a quarter of it),
    /// ingest in flight, the page and footer caches, the exemplar rings, the rules' and
    /// the queries' pools.
    pub fn plan_memory(&mut self) -> Result<()> {
        self.plan_memory_with(cgroup::detect())
    }

    /// [`Self::plan_memory`] with the ceiling given.
    pub fn plan_memory_with(&mut self, ceiling: Option<Ceiling>) -> Result<()> {
        let ms = &self.memory_settings;
        let (limit, source) = match (ms.limit, ceiling) {
            (Some(l), _) => (l, Source::Configured),
            (None, Some(c)) => (
                (c.bytes() as f64 * crate::memory::plan::LIMIT_FRACTION) as u64,
                Source::Detected(c),
            ),
            (None, None) => (crate::memory::plan::FALLBACK_LIMIT, Source::Fallback),
        };
        if limit < 16 << 20 {
            return Err(Error::config(
                "server.memory_limit",
                format!(
                    "{} is below the 16 MiB the process needs",
                    crate::memory::size(limit)
                ),
            ));
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let plan = MemoryPlan::divide(
            limit,
            source,
            |k| ms.explicit.get(k).copied(),
            ms.max_concurrent_queries,
            cores,
        );
        let explicit = |k: &str| ms.explicit.contains_key(k);
        self.engine.max_head_bytes = plan.get(HEAD);
        if !ms.flush_explicit {
            self.engine.flush_head_samples =
                (plan.get(HEAD) / 16 / 4).clamp(1024, DEFAULT_FLUSH_HEAD_SAMPLES);
        }
        self.max_inflight_bytes = plan.get(INFLIGHT);
        self.engine.page_cache_bytes = plan.get(PAGE_CACHE);
        self.sql.query.metadata_cache_bytes = plan.get(METADATA_CACHE) as usize;
        if !explicit(EXEMPLARS) {
            // Tenants that do not set their own follow the default.
            let n = ((plan.get(EXEMPLARS) / EXEMPLAR_BYTES) as usize).min(DEFAULT_MAX_EXEMPLARS);
            let old = self.engine.limits.max_exemplars;
            self.engine.limits.max_exemplars = n;
            for l in self.engine.tenant_limits.values_mut() {
                if l.max_exemplars == old {
                    l.max_exemplars = n;
                }
            }
        }
        let per_query = plan.per_query() as usize;
        // `sql.memory_pool_bytes` set explicitly lowers SQL's share; it cannot raise it.
        if !self.sql.pool_explicit {
            self.sql.query.memory_pool_bytes = per_query.max(1 << 20);
        }
        self.sql.query.memory = QueryMemory::new(plan.get(QUERIES) as usize, per_query);
        self.rules_memory = QueryMemory::new(plan.get(RULES) as usize, plan.get(RULES) as usize);
        if let Some(sum) = plan.over_limit() {
            tracing::warn!("{}", plan.over_text(sum));
        }
        self.memory = plan;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::memory::plan::{Origin, size};

    const MIB: u64 = 1 << 20;

    fn cgroup(bytes: u64) -> Option<Ceiling> {
        Some(Ceiling::Cgroup {
            version: 2,
            file: PathBuf::from("/sys/fs/cgroup/memory.max"),
            bytes,
        })
    }

    #[test]
    fn a_container_limit_is_divided_into_every_budget() {
        let mut c = Config::from_toml("").expect("config");
        c.plan_memory_with(cgroup(256 * MIB)).expect("plan");
        let limit = 192 * MIB;
        assert_eq!(c.memory.limit, limit);
        let share = |f: f64| (limit as f64 * f) as u64;
        assert_eq!(c.engine.max_head_bytes, share(0.20));
        assert_eq!(c.engine.flush_head_samples, share(0.20) / 16 / 4);
        assert_eq!(c.max_inflight_bytes, share(0.10));
        assert_eq!(c.engine.page_cache_bytes, share(0.08));
        assert_eq!(c.sql.query.metadata_cache_bytes as u64, share(0.03));
        assert_eq!(
            c.engine.limits.max_exemplars as u64,
            share(0.02) / EXEMPLAR_BYTES
        );
        let per_query = share(0.40) / c.memory.max_concurrent_queries as u64;
        assert_eq!(c.sql.query.memory.total() as u64, share(0.40));
        assert_eq!(c.sql.query.memory.per_query() as u64, per_query);
        assert_eq!(c.sql.query.memory_pool_bytes as u64, per_query);
        assert_eq!(c.rules_memory.total() as u64, share(0.05));
        c.validate().expect("a derived plan is valid");
        let text = c.memory.describe();
        assert!(
            text.contains("0.75 of the cgroup v2 limit 256 MiB (/sys/fs/cgroup/memory.max)"),
            "{text}"
        );
        assert!(!text.contains("warning"), "{text}");
    }

    #[test]
    fn the_limit_can_be_set_and_explicit_budgets_win() {
        let mut c = Config::from_toml(
            "[server]\nmemory_limit = \"128MiB\"\nmax_concurrent_queries = 1\n\
             query_queue_timeout = \"3s\"\n[engine]\nmax_head_bytes = 268435456\n\
             [sql]\nmemory_pool_bytes = 4194304\nmax_spill_bytes = \"1GiB\"\n",
        )
        .expect("config");
        c.plan_memory_with(cgroup(64 * MIB)).expect("plan");
        assert_eq!(c.memory.limit, 128 * MIB);
        assert_eq!(c.memory.source, Source::Configured);
        assert_eq!(c.engine.max_head_bytes, 256 * MIB);
        assert_eq!(c.memory.budgets[0].origin, Origin::Explicit);
        assert_eq!(c.memory.max_concurrent_queries, 1);
        assert_eq!(c.query_queue_timeout, Duration::from_secs(3));
        assert_eq!(
            c.sql.query.memory_pool_bytes,
            4 * MIB as usize,
            "explicit lowers SQL's share"
        );
        assert_eq!(c.sql.max_spill_bytes, 1 << 30);
        let text = c.memory.describe();
        assert!(text.contains("set explicitly"), "{text}");
        assert!(text.contains("warning: the budgets add up to"), "{text}");
        assert!(text.contains(&size(128 * MIB)), "{text}");
    }

    #[test]
    fn the_flag_beats_the_file_and_bad_sizes_name_the_key() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[server]\nmemory_limit = \"1GiB\"\n").expect("write");
        let o = super::super::resolve::Overrides {
            memory_limit: Some(300 * MIB),
            ..Default::default()
        };
        let c = Config::load(Some(&path), &o).expect("load");
        assert_eq!(c.memory.limit, 300 * MIB);
        for (text, key) in [
            ("[server]\nmemory_limit = \"lots\"\n", "server.memory_limit"),
            (
                "[server]\nquery_memory_bytes = \"1 parsec\"\n",
                "server.query_memory_bytes",
            ),
            (
                "[server]\nmax_concurrent_queries = 0\n",
                "server.max_concurrent_queries",
            ),
            ("[server]\nmemory_limit = \"1MiB\"\n", "server.memory_limit"),
            ("[sql]\nmax_spill_bytes = \"x\"\n", "sql.max_spill_bytes"),
        ] {
            let err = Config::from_toml(text).expect_err(text).to_string();
            assert!(err.contains(key), "{text}: {err}");
        }
    }

    #[test]
    fn no_ceiling_falls_back_to_one_gib() {
        let mut c = Config::from_toml("").expect("config");
        c.plan_memory_with(None).expect("plan");
        assert_eq!(c.memory.limit, 1 << 30);
        assert!(
            c.memory.describe().contains("no cgroup limit"),
            "{}",
            c.memory.describe()
        );
    }
}
