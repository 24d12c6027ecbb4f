//! One memory limit divided into every budget of the process, by documented shares.
//!
//! The limit is `server.memory_limit` when set, else [`LIMIT_FRACTION`] of the ceiling
//! (the cgroup's limit or the machine's RAM, [`super::cgroup`]). Each budget in [`SHARES`]
//! gets its share of the limit, at most its cap (today's fixed default: a large machine
//! keeps the defaults it had), unless the configuration sets it: an explicit value wins,
//! and the plan warns when the budgets add up to more than the limit.

use std::fmt::Write as _;

use super::cgroup::Ceiling;

/// The share of the ceiling the process takes when `server.memory_limit` is not set: the
/// rest is for what no budget counts (the allocator's free lists, thread stacks, the
/// binary, the kernel's page cache charged to the cgroup) and the other processes of a
/// machine without a container.
pub const LIMIT_FRACTION: f64 = 0.75;

/// The limit used when no ceiling can be read (no `/proc`): 1 GiB.
pub const FALLBACK_LIMIT: u64 = 1 << 30;

/// One budget: its configuration key, its share of the limit, its cap and its floor.
#[derive(Debug, Clone, Copy)]
pub struct Share {
    /// The key that sets it explicitly.
    pub key: &'static str,
    /// Its share of the limit.
    pub share: f64,
    /// The most it gets from its share (the fixed default it had before the limit).
    pub cap: u64,
    /// The least it gets.
    pub floor: u64,
}

const MIB: u64 = 1 << 20;

/// The head: unflushed samples, spans, logs (`engine.max_head_bytes`).
pub const HEAD: &str = "engine.max_head_bytes";
/// Ingest requests being decoded (`server.max_inflight_bytes`).
pub const INFLIGHT: &str = "server.max_inflight_bytes";
/// Decoded sample pages kept between queries.
pub const PAGE_CACHE: &str = "engine.page_cache_bytes";
/// Parquet footers kept between queries.
pub const METADATA_CACHE: &str = "sql.metadata_cache_bytes";
/// Exemplars in memory, all tenants' rings together.
pub const EXEMPLARS: &str = "server.exemplar_memory_bytes";
/// Rule evaluation (its own pool: rules never wait for query admission).
pub const RULES: &str = "server.rules_memory_bytes";
/// The query pool shared by every query of every language.
pub const QUERIES: &str = "server.query_memory_bytes";

/// The budgets and their shares of the limit (they add up to 0.88; the rest is for what
/// no budget counts: the series index, label strings, buffers of requests being read).
pub const SHARES: [Share; 7] = [
    Share {
        key: HEAD,
        share: 0.20,
        cap: 512 * MIB,
        floor: 4 * MIB,
    },
    Share {
        key: INFLIGHT,
        share: 0.10,
        cap: 256 * MIB,
        floor: MIB,
    },
    Share {
        key: PAGE_CACHE,
        share: 0.08,
        cap: 128 * MIB,
        floor: 0,
    },
    Share {
        key: METADATA_CACHE,
        share: 0.03,
        cap: 64 * MIB,
        floor: 0,
    },
    Share {
        key: EXEMPLARS,
        share: 0.02,
        cap: 16 * MIB,
        floor: 0,
    },
    Share {
        key: RULES,
        share: 0.05,
        cap: 256 * MIB,
        floor: 4 * MIB,
    },
    Share {
        key: QUERIES,
        share: 0.40,
        cap: u64::MAX,
        floor: 4 * MIB,
    },
];

/// Where the limit comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `server.memory_limit` (or `STRATA_MEMORY_LIMIT`, `--memory-limit`).
    Configured,
    /// [`LIMIT_FRACTION`] of this ceiling.
    Detected(Ceiling),
    /// Nothing could be read: [`FALLBACK_LIMIT`].
    Fallback,
}

/// How one budget got its value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Origin {
    /// Its share of the limit (capped).
    Share(f64),
    /// Set in the configuration.
    Explicit,
}

/// One budget of the plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    /// Its key.
    pub key: &'static str,
    /// Its bytes.
    pub bytes: u64,
    /// How it got them.
    pub origin: Origin,
}

/// The limit and its division.
#[derive(Debug, Clone, PartialEq)]
pub struct MemoryPlan {
    /// The limit, bytes.
    pub limit: u64,
    /// Where it came from.
    pub source: Source,
    /// Each budget, in [`SHARES`]'s order.
    pub budgets: Vec<Budget>,
    /// Queries that run at once (`server.max_concurrent_queries`).
    pub max_concurrent_queries: usize,
    /// Whether `max_concurrent_queries` was set explicitly.
    pub concurrency_explicit: bool,
}

/// The least share of the query pool the default `server.max_concurrent_queries` leaves
/// each query: a heavy PromQL range query over a few thousand series for an hour holds
/// 20-30 MiB (the small-box bench), so a small pool runs fewer queries at once rather
/// than more that each fail.
pub const MIN_QUERY_SHARE: u64 = 32 << 20;

impl MemoryPlan {
    /// Divides `limit` (from `source`): `explicit(key)` gives a budget set in the
    /// configuration; `concurrency` the explicit `server.max_concurrent_queries`, else
    /// one per core (at least 2), but no more than leave each query
    /// [`MIN_QUERY_SHARE`] of the query pool (at least one query).
    pub fn divide(
        limit: u64,
        source: Source,
        explicit: impl Fn(&str) -> Option<u64>,
        concurrency: Option<usize>,
        cores: usize,
    ) -> Self {
        let budgets = SHARES
            .iter()
            .map(|s| match explicit(s.key) {
                Some(bytes) => Budget {
                    key: s.key,
                    bytes,
                    origin: Origin::Explicit,
                },
                None => Budget {
                    key: s.key,
                    bytes: ((limit as f64 * s.share) as u64).clamp(s.floor, s.cap),
                    origin: Origin::Share(s.share),
                },
            })
            .collect();
        let mut plan = Self {
            limit,
            source,
            budgets,
            max_concurrent_queries: 1,
            concurrency_explicit: concurrency.is_some(),
        };
        let fits = (plan.get(QUERIES) / MIN_QUERY_SHARE).max(1) as usize;
        plan.max_concurrent_queries = concurrency.unwrap_or(cores.max(2).min(fits)).max(1);
        plan
    }

    /// The bytes of budget `key` (one of [`SHARES`]' keys; 0 for another).
    pub fn get(&self, key: &str) -> u64 {
        self.budgets
            .iter()
            .find(|b| b.key == key)
            .map_or(0, |b| b.bytes)
    }

    /// The most one query may hold: the query pool over the queries that run at once.
    pub fn per_query(&self) -> u64 {
        self.get(QUERIES) / self.max_concurrent_queries as u64
    }

    /// The budgets' sum, when it is over the limit.
    pub fn over_limit(&self) -> Option<u64> {
        let sum: u64 = self.budgets.iter().map(|b| b.bytes).sum();
        (sum > self.limit).then_some(sum)
    }

    /// Where the limit came from, in words.
    pub fn source_text(&self) -> String {
        match &self.source {
            Source::Configured => "server.memory_limit".to_owned(),
            Source::Detected(Ceiling::Cgroup {
                version,
                file,
                bytes,
            }) => format!(
                "{LIMIT_FRACTION} of the cgroup v{version} limit {} ({})",
                size(*bytes),
                file.display()
            ),
            Source::Detected(Ceiling::Machine { bytes }) => {
                format!("{LIMIT_FRACTION} of the machine's RAM {}", size(*bytes))
            }
            Source::Fallback => format!(
                "no cgroup limit or /proc/meminfo could be read: {}",
                size(FALLBACK_LIMIT)
            ),
        }
    }

    /// The plan as lines for `strata check-config` and the start-up log: the limit and its
    /// source, then each budget with how it got its value.
    pub fn describe(&self) -> String {
        let mut out = format!(
            "memory limit {} ({}); {} queries at once, {} each at most\n",
            size(self.limit),
            self.source_text(),
            self.max_concurrent_queries,
            size(self.per_query()),
        );
        for b in &self.budgets {
            let how = match b.origin {
                Origin::Share(s) => format!("{:.0} % of the limit", s * 100.0),
                Origin::Explicit => "set explicitly".to_owned(),
            };
            let _ = writeln!(out, "  {:<28} {:>10}  {how}", b.key, size(b.bytes));
        }
        if let Some(sum) = self.over_limit() {
            let _ = writeln!(out, "  warning: {}", self.over_text(sum));
        }
        out
    }

    /// The warning when the budgets exceed the limit.
    pub fn over_text(&self, sum: u64) -> String {
        format!(
            "the budgets add up to {}, over the memory limit {}: the process may be killed by the kernel under load",
            size(sum),
            size(self.limit)
        )
    }
}

/// Bytes as `512 MiB`, `1.5 GiB`, `900 KiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 || v.fract() == 0.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

/// Parses a size: bytes (`268435456`), or a number with a unit, binary (`512MiB`, `1.5 GiB`,
/// and Docker's `512m`, `1g`) or decimal (`500MB`, `2GB`).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{text:?} is not a size like \"512MiB\" or \"1GiB\""))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "{text:?}: unknown unit {other:?} (use B, KiB, MiB, GiB, TiB, KB, MB, GB or TB)"
            ));
        }
    };
    let bytes = n * mult as f64;
    if !bytes.is_finite() || bytes < 1.0 || bytes >= u64::MAX as f64 {
        return Err(format!("{text:?} is not a size of at least one byte"));
    }
    Ok(bytes as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(limit: u64, explicit: &[(&str, u64)]) -> MemoryPlan {
        MemoryPlan::divide(
            limit,
            Source::Configured,
            |k| explicit.iter().find(|(e, _)| *e == k).map(|(_, v)| *v),
            None,
            2,
        )
    }

    #[test]
    fn a_small_limit_is_divided_by_the_shares() {
        let p = plan(192 * MIB, &[]);
        assert_eq!(p.get(HEAD), (192.0 * 0.20 * MIB as f64) as u64);
        assert_eq!(p.get(QUERIES), (192.0 * 0.40 * MIB as f64) as u64);
        assert_eq!(p.max_concurrent_queries, 2);
        assert_eq!(p.per_query(), p.get(QUERIES) / 2);
        let sum: u64 = p.budgets.iter().map(|b| b.bytes).sum();
        assert!(sum <= p.limit, "{sum} > {}", p.limit);
        assert_eq!(p.over_limit(), None);
        let text = p.describe();
        assert!(
            text.contains("memory limit 192 MiB (server.memory_limit)"),
            "{text}"
        );
        assert!(text.contains("engine.max_head_bytes"), "{text}");
    }

    #[test]
    fn a_small_pool_runs_fewer_queries_at_once_unless_told() {
        let concurrency = |limit: u64, cores: usize, set: Option<usize>| {
            MemoryPlan::divide(limit, Source::Configured, |_| None, set, cores)
                .max_concurrent_queries
        };
        // 96 MiB (a 128 MiB container): a 38.4 MiB pool, one query at a time.
        assert_eq!(concurrency(96 * MIB, 2, None), 1);
        // 192 MiB: 76.8 MiB, two.
        assert_eq!(concurrency(192 * MIB, 2, None), 2);
        assert_eq!(concurrency(192 * MIB, 8, None), 2);
        // Plenty: one per core, at least two.
        assert_eq!(concurrency(18 << 30, 8, None), 8);
        assert_eq!(concurrency(18 << 30, 1, None), 2);
        // An explicit value wins.
        assert_eq!(concurrency(96 * MIB, 2, Some(3)), 3);
    }

    #[test]
    fn a_large_limit_keeps_the_old_defaults_but_the_query_pool() {
        let p = plan(18 << 30, &[]);
        assert_eq!(p.get(HEAD), 512 * MIB);
        assert_eq!(p.get(PAGE_CACHE), 128 * MIB);
        assert_eq!(p.get(INFLIGHT), 256 * MIB);
        assert_eq!(p.get(QUERIES), ((18u64 << 30) as f64 * 0.40) as u64);
    }

    #[test]
    fn explicit_values_win_and_an_over_limit_sum_is_warned() {
        let p = plan(100 * MIB, &[(HEAD, 512 * MIB)]);
        assert_eq!(p.get(HEAD), 512 * MIB);
        assert_eq!(p.budgets[0].origin, Origin::Explicit);
        assert!(p.over_limit().is_some());
        assert!(
            p.describe().contains("warning: the budgets add up to"),
            "{}",
            p.describe()
        );
        let tiny = plan(MIB, &[]);
        assert_eq!(tiny.get(INFLIGHT), MIB, "floors hold");
    }

    #[test]
    fn sizes_parse_and_print() {
        assert_eq!(parse_size("512MiB"), Ok(512 * MIB));
        assert_eq!(parse_size(" 1.5 GiB "), Ok(3 << 29));
        assert_eq!(parse_size("256m"), Ok(256 * MIB));
        assert_eq!(parse_size("1g"), Ok(1 << 30));
        assert_eq!(parse_size("500MB"), Ok(500_000_000));
        assert_eq!(parse_size("1048576"), Ok(MIB));
        assert!(
            parse_size("12 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_size("").is_err());
        assert!(parse_size("0").is_err());
        assert_eq!(size(512 * MIB), "512 MiB");
        assert_eq!(size(3 << 29), "1.5 GiB");
        assert_eq!(size(100), "100 B");
    }
}
