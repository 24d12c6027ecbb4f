//! Maintenance other than compaction: retention and the disk budget, and building missing trace-id filters.

use crate::lifecycle::Core;
use crate::metrics::tiers::day_start;
use crate::signal_kind::Signal;
use crate::spans_logs::spans::trace_filter::build;
use crate::spans_logs::store::SignalStore;
use crate::storage::fs::sync_dir;
use crate::storage::parquet_io::WrittenBy;
use crate::storage::partition::FileMap;
use crate::storage::partition::{PARTITION_MS, PartFile};
use crate::storage::retention::DROPPED;
use crate::storage::retention::Kept;
use crate::storage::retention::RetentionStats;
use crate::storage::retention::clean_dropped;
use crate::storage::retention::partitions;
use crate::telemetry::DiskUsage;
use crate::telemetry::Timer;
use crate::{Error, Result, TenantId};
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, RwLock};
use tracing::{info, warn};

/// A tier partition: its directory, file sets and bytes.
pub(crate) type TierDay = (std::path::PathBuf, Vec<Arc<PartFile>>, u64);

/// The index the disk budget's list gives a tier partition, after the three signals'.
const TIERS: usize = 3;

impl Core {
    /// Drops every partition past its tenant's retention, then the oldest partitions of
    /// tenants over their disk budget.
    pub(crate) fn apply_retention(&self) -> Result<RetentionStats> {
        self.writable()?;
        let _one_pass = self
            .maintenance_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let _timer = Timer::start(&self.latency.retention);
        let now = self.clock.now_ms();
        let mut stats = RetentionStats::default();
        // Per tenant, what is left after expiry: (start, signal index, dir, sets, bytes).
        let mut kept: BTreeMap<TenantId, Vec<Kept>> = BTreeMap::new();
        let maps = self.file_maps();
        for (i, (signal, files)) in maps.iter().enumerate() {
            for (tenant, parts) in partitions(files) {
                let limits = self.config.limits_for(&tenant);
                let cutoff = now.saturating_sub(limits.signal_retention_ms(*signal));
                for (start, (dir, sets)) in parts {
                    let bytes: u64 = sets.iter().map(|f| f.entry.bytes).sum();
                    if start.saturating_add(PARTITION_MS) <= cutoff {
                        self.drop_partition(files, &tenant, &dir)?;
                        stats.expired += 1;
                        stats.bytes += bytes;
                    } else {
                        kept.entry(tenant.clone())
                            .or_default()
                            .push((start, i, dir, sets, bytes));
                    }
                }
            }
        }
        // The budget covers all of a tenant's signals and its downsampled tiers: oldest
        // partition first (a tier's partition is a day, starting at its midnight), tiers
        // before raw metrics before traces before logs at one start.
        for (tenant, days) in self.tier_partitions() {
            let list = kept.entry(tenant).or_default();
            list.extend(
                days.into_iter()
                    .map(|(start, (dir, sets, bytes))| (start, TIERS, dir, sets, bytes)),
            );
        }
        for (tenant, mut parts) in kept {
            let Some(budget) = self.config.limits_for(&tenant).disk_budget else {
                continue;
            };
            parts.sort_by_key(|p| (p.0, p.1));
            let mut total: u64 = parts.iter().map(|p| p.4).sum();
            for (_, i, dir, _, bytes) in parts {
                if total <= budget {
                    break;
                }
                let map = maps.get(i).map_or(&self.metrics.tier_files, |m| m.1);
                self.drop_partition(map, &tenant, &dir)?;
                total -= bytes;
                stats.over_budget += 1;
                stats.bytes += bytes;
            }
        }
        self.finish_drops();
        if stats.expired + stats.over_budget > 0 {
            info!(
                expired = stats.expired,
                over_budget = stats.over_budget,
                bytes = stats.bytes,
                "retention dropped partitions"
            );
        }
        Ok(stats)
    }

    /// Each tenant's downsampled tier partitions by start (the day's midnight), with their
    /// directory, sets and bytes. A day with several tiers (a selector tier beside a
    /// coarser one) has one entry per directory, each a millisecond later than the last so
    /// none hides another.
    pub(crate) fn tier_partitions(&self) -> BTreeMap<TenantId, BTreeMap<i64, TierDay>> {
        let mut out: BTreeMap<TenantId, BTreeMap<i64, TierDay>> = BTreeMap::new();
        let tiers = self
            .metrics
            .tier_files
            .read()
            .unwrap_or_else(|p| p.into_inner());
        for (tenant, list) in tiers.iter() {
            let mut by_dir: BTreeMap<&Path, (i64, Vec<Arc<PartFile>>, u64)> = BTreeMap::new();
            for f in list {
                let e = by_dir
                    .entry(f.dir.as_path())
                    .or_insert((i64::MAX, Vec::new(), 0));
                e.0 = e.0.min(day_start(f.entry.min_ts));
                e.1.push(f.clone());
                e.2 += f.entry.bytes;
            }
            let days = out.entry(tenant.clone()).or_default();
            for (dir, (mut start, sets, bytes)) in by_dir {
                while days.contains_key(&start) {
                    start += 1;
                }
                days.insert(start, (dir.to_owned(), sets, bytes));
            }
        }
        out
    }

    /// The committed file sets of each signal.
    pub(crate) fn file_maps(&self) -> [(Signal, &RwLock<FileMap>); 3] {
        [
            (Signal::Metrics, &self.metrics.files),
            (Signal::Traces, &self.traces.files),
            (Signal::Logs, &self.logs.files),
        ]
    }

    /// Drops one partition: see the module docs. Every set the map holds in `dir` goes,
    /// not only those the pass listed: a flush may have published one into the partition
    /// since, and the manifest renamed here lists it too (a set left in the map would stay
    /// readable without a manifest, and the next pass would fail to drop it again).
    fn drop_partition(
        &self,
        file_map: &RwLock<FileMap>,
        tenant: &TenantId,
        dir: &Path,
    ) -> Result<()> {
        self.drop_partition_if(file_map, tenant, dir, |_| true)
            .map(|_| ())
    }

    /// [`Self::drop_partition`] if `all_of` holds for the sets the map holds in `dir`,
    /// checked under the flush lock (so no flush adds a set between the check and the
    /// drop); returns whether it dropped.
    pub(crate) fn drop_partition_if(
        &self,
        file_map: &RwLock<FileMap>,
        tenant: &TenantId,
        dir: &Path,
        all_of: impl Fn(&PartFile) -> bool,
    ) -> Result<bool> {
        let dropped: Vec<Arc<PartFile>> = {
            // No flush may be updating this manifest meanwhile.
            let _flush = self.flush_lock.lock().unwrap_or_else(|p| p.into_inner());
            {
                let files = file_map.read().unwrap_or_else(|p| p.into_inner());
                let list = files.get(tenant).map_or(&[][..], Vec::as_slice);
                if !list.iter().filter(|f| f.dir == dir).all(|f| all_of(f)) {
                    return Ok(false);
                }
            }
            let manifest = dir.join("manifest.json");
            std::fs::rename(&manifest, dir.join(DROPPED)).map_err(|source| Error::Io {
                path: manifest.clone(),
                source,
            })?;
            sync_dir(dir)?;
            let mut files = file_map.write().unwrap_or_else(|p| p.into_inner());
            match files.get_mut(tenant) {
                Some(list) => {
                    let (gone, kept) = std::mem::take(list).into_iter().partition(|f| f.dir == dir);
                    *list = kept;
                    gone
                }
                None => Vec::new(),
            }
        };
        for f in &dropped {
            f.retire();
        }
        drop(dropped);
        self.touch_remote(dir);
        self.pending_drops
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(dir.to_owned());
        Ok(true)
    }

    /// Removes the `DROPPED` marker and the directory of dropped partitions whose files are
    /// all gone (no query holds them any more); the others wait for the next pass.
    pub(crate) fn finish_drops(&self) {
        let _flush = self.flush_lock.lock().unwrap_or_else(|p| p.into_inner());
        let mut pending = self.pending_drops.lock().unwrap_or_else(|p| p.into_inner());
        pending.retain(|dir| match clean_dropped(dir) {
            Ok(done) => !done,
            Err(e) => {
                warn!(partition = %dir.display(), error = %e, "cleaning a dropped partition");
                true
            }
        });
    }
}

impl crate::lifecycle::Core {
    /// Builds the trace-id filter file of every committed spans file that lacks a valid
    /// one (written before filter files existed, or lost in a crash); returns how many it
    /// built. Run by maintenance; a file that fails is logged and tried again next pass.
    pub(crate) fn build_trace_filters(&self) -> usize {
        self.build_missing(
            &self.traces.files,
            "trace-id filter",
            |part| SignalStore::<crate::SpanRecord>::trace_filter(part).is_some(),
            |path| build(path).map(drop),
        )
    }

    /// Builds the summary of every committed spans file that lacks a valid one (written
    /// before spans summaries existed, or lost in a crash), as
    /// [`Self::build_trace_filters`].
    pub(crate) fn build_span_summaries(&self) -> usize {
        self.build_missing(
            &self.traces.files,
            "spans summary",
            |part| SignalStore::<crate::SpanRecord>::span_summary(part).is_some(),
            |path| crate::spans_logs::spans::summary::build_from_file(path, None).map(drop),
        )
    }

    /// Builds the summary of every committed logs file that lacks a valid one (written
    /// before summaries existed, or lost in a crash), as [`Self::build_trace_filters`].
    pub(crate) fn build_log_summaries(&self) -> usize {
        self.build_missing(
            &self.logs.files,
            "logs summary",
            |part| SignalStore::<crate::LogRecord>::log_summary(part).is_some(),
            |path| crate::spans_logs::logs::summary::build_from_file(path, None).map(drop),
        )
    }

    /// Builds the `what` file derived from each of `files` that lacks one (`has`) with
    /// `build` (from the data file's path, fetched first on a reader's cache); returns how
    /// many it built. A file that fails is logged and tried again next pass. Writers only:
    /// a reader of a bucket builds nothing.
    fn build_missing(
        &self,
        files: &RwLock<FileMap>,
        what: &str,
        has: impl Fn(&PartFile) -> bool,
        build: impl Fn(&Path) -> Result<()>,
    ) -> usize {
        if self.reader.is_some() {
            return 0;
        }
        let _one_pass = self
            .maintenance_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let parts: Vec<_> = {
            let files = files.read().unwrap_or_else(|p| p.into_inner());
            files.values().flatten().cloned().collect()
        };
        let mut built = 0;
        for part in parts {
            if has(&part) {
                continue;
            }
            if let Err(e) = part.ensure_data() {
                warn!(error = %e, "fetching a file to build its {what} failed; will retry");
                continue;
            }
            let path = part.samples_path();
            match build(&path) {
                Ok(()) => built += 1,
                Err(e) => {
                    warn!(file = %path.display(), error = %e, "building a {what} file failed; will retry");
                }
            }
        }
        if built > 0 {
            info!(files = built, "built {what} files");
        }
        built
    }
}

impl Core {
    pub(crate) fn disk_usage(&self) -> BTreeMap<(TenantId, &'static str), DiskUsage> {
        let mut out = BTreeMap::new();
        for (signal, map) in self.file_maps() {
            let files = map.read().unwrap_or_else(|p| p.into_inner());
            for (tenant, list) in files.iter().filter(|(_, l)| !l.is_empty()) {
                let dirs: BTreeSet<_> = list.iter().map(|f| &f.dir).collect();
                out.insert(
                    (tenant.clone(), signal.dir()),
                    DiskUsage {
                        partitions: dirs.len(),
                        file_sets: list.len(),
                        bytes: list.iter().map(|f| f.entry.bytes).sum(),
                        cold_bytes: list
                            .iter()
                            .filter(|f| f.entry.layout() == WrittenBy::Cold)
                            .map(|f| f.entry.bytes)
                            .sum(),
                    },
                );
            }
        }
        // Each downsampled tier as a signal of its own (`metrics_5m`, ...).
        let tiers = self
            .metrics
            .tier_files
            .read()
            .unwrap_or_else(|p| p.into_inner());
        for (tenant, list) in tiers.iter() {
            for f in list {
                let Some(res) = crate::metrics::tiers::resolution_of(f) else {
                    continue;
                };
                let d: &mut DiskUsage = out
                    .entry((tenant.clone(), crate::metrics::tiers::tier_signal(res)))
                    .or_default();
                d.partitions += 1; // one set per tier partition
                d.file_sets += 1;
                d.bytes += f.entry.bytes;
            }
        }
        out
    }
}
