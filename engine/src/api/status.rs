//! What an operator's status page reads of a tenant: the head's cardinality
//! (`metrics/cardinality.rs`), its limits, and its committed partitions per signal.

use std::collections::BTreeMap;

use crate::lifecycle::maintenance::TierDay;
use crate::metrics::cardinality::{self, Cardinality, CardinalityQuery};
use crate::metrics::tiers;
use crate::signal_kind::Signal;
use crate::storage::partition::{PARTITION_MS, partition_start};
use crate::{Engine, Error, Limits, Result, TenantId};

/// One committed partition (an hour) of one signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionDisk {
    /// Its first millisecond.
    pub start: i64,
    /// The first millisecond after it.
    pub end: i64,
    /// Committed file sets in it.
    pub file_sets: usize,
    /// Bytes of their files.
    pub bytes: u64,
}

/// A tenant's committed data of one signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignalDisk {
    /// `metrics`, `traces` or `logs`, or a downsampled tier of metrics (`metrics_5m`,
    /// whose partitions are days).
    pub signal: &'static str,
    /// The tenant's retention of the signal, ms.
    pub retention_ms: i64,
    /// Bytes of all its partitions.
    pub bytes: u64,
    /// Its partitions, oldest first.
    pub partitions: Vec<PartitionDisk>,
}

/// Partitions waiting for a compaction pass, over every tenant and signal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompactionBacklog {
    /// Closed partitions (past their hour and the out-of-order window) that hold more than
    /// one file set, or a metrics set as a flush wrote it: what the next passes will merge
    /// or rewrite. Spans and logs of such a partition may still be settling.
    pub partitions: usize,
    /// Their file sets.
    pub file_sets: usize,
    /// Bytes of those file sets.
    pub bytes: u64,
}

impl Engine {
    /// The cardinality of `tenant`'s head (the series in memory), Prometheus's
    /// `/api/v1/status/tsdb` figures and VictoriaMetrics's: series per metric name, distinct
    /// values and series per label name, series per label pair, label bytes, the series
    /// each of the top label names adds, and the focus label's values. Computed from the
    /// head's postings, one shard locked at a time (writes to that shard wait meanwhile).
    ///
    /// Fails with [`Error::InvalidRequest`] on a `limit` of 0.
    ///
    /// ```
    /// use strata_engine::{CardinalityQuery, Clock, Engine, EngineConfig, Sample, SeriesSamples};
    /// use strata_engine::{SystemClock, TenantId};
    ///
    /// let dir = tempfile::tempdir()?;
    /// let t = TenantId::new("acme")?;
    /// let engine = Engine::open(dir.path(), EngineConfig::default())?;
    /// let now = SystemClock.now_ms();
    /// let up = |pod: &str| SeriesSamples {
    ///     labels: vec![("__name__".into(), "up".into()), ("pod".into(), pod.into())],
    ///     samples: vec![Sample { ts: now, value: 1.0 }],
    /// };
    /// engine.write(&t, &[up("a"), up("b"), up("c")])?;
    /// let q = CardinalityQuery { limit: 10, ..CardinalityQuery::default() };
    /// let c = engine.cardinality(&t, &q)?;
    /// assert_eq!(c.series, 3);
    /// assert_eq!(c.series_by_metric[0].name, "up");
    /// // Without `pod`, the three series would be one: `pod` adds two.
    /// assert_eq!(c.series_added_by_label[0].value, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cardinality(&self, tenant: &TenantId, query: &CardinalityQuery) -> Result<Cardinality> {
        if query.limit == 0 {
            return Err(Error::InvalidRequest {
                reason: "limit must be at least 1".into(),
            });
        }
        Ok(match self.core().metrics.existing_head(tenant) {
            Some(head) => cardinality::compute(&head, query),
            None => Cardinality::default(),
        })
    }

    /// Drops the decoded samples pages kept between queries (`page_cache_bytes`), as the
    /// server does under memory pressure before it refuses queries; returns the bytes
    /// they held. Later reads decode their pages again and refill the cache.
    pub fn shed_page_cache(&self) -> u64 {
        self.core().metrics.page_cache.clear()
    }

    /// Whether the head is under `max_head_bytes` (a write would not be refused as over
    /// capacity); when it is not, a flush is started. The server waits on it briefly
    /// before it lets a write be refused.
    pub fn head_has_room(&self) -> bool {
        self.core().head_has_room()
    }

    /// What the head holds against `max_head_bytes`, bytes (unflushed samples at 16 bytes
    /// each, native histograms, spans and log records).
    pub fn head_bytes(&self) -> u64 {
        self.core().head_bytes()
    }

    /// The bytes the decoded samples pages kept between queries hold.
    pub fn page_cache_used(&self) -> u64 {
        self.core().metrics.page_cache.bytes()
    }

    /// The limits that apply to `tenant` (its override, or the defaults).
    pub fn limits_for(&self, tenant: &TenantId) -> &Limits {
        self.core().config.limits_for(tenant)
    }

    /// The oldest timestamp (ms) of `tenant`'s metric samples still in memory (not yet
    /// flushed to a partition), or `None`: with [`Engine::disk_partitions`], where a
    /// reader that walks a tenant's time (an export) must start. Visits every head series.
    pub fn head_oldest_ms(&self, tenant: &TenantId) -> Option<i64> {
        self.core().metrics.head(tenant).oldest_ms()
    }

    /// `tenant`'s committed partitions per signal (metrics, traces, logs, in that order;
    /// a signal without any has an empty list): file sets and bytes per partition, from
    /// the engine's file lists (no disk access).
    pub fn disk_partitions(&self, tenant: &TenantId) -> Vec<SignalDisk> {
        let core = self.core();
        let limits = core.config.limits_for(tenant);
        core.file_maps()
            .into_iter()
            .map(|(signal, map)| {
                let mut parts: BTreeMap<i64, PartitionDisk> = BTreeMap::new();
                let files = map.read().unwrap_or_else(|p| p.into_inner());
                for f in files.get(tenant).into_iter().flatten() {
                    let start = partition_start(f.entry.min_ts);
                    let p = parts.entry(start).or_insert(PartitionDisk {
                        start,
                        end: start.saturating_add(PARTITION_MS),
                        file_sets: 0,
                        bytes: 0,
                    });
                    p.file_sets += 1;
                    p.bytes += f.entry.bytes;
                }
                let partitions: Vec<PartitionDisk> = parts.into_values().collect();
                SignalDisk {
                    signal: signal.dir(),
                    retention_ms: limits.signal_retention_ms(signal),
                    bytes: partitions.iter().map(|p| p.bytes).sum(),
                    partitions,
                }
            })
            .chain(tier_disks(
                core.tier_partitions().remove(tenant).unwrap_or_default(),
                limits.signal_retention_ms(Signal::Metrics),
            ))
            .collect()
    }

    /// What compaction has still to do ([`CompactionBacklog`]), from the engine's file
    /// lists (no disk access). The same choice as a compaction pass over closed partitions.
    pub fn compaction_backlog(&self) -> CompactionBacklog {
        let core = self.core();
        let now = core.clock.now_ms();
        let window = core.config.window_ms();
        let mut out = CompactionBacklog::default();
        for (signal, map) in core.file_maps() {
            // Per partition directory: file sets, bytes, whether closed, whether a metrics
            // set is as a flush wrote it.
            let files = map.read().unwrap_or_else(|p| p.into_inner());
            let mut groups: BTreeMap<(&TenantId, &std::path::Path), (usize, u64, bool, bool)> =
                BTreeMap::new();
            for (tenant, list) in files.iter() {
                for f in list {
                    let end = partition_start(f.entry.min_ts).saturating_add(PARTITION_MS);
                    let g = groups.entry((tenant, f.dir.as_path())).or_insert((
                        0,
                        0,
                        end.saturating_add(window) <= now,
                        false,
                    ));
                    g.0 += 1;
                    g.1 += f.entry.bytes;
                    let cold_after = core.config.limits_for(tenant).cold_after_ms();
                    let layout = crate::storage::partition::metrics_layout(end, cold_after, now);
                    g.3 |= signal == Signal::Metrics && f.entry.layout() < layout;
                }
            }
            for (sets, bytes, closed, flushed) in groups.into_values() {
                if closed && (sets > 1 || flushed) {
                    out.partitions += 1;
                    out.file_sets += sets;
                    out.bytes += bytes;
                }
            }
        }
        out
    }
}

/// A tenant's downsampled tiers as signals of their own (`metrics_5m`, ...), finer first,
/// each partition a day; they live as long as the metrics retention.
fn tier_disks(days: BTreeMap<i64, TierDay>, retention_ms: i64) -> Vec<SignalDisk> {
    let mut by_res: BTreeMap<i64, Vec<PartitionDisk>> = BTreeMap::new();
    for (start, (_, sets, bytes)) in days {
        let Some(res) = sets.first().and_then(|f| tiers::resolution_of(f)) else {
            continue;
        };
        let start = tiers::day_start(start);
        by_res.entry(res).or_default().push(PartitionDisk {
            start,
            end: start.saturating_add(tiers::DAY_MS),
            file_sets: sets.len(),
            bytes,
        });
    }
    by_res
        .into_iter()
        .map(|(res, partitions)| SignalDisk {
            signal: tiers::tier_signal(res),
            retention_ms,
            bytes: partitions.iter().map(|p| p.bytes).sum(),
            partitions,
        })
        .collect()
}
