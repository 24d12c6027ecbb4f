//! Downsampling passes: moving each UTC day of metrics into the next tier once it is old
//! enough ([`crate::Limits::downsampling`], `docs/retention.md`).
//!
//! For a tier and a UTC day, the pass streams the day's source data (the raw sets of its
//! hours, or the day's partition of the tier before) merged by (series, time), summarises
//! it per series and interval ([`crate::model::interval`]), joins what the tier already
//! holds for that day (a late write to an old day), and writes one new file set into the
//! tier's partition of the day. The partition's manifest is then replaced (the commit),
//! and only after that are the sources dropped, each partition by retention's atomic
//! drop. A crash before the commit leaves unlisted files, deleted on open; after it, the
//! sources are still there and the next pass drops them: a source set is covered by the
//! tier when its flush is at most the tier set's (which is the newest source flush it
//! took; flushes only grow), so it is never summarised twice.
//!
//! A day's tier partition summarises the samples of `[day, day + 1d)`. Intervals are
//! left-open, so the sample at a day's very start ends the previous day's last interval:
//! that interval has a row in both days' partitions, each of its own samples, and a read
//! joins them ([`crate::model::interval::Interval::join`]).
//!
//! Native histograms keep the last histogram of each series and interval, copied row for
//! row from the sources' files (`storage/histograms/tier.rs`).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use tracing::{info, warn};

use crate::lifecycle::Core;
use crate::lifecycle::compact::united_series;
use crate::metrics::compact::merged;
use crate::metrics::delete::matching_ids;
use crate::metrics::files::MetricsFile;
use crate::metrics::index::PartIndex;
use crate::metrics::tiers::{self, DAY_MS, day_start, format_resolution, tier_dir};
use crate::model::interval::{Interval, STALE_NAN_BITS, coarsen, interval_end, summarise};
use crate::model::series::SeriesId;
use crate::storage::histograms::merge::Input;
use crate::storage::histograms::tier::last_per_interval;
use crate::storage::parquet_io;
use crate::storage::partition::{self, FileEntry, FileMap, Manifest, PartFile};
use crate::storage::tier_file::{TierRows, TierWriter};
use crate::telemetry::DownsampleStats;
use crate::{Result, TenantId};

/// One step down the tiers: from the tier of resolution `from` (`None`: raw) into the
/// tier of resolution `res`, taking the series `matchers` select (all when empty).
#[derive(Clone, Copy)]
struct Step<'a> {
    from: Option<i64>,
    res: i64,
    matchers: &'a [crate::Matcher],
}

impl Core {
    /// Moves every day old enough into its tier, for every tenant with tiers configured,
    /// and drops tier partitions past the metrics retention.
    pub(crate) fn downsample(&self) -> Result<DownsampleStats> {
        self.writable()?;
        let _one_pass = self
            .maintenance_lock
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now_ms();
        let mut stats = DownsampleStats::default();
        let tenants: BTreeSet<TenantId> = [&self.metrics.files, &self.metrics.tier_files]
            .iter()
            .flat_map(|m| {
                let m = m.read().unwrap_or_else(|p| p.into_inner());
                m.keys().cloned().collect::<Vec<_>>()
            })
            .collect();
        for tenant in tenants {
            let limits = self.config.limits_for(&tenant).clone();
            let mut prev: Option<i64> = None;
            for tier in &limits.downsampling {
                let res = tier.resolution_ms();
                let matchers = tier_matchers(tier)?;
                let step = Step {
                    from: prev,
                    res,
                    matchers: &matchers,
                };
                self.downsample_tier(&tenant, step, now - tier.after_ms(), &mut stats)?;
                prev = Some(res);
            }
            self.expire_tiers(&tenant, now - limits.retention_ms(), &mut stats)?;
        }
        self.finish_drops();
        self.downsampled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .add(&stats);
        if stats.days + stats.dropped + stats.expired > 0 {
            info!(
                days = stats.days,
                rows_in = stats.rows_in,
                rows_out = stats.rows_out,
                dropped = stats.dropped,
                expired = stats.expired,
                "downsampled"
            );
        }
        Ok(stats)
    }

    /// Moves the days of `tenant` that ended before `before` one `step` on.
    fn downsample_tier(
        &self,
        tenant: &TenantId,
        step: Step<'_>,
        before: i64,
        stats: &mut DownsampleStats,
    ) -> Result<()> {
        let (from, res) = (step.from, step.res);
        let sources = self.source_sets(tenant, from);
        let mut days: BTreeMap<i64, Vec<Arc<PartFile>>> = BTreeMap::new();
        for f in sources {
            days.entry(source_day(&f)).or_default().push(f);
        }
        for (&day, sets) in &days {
            if day + DAY_MS > before {
                break;
            }
            let target = tier_dir(&self.dir, res, tenant, day);
            let existing = self.tier_sets_in(tenant, &target);
            let covered = existing.iter().map(|f| f.entry.flush).max().unwrap_or(0);
            let fresh: Vec<Arc<PartFile>> = sets
                .iter()
                .filter(|f| f.entry.flush > covered || existing.is_empty())
                .cloned()
                .collect();
            let mut flush = covered;
            if !fresh.is_empty() {
                flush = self.write_day(tenant, step, day, &fresh, &existing, stats)?;
            }
            self.drop_covered(tenant, step, sets, flush, stats)?;
        }
        Ok(())
    }

    /// The sets the tier of resolution `from` is made from (`None`: raw).
    fn source_sets(&self, tenant: &TenantId, from: Option<i64>) -> Vec<Arc<PartFile>> {
        let map = match from {
            None => &self.metrics.files,
            Some(_) => &self.metrics.tier_files,
        };
        let map = map.read().unwrap_or_else(|p| p.into_inner());
        map.get(tenant)
            .map(|l| {
                l.iter()
                    .filter(|f| tiers::resolution_of(f) == from)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The tier sets of `tenant` in partition `dir`.
    fn tier_sets_in(&self, tenant: &TenantId, dir: &std::path::Path) -> Vec<Arc<PartFile>> {
        self.metrics.tier_sets(tenant, |f| f.dir == dir)
    }

    /// Writes and commits the tier set of `day` from `fresh` joined with the `existing`
    /// set; returns its flush.
    fn write_day(
        &self,
        tenant: &TenantId,
        step: Step<'_>,
        day: i64,
        fresh: &[Arc<PartFile>],
        existing: &[Arc<PartFile>],
        stats: &mut DownsampleStats,
    ) -> Result<u64> {
        let res = step.res;
        for f in fresh {
            f.ensure_data()?;
        }
        // With a selector, the series it takes (the others stay where they are).
        let wanted: Option<HashSet<SeriesId>> = if step.matchers.is_empty() {
            None
        } else {
            let mut ids = HashSet::new();
            for f in fresh {
                ids.extend(matching_ids(f, step.matchers)?);
            }
            Some(ids)
        };
        let skip = |id: &SeriesId| wanted.as_ref().is_some_and(|w| !w.contains(id));
        let flush = fresh
            .iter()
            .chain(existing)
            .map(|f| f.entry.flush)
            .max()
            .unwrap_or(0);
        let dir = tier_dir(&self.dir, res, tenant, day);
        std::fs::create_dir_all(&dir).map_err(|source| crate::Error::Io {
            path: dir.clone(),
            source,
        })?;
        let s = format!("-{}", format_resolution(res));
        // A second write of the same flush (a pass stopped after writing) gets a new name.
        let tag = if existing.iter().any(|f| f.entry.flush == flush) {
            format!("-{}{s}", crate::storage::partition::file_uid())
        } else {
            s
        };
        let mut entry = FileEntry {
            flush,
            samples: format!("samples-{flush}{tag}.parquet"),
            series: format!("series-{flush}{tag}.parquet"),
            index: format!("index-{flush}{tag}.parquet"),
            exemplars: String::new(),
            histograms: String::new(),
            histogram_rows: 0,
            histogram_buckets: String::new(),
            histogram_bucket_rows: 0,
            rows: 0,
            min_ts: 0,
            max_ts: 0,
            bytes: 0,
            flushes: fresh.iter().chain(existing).map(|f| f.entry.flushes).sum(),
        };
        let mut out = Joined::new(
            TierWriter::create(&dir.join(&entry.samples))?,
            existing,
            res,
        )?;
        let (lo, hi) = (day, day + DAY_MS);
        stats.rows_in += summarise_day(step, fresh, (lo, hi), &skip, &mut out)?;
        let (w, mut written_ids) = out.finish()?;
        entry.rows = w.written;
        (entry.min_ts, entry.max_ts) = if w.written == 0 {
            (lo, lo)
        } else {
            (w.min_ts, w.max_ts)
        };
        entry.bytes = w.finish()?;
        stats.rows_out += entry.rows;
        let all: Vec<Arc<PartFile>> = fresh.iter().chain(existing).cloned().collect();
        written_ids.extend(self.tier_histograms(
            &all,
            &dir,
            (&tag, res, (lo, hi)),
            &skip,
            &mut entry,
        )?);
        written_ids.sort_unstable();
        written_ids.dedup();
        stats.bytes_out += entry.bytes;
        let mut defs = united_series(&all)?;
        defs.retain(|(id, _)| written_ids.binary_search(id).is_ok());
        entry.bytes += parquet_io::write_series(&dir.join(&entry.series), &defs)?;
        entry.bytes += PartIndex::build(&defs).write(&dir.join(&entry.index))?;
        // The commit: the day's manifest lists the new set only.
        let manifest = Manifest {
            version: partition::METRICS_FORMAT,
            files: vec![entry.clone()],
        };
        {
            // As every change to the committed sets (a checkpoint reads them under it).
            let _flush = self.flush_lock.lock().unwrap_or_else(|p| p.into_inner());
            partition::write_json(&dir.join("manifest.json"), &manifest)?;
            self.publish_tier_set(tenant, &dir, entry);
        }
        self.touch_remote(&dir);
        stats.days += 1;
        Ok(flush)
    }

    /// Writes into `entry`'s set the last native histogram of each series and interval of
    /// the sets `all` (of the day `[lo, hi)`, series `skip` leaves out excepted), copied
    /// from their files; returns the series written.
    fn tier_histograms(
        &self,
        all: &[Arc<PartFile>],
        dir: &std::path::Path,
        (tag, res, (lo, hi)): (&str, i64, (i64, i64)),
        skip: &dyn Fn(&SeriesId) -> bool,
        entry: &mut FileEntry,
    ) -> Result<Vec<SeriesId>> {
        let inputs: Vec<Input> = all
            .iter()
            .filter_map(|f| {
                f.histograms_path().map(|histograms| Input {
                    histograms,
                    buckets: f.histogram_buckets_path(),
                })
            })
            .collect();
        if inputs.is_empty() {
            return Ok(Vec::new());
        }
        let flush = entry.flush;
        let (h, b) = (
            format!("histograms-{flush}{tag}.parquet"),
            format!("histogram_buckets-{flush}{tag}.parquet"),
        );
        let out = (dir.join(&h), dir.join(&b));
        let (done, ids) =
            last_per_interval(&inputs, (&out.0, &out.1), res, (lo, hi), |id| !skip(&id))?;
        if let Some(d) = done.histograms {
            (entry.histograms, entry.histogram_rows) = (h, d.rows_out);
            entry.bytes += d.bytes;
            entry.min_ts = entry.min_ts.min(d.min_ts);
            entry.max_ts = entry.max_ts.max(d.max_ts);
        }
        if let Some(d) = done.buckets {
            (entry.histogram_buckets, entry.histogram_bucket_rows) = (b, d.rows_out);
            entry.bytes += d.bytes;
        }
        Ok(ids)
    }

    /// Makes the set just committed in `dir` the only one readers see there.
    fn publish_tier_set(&self, tenant: &TenantId, dir: &std::path::Path, entry: FileEntry) {
        let old: Vec<Arc<PartFile>> = {
            let mut map = self
                .metrics
                .tier_files
                .write()
                .unwrap_or_else(|p| p.into_inner());
            let list = map.entry(tenant.clone()).or_default();
            let (old, kept): (Vec<_>, Vec<_>) =
                std::mem::take(list).into_iter().partition(|f| f.dir == dir);
            *list = kept;
            list.push(Arc::new(PartFile::new(dir.to_owned(), entry)));
            old
        };
        for f in old {
            f.retire();
        }
    }

    /// Removes the source sets of a day the tier now holds (flush at most `flush`): a
    /// partition all of whose sets are held is dropped whole; from one where a set came
    /// in since (a late write racing the pass), the held sets are swapped out of its
    /// manifest. With a selector, a held set that also has series the tier does not take
    /// is written again with those only (they stay until the retention drops them). A raw
    /// set with native histograms stays (tiers keep floats only).
    fn drop_covered(
        &self,
        tenant: &TenantId,
        step: Step<'_>,
        sets: &[Arc<PartFile>],
        flush: u64,
        stats: &mut DownsampleStats,
    ) -> Result<()> {
        let map: &RwLock<FileMap> = match step.from {
            None => &self.metrics.files,
            Some(_) => &self.metrics.tier_files,
        };
        let covered = |f: &PartFile| f.entry.flush <= flush;
        let mut gone: Vec<Arc<PartFile>> = Vec::new();
        for f in sets.iter().filter(|f| covered(f)) {
            if step.matchers.is_empty() {
                gone.push(f.clone());
                continue;
            }
            let taken = matching_ids(f, step.matchers)?;
            if taken.is_empty() {
                continue;
            }
            if taken.len() == f.series_ids(&mut 0)?.len() {
                gone.push(f.clone());
                continue;
            }
            let mut ds = crate::DeleteStats::default();
            match step.from {
                None => {
                    self.rewrite_set(tenant, f, &taken, (i64::MIN, i64::MAX), &mut ds)?;
                }
                Some(fine) => {
                    self.rewrite_tier_set(
                        tenant,
                        f,
                        fine,
                        (&taken, (i64::MIN, i64::MAX)),
                        &mut ds,
                    )?;
                }
            }
            stats.trimmed += 1;
        }
        let mut by_dir: BTreeMap<&PathBuf, Vec<Arc<PartFile>>> = BTreeMap::new();
        for f in &gone {
            by_dir.entry(&f.dir).or_default().push(f.clone());
        }
        for (dir, held) in by_dir {
            let is_held = |f: &PartFile| held.iter().any(|h| std::ptr::eq(&**h, f));
            let target = (map, tenant.clone(), dir.clone());
            if self.drop_partition_if(map, tenant, dir, is_held)?
                || self.commit_swap(target, &held, None)?
            {
                stats.dropped += 1;
            }
        }
        Ok(())
    }

    /// Drops `tenant`'s tier partitions whose day ended before `before`.
    fn expire_tiers(
        &self,
        tenant: &TenantId,
        before: i64,
        stats: &mut DownsampleStats,
    ) -> Result<()> {
        let dirs: HashSet<PathBuf> = self
            .metrics
            .tier_sets(tenant, |f| source_day(f) + DAY_MS <= before)
            .into_iter()
            .map(|f| f.dir.clone())
            .collect();
        for dir in dirs {
            if self.drop_partition_if(&self.metrics.tier_files, tenant, &dir, |_| true)? {
                stats.expired += 1;
            }
        }
        Ok(())
    }

    /// Runs [`Core::downsample`] from the maintenance pass, logging a failure.
    pub(crate) fn maintain_tiers(&self) {
        if let Err(e) = self.downsample() {
            warn!(error = %e, "downsampling failed; will retry");
        }
    }
}

/// Streams the float samples of `fresh` in `[lo, hi)` (raw sets, or a finer tier's rows)
/// into `out` as `step`'s intervals, series `skip` leaves out excepted; returns the rows
/// read.
fn summarise_day(
    step: Step<'_>,
    fresh: &[Arc<PartFile>],
    (lo, hi): (i64, i64),
    skip: &dyn Fn(&SeriesId) -> bool,
    out: &mut Joined,
) -> Result<u64> {
    let res = step.res;
    let mut rows_in = 0;
    match step.from {
        None => {
            let paths: Vec<PathBuf> = fresh.iter().map(|f| f.samples_path()).collect();
            let mut series: Option<(SeriesId, Vec<(i64, f64)>)> = None;
            rows_in += merged(&paths, |id, ts, v, _| {
                if ts < lo || ts >= hi || v.to_bits() == STALE_NAN_BITS || skip(&id) {
                    return Ok(());
                }
                match series.as_mut() {
                    Some((cur, pts)) if *cur == id => pts.push((ts, v)),
                    _ => {
                        if let Some((cur, pts)) = series.take() {
                            out.series(cur, |rows| summarise(pts, res, rows))?;
                        }
                        series = Some((id, vec![(ts, v)]));
                    }
                }
                Ok(())
            })?;
            if let Some((cur, pts)) = series.take() {
                out.series(cur, |rows| summarise(pts, res, rows))?;
            }
        }
        Some(fine) => {
            for f in fresh {
                let mut rows = TierRows::open(&f.samples_path(), fine)?;
                let mut cur: Option<(SeriesId, Vec<Interval>)> = None;
                while let Some((id, row)) = rows.take()? {
                    rows_in += 1;
                    if skip(&id) {
                        continue;
                    }
                    match cur.as_mut() {
                        Some((c, v)) if *c == id => v.push(row),
                        _ => {
                            if let Some((c, v)) = cur.take() {
                                out.series(c, |o| coarsen(v, res, o))?;
                            }
                            cur = Some((id, vec![row]));
                        }
                    }
                }
                if let Some((c, v)) = cur.take() {
                    out.series(c, |o| coarsen(v, res, o))?;
                }
            }
        }
    }
    Ok(rows_in)
}

/// The engine's matchers of `tier`'s selector.
fn tier_matchers(tier: &crate::Downsampling) -> Result<Vec<crate::Matcher>> {
    use crate::MatchOp;
    tier.matchers
        .iter()
        .map(|m| {
            let op = match m.op.as_str() {
                "=" => MatchOp::Equal,
                "!=" => MatchOp::NotEqual,
                "=~" => MatchOp::Regex,
                _ => MatchOp::NotRegex,
            };
            crate::Matcher::new(&m.name, op, &m.value)
        })
        .collect()
}

/// The day a source set belongs to: a raw set's hour's, a tier set's partition's (its
/// rows summarise samples of that day, so their first samples are in it).
fn source_day(f: &PartFile) -> i64 {
    day_start(f.entry.min_ts)
}

/// The rows being written, joined with the rows the tier already held for the day.
struct Joined {
    w: TierWriter,
    old: Vec<TierRows>,
    rows: Vec<Interval>,
    /// The series written, ascending.
    ids: Vec<SeriesId>,
}

impl Joined {
    fn new(w: TierWriter, existing: &[Arc<PartFile>], res: i64) -> Result<Self> {
        let old = existing
            .iter()
            .map(|f| TierRows::open(&f.samples_path(), res))
            .collect::<Result<_>>()?;
        Ok(Self {
            w,
            old,
            rows: Vec::new(),
            ids: Vec::new(),
        })
    }

    /// Writes the old rows of series before `id`, then series `id`'s rows (made by
    /// `make`) joined with its old ones.
    fn series(&mut self, id: SeriesId, make: impl FnOnce(&mut Vec<Interval>)) -> Result<()> {
        self.flush_old_before(id)?;
        self.rows.clear();
        make(&mut self.rows);
        let mut mine = std::mem::take(&mut self.rows);
        for o in &mut self.old {
            while o.peek().is_some_and(|(i, _)| *i == id) {
                if let Some((_, row)) = o.take()? {
                    mine.push(row);
                }
            }
        }
        mine.sort_by_key(|r| (r.end, r.first_ts));
        let mut joined: Vec<Interval> = Vec::with_capacity(mine.len());
        for r in mine.drain(..) {
            match joined.last_mut() {
                Some(last) if last.end == r.end => last.join(&r),
                _ => joined.push(r),
            }
        }
        for r in &joined {
            debug_assert_eq!(interval_end(r.last_ts, r.resolution), r.end);
            self.w.push(id, *r)?;
        }
        if !joined.is_empty() {
            self.ids.push(id);
        }
        self.rows = mine;
        Ok(())
    }

    /// Writes the old rows of series below `id`.
    fn flush_old_before(&mut self, id: SeriesId) -> Result<()> {
        loop {
            // The smallest old series below `id`.
            let next = self
                .old
                .iter()
                .filter_map(|o| o.peek().map(|(i, _)| *i))
                .filter(|&i| i < id)
                .min();
            let Some(sid) = next else { return Ok(()) };
            self.series(sid, |_| {})?;
        }
    }

    /// Writes the old rows left; returns the writer and the series written, ascending.
    fn finish(mut self) -> Result<(TierWriter, Vec<SeriesId>)> {
        loop {
            let next = self
                .old
                .iter()
                .filter_map(|o| o.peek().map(|(i, _)| *i))
                .min();
            let Some(sid) = next else { break };
            self.series(sid, |_| {})?;
        }
        Ok((self.w, self.ids))
    }
}
