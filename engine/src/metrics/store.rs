//! [`MetricsStore`]: the samples a tenant holds, in memory (the heads) and on disk (the
//! committed file sets), and the reads over both: select by matchers, label names and
//! values. `lifecycle/` owns it and runs the protocols (write, flush, compaction) over it.

use crate::metrics::files::MetricsFile;
use crate::metrics::head::{HeadShard, SHARDS, TenantHead, shard_of};
use crate::metrics::histograms::{self, RANK_FLUSHING, RANK_HEAD, Ranked};
use crate::metrics::page_cache::PageCache;
use crate::metrics::read::{self, FileSamples, ReadLimit, SAMPLE_BYTES};
use crate::metrics::scan::ScanStats;
use crate::metrics::seek;
use crate::metrics::series::{EncodedHist, HeadSeries};
use crate::metrics::tiers;
use crate::model::interval::Interval;
use crate::model::series::SeriesId;
use crate::model::series_key::SeriesKey;
use crate::storage::histograms::read::Read;
use crate::storage::parquet_io;
use crate::storage::partition::PartFile;
use crate::storage::tier_file;
use crate::{HistogramRun, HistogramSample, Labels, Matcher, Result, Sample, SeriesData, TenantId};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

/// Bytes one gathered native histogram sample is counted at against a read's limit: its
/// time, its histogram's fields and a few buckets.
const HIST_BYTES: usize = 256;

/// The samples side of the engine.
#[derive(Debug)]
pub(crate) struct MetricsStore {
    tenants: RwLock<HashMap<TenantId, Arc<TenantHead>>>,
    /// Committed Parquet file sets per tenant, oldest flush first.
    pub(crate) files: RwLock<HashMap<TenantId, Vec<Arc<PartFile>>>>,
    /// Committed file sets of the downsampled tiers per tenant (`metrics/tiers.rs`).
    pub(crate) tier_files: RwLock<HashMap<TenantId, Vec<Arc<PartFile>>>>,
    /// Decoded samples pages kept between queries.
    pub(crate) page_cache: PageCache,
}

impl MetricsStore {
    pub(crate) fn new(page_cache_bytes: u64) -> Self {
        Self {
            tenants: RwLock::default(),
            files: RwLock::default(),
            tier_files: RwLock::default(),
            page_cache: PageCache::new(page_cache_bytes),
        }
    }

    /// Tenants with a head.
    pub(crate) fn tenants(&self) -> Vec<TenantId> {
        let map = self.tenants.read().unwrap_or_else(|p| p.into_inner());
        map.keys().cloned().collect()
    }

    /// Every tenant's head, sorted by tenant id (the order flushes lock them in).
    pub(crate) fn heads_sorted(&self) -> Vec<(TenantId, Arc<TenantHead>)> {
        let map = self.tenants.read().unwrap_or_else(|p| p.into_inner());
        let mut heads: Vec<_> = map.iter().map(|(t, h)| (t.clone(), h.clone())).collect();
        heads.sort_by(|a, b| a.0.cmp(&b.0));
        heads
    }

    pub(crate) fn head(&self, tenant: &TenantId) -> Arc<TenantHead> {
        if let Some(h) = self
            .tenants
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
        {
            return h.clone();
        }
        let mut map = self.tenants.write().unwrap_or_else(|p| p.into_inner());
        map.entry(tenant.clone()).or_default().clone()
    }

    pub(crate) fn existing_head(&self, tenant: &TenantId) -> Option<Arc<TenantHead>> {
        self.tenants
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            .cloned()
    }

    /// The series of `tenant` matching every matcher, with their samples in `[start, end]`
    /// (milliseconds, both inclusive), sorted by labels, and what the read touched. Series
    /// with no sample in the range are left out.
    ///
    /// Memory is matched through the head's postings; each file set whose time range meets
    /// `[start, end]` is matched through its inverted index, and only the pages of its
    /// samples file that can hold a matching series in the range are read.
    ///
    /// The samples gathered are taken from `limit` as they are: a read past it ends with
    /// [`crate::Error::ReadLimit`] having gathered about the limit, not everything.
    pub(crate) fn select(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        start: i64,
        end: i64,
        limit: &ReadLimit,
    ) -> Result<(Vec<SeriesData>, ScanStats)> {
        self.select_shaped(tenant, matchers, (start, end), limit, false)
    }

    /// [`Self::select`]; with `runs`, a series' native histograms of one layout in a file
    /// set may come as a [`HistogramRun`] (`SeriesData::histogram_runs`) where that
    /// leaves no doubt which sample wins a timestamp (`metrics/histograms.rs`, `keep_runs`).
    pub(crate) fn select_shaped(
        &self,
        tenant: &TenantId,
        matchers: &[Matcher],
        (start, end): (i64, i64),
        limit: &ReadLimit,
        runs: bool,
    ) -> Result<(Vec<SeriesData>, ScanStats)> {
        let mut stats = ScanStats::default();
        let Some(head) = self.existing_head(tenant) else {
            return Ok((Vec::new(), stats));
        };
        // The head (and a flush in progress) first, then the files: a flush publishes its
        // files before clearing `flushing`, so this order never misses a sample.
        let mut found = Found::default();
        // Whether any series found has a native histogram: if not, the float path is all.
        let mut any_hists = select_head(&head, matchers, start, end, limit, &mut found)?;
        // Holding the `Arc`s keeps these files on disk until the read is done, even if
        // compaction or retention retires them meanwhile.
        let files = self.file_sets(tenant, start, end);
        let plans = self.plan_files(&head, &files, matchers, &mut found, &mut stats)?;
        let window = (start, end, runs);
        any_hists |= self.read_planned(&plans, window, limit, &mut found, &mut stats)?;
        read_intervals(&plans, start, end, limit, &mut found)?;
        limit.check()?;
        let resolved = if any_hists {
            self.resolve_histograms(&mut found, &plans, start, end, &mut stats)?
        } else {
            Vec::new()
        };
        Ok((found.into_series(resolved), stats))
    }

    /// The file sets of `files` that hold series passing `matchers`, each with those
    /// series' ids (sorted); the series are added to `found`.
    fn plan_files<'f>(
        &self,
        head: &TenantHead,
        files: &'f [Arc<PartFile>],
        matchers: &[Matcher],
        found: &mut Found,
        stats: &mut ScanStats,
    ) -> Result<Vec<Plan<'f>>> {
        let mut plans = Vec::with_capacity(files.len());
        for f in files {
            stats.file_sets += 1;
            let ids = self.matching_ids(head, f, matchers, found, stats)?;
            if ids.is_empty() {
                stats.file_sets_skipped += 1;
                continue;
            }
            f.ensure_data()?;
            plans.push((&**f, ids));
        }
        Ok(plans)
    }

    /// Reads the float samples and native histograms in `[start, end]` of the series
    /// `plans` name into `found`. Returns whether it read a histogram.
    fn read_planned(
        &self,
        plans: &[Plan<'_>],
        (start, end, runs): (i64, i64, bool),
        limit: &ReadLimit,
        found: &mut Found,
        stats: &mut ScanStats,
    ) -> Result<bool> {
        // A tier's file is read once, by `read_intervals`, which takes its last samples too.
        let raw: Vec<Plan<'_>> = plans
            .iter()
            .filter(|p| tiers::resolution_of(p.0).is_none())
            .cloned()
            .collect();
        for (id, samples) in read::read_files(&self.page_cache, &raw, start, end, limit, stats)? {
            if let Some(&i) = found.slots.get(&id) {
                found.entries[i].files = samples;
            }
        }
        let mut any_hists = false;
        let keep = |r: &Read| match r {
            Read::Sample(_) => limit.take(HIST_BYTES),
            Read::Run(run) => limit.take(HIST_BYTES * run.len()),
        };
        histograms::read_sets(plans, (start, end), runs, &keep, |rank, id, r| {
            let Some(&i) = found.slots.get(&id) else {
                return;
            };
            let e = &mut found.entries[i];
            match r {
                Read::Sample(s) => e.hists.push((rank, s)),
                Read::Run(run) => e.runs.push((rank, *run)),
            }
            any_hists = true;
        })?;
        Ok(any_hists)
    }

    /// Resolves the histograms of each series in `found` that has any against its floats
    /// (`metrics/histograms.rs`); each such entry's `resolved` is its slot in what this
    /// returns.
    fn resolve_histograms(
        &self,
        found: &mut Found,
        plans: &[Plan<'_>],
        start: i64,
        end: i64,
        stats: &mut ScanStats,
    ) -> Result<Vec<Resolved>> {
        let mut resolved: Vec<Resolved> = Vec::new();
        for (&id, &i) in &found.slots {
            let e = &mut found.entries[i];
            if e.hists.is_empty() && e.runs.is_empty() {
                continue;
            }
            let runs = histograms::keep_runs(&e.files.samples, &e.newer, &mut e.hists, &mut e.runs);
            let m = histograms::Mixed {
                id,
                files: &mut e.files,
                newer: &mut e.newer,
                flushing: e.flushing,
            };
            let hists = std::mem::take(&mut e.hists);
            let ctx = (&self.page_cache, start, end);
            e.resolved = resolved.len();
            resolved.push((histograms::resolve(m, hists, plans, ctx, stats)?, runs));
        }
        Ok(resolved)
    }

    /// `tenant`'s committed file sets whose time range meets `[start, end]`: the
    /// downsampled tiers' (`metrics/tiers.rs`, whose data files read as the last sample of
    /// each interval), then the raw ones, oldest first.
    pub(crate) fn file_sets(&self, tenant: &TenantId, start: i64, end: i64) -> Vec<Arc<PartFile>> {
        let mut out = Vec::new();
        for map in [&self.tier_files, &self.files] {
            let map = map.read().unwrap_or_else(|p| p.into_inner());
            if let Some(list) = map.get(tenant) {
                out.extend(list.iter().filter(|f| f.overlaps(start, end)).cloned());
            }
        }
        out
    }

    /// `tenant`'s downsampled tiers' file sets that `keep` accepts.
    pub(crate) fn tier_sets(
        &self,
        tenant: &TenantId,
        keep: impl Fn(&PartFile) -> bool,
    ) -> Vec<Arc<PartFile>> {
        let map = self.tier_files.read().unwrap_or_else(|p| p.into_inner());
        map.get(tenant)
            .map(|l| l.iter().filter(|f| keep(f)).cloned().collect())
            .unwrap_or_default()
    }

    /// `tenant`'s raw committed file sets whose time range meets `[start, end]`, oldest
    /// first.
    pub(crate) fn raw_file_sets(
        &self,
        tenant: &TenantId,
        start: i64,
        end: i64,
    ) -> Vec<Arc<PartFile>> {
        self.files
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            .map(|list| {
                list.iter()
                    .filter(|f| f.overlaps(start, end))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The ids (sorted) of the series in file set `f` that pass `matchers`, found through its
    /// index; series not yet in `found` are added with their labels from its series table.
    fn matching_ids(
        &self,
        head: &TenantHead,
        f: &PartFile,
        matchers: &[Matcher],
        found: &mut Found,
        stats: &mut ScanStats,
    ) -> Result<Vec<SeriesId>> {
        let rows = f.index(&mut stats.index_bytes_read)?.select(matchers);
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let all = f.series_ids(&mut stats.index_bytes_read)?;
        let ids: Vec<SeriesId> = rows
            .iter()
            .filter_map(|r| all.get(r as usize).copied())
            .collect();
        let mut missing: Vec<SeriesId> = ids
            .iter()
            .copied()
            .filter(|id| !found.slots.contains_key(id))
            .collect();
        if !missing.is_empty() {
            // Labels from the head's keys where it still knows the series.
            for i in 0..SHARDS {
                let h = head.shard(i);
                missing.retain(|&id| {
                    match (shard_of(id) == i).then(|| h.index.get(id)).flatten() {
                        Some(s) => {
                            found.add(id, Named::Key(s.key.clone()), Vec::new());
                            false
                        }
                        None => true,
                    }
                });
            }
        }
        if !missing.is_empty() {
            for (id, labels) in parquet_io::read_series(&f.series_path())? {
                if missing.binary_search(&id).is_ok() && !found.slots.contains_key(&id) {
                    found.add(id, Named::Labels(Arc::new(labels)), Vec::new());
                }
            }
        }
        Ok(ids)
    }

    /// Label names of `tenant`'s series with samples in `[start, end]`, sorted: from the
    /// head's postings (a name counts once one of its series has samples in the range) and
    /// the indexes of file sets meeting it.
    pub(crate) fn label_names(
        &self,
        tenant: &TenantId,
        start: i64,
        end: i64,
    ) -> Result<Vec<String>> {
        let mut names = BTreeSet::new();
        if let Some(head) = self.existing_head(tenant) {
            for i in 0..SHARDS {
                let h = head.shard(i);
                let postings = h.index.postings();
                for name in postings.names() {
                    if !names.contains(name)
                        && postings
                            .with_name(name)
                            .any(|id| in_range(&h, id, start, end))
                    {
                        names.insert(name.to_owned());
                    }
                }
            }
        }
        for f in self.file_sets(tenant, start, end) {
            names.extend(f.index(&mut 0)?.names().map(str::to_owned));
        }
        Ok(names.into_iter().collect())
    }

    /// Values of label `name` among `tenant`'s series with samples in `[start, end]`, sorted.
    pub(crate) fn label_values(
        &self,
        tenant: &TenantId,
        name: &str,
        start: i64,
        end: i64,
    ) -> Result<Vec<String>> {
        let mut values = BTreeSet::new();
        if let Some(head) = self.existing_head(tenant) {
            for i in 0..SHARDS {
                let h = head.shard(i);
                for (value, ids) in h.index.postings().values(name) {
                    if !values.contains(value) && ids.iter().any(|id| in_range(&h, id, start, end))
                    {
                        values.insert(value.to_owned());
                    }
                }
            }
        }
        for f in self.file_sets(tenant, start, end) {
            values.extend(f.index(&mut 0)?.values(name).map(str::to_owned));
        }
        Ok(values.into_iter().collect())
    }

    /// Number of series `tenant` has (all time, while they are in memory).
    pub(crate) fn series_count(&self, tenant: &TenantId) -> usize {
        self.existing_head(tenant).map_or(0, |h| h.series_count())
    }
}

/// Whether head series `id` of shard `h` has a sample (float or histogram) in
/// `[start, end]`, buffered or taken by a flush in progress.
fn in_range(h: &HeadShard, id: SeriesId, start: i64, end: i64) -> bool {
    let has = |v: &[Sample]| !samples_within(v, start, end).is_empty();
    h.index
        .get(id)
        .is_some_and(|s| has(&s.buf.samples) || !hists_within(s.buf.hists(), start, end).is_empty())
        || h.flushing.get(&id).is_some_and(|v| has(v))
        || h.flushing_h
            .get(&id)
            .is_some_and(|v| !hists_within(v, start, end).is_empty())
}

/// The histograms of `v` (sorted by time) in `[start, end]`.
fn hists_within(v: &[EncodedHist], start: i64, end: i64) -> &[EncodedHist] {
    &v[seek::within(v, |h| h.0, start, end)]
}

/// A file set a select reads and the ids (sorted) of the series it reads there.
type Plan<'f> = (&'f PartFile, Vec<SeriesId>);

/// Adds to `found` the series of `head` (its buffers and a flush in progress) that pass
/// `matchers` and have samples in `[start, end]`, taking their bytes from `limit`. Head
/// series without samples in the range are skipped here; their labels are looked up by id
/// if a file holds samples of theirs. Returns whether a series found has a native
/// histogram.
fn select_head(
    head: &TenantHead,
    matchers: &[Matcher],
    start: i64,
    end: i64,
    limit: &ReadLimit,
    found: &mut Found,
) -> Result<bool> {
    let mut any_hists = false;
    for i in 0..SHARDS {
        let h = head.shard(i);
        // In phases over the shard's matching series, each phase's steps independent from
        // series to series, so that the processor overlaps their cache misses (a head series
        // is an entry in a hash map and a buffer of its own, each a miss when a rule reads a
        // large head): the entries, then the windows in the buffers, then the copies.
        let series: Vec<(SeriesId, &HeadSeries)> = h
            .index
            .select(matchers)
            .into_iter()
            .filter_map(|id| h.index.get(id).map(|s| (id, s)))
            .collect();
        // The buffers' last samples and the windows' starts are misses of their own:
        // asked for ahead, all series at once.
        seek::prefetch_starts(
            series.iter().map(|(_, s)| &s.buf.samples[..]),
            |x: &Sample| x.ts,
            start,
        );
        let windows: Vec<(&[Sample], &[EncodedHist])> = series
            .iter()
            .map(|(_, s)| {
                (
                    samples_within(&s.buf.samples, start, end),
                    hists_within(s.buf.hists(), start, end),
                )
            })
            .collect();
        for (&(id, s), (buffered, hists)) in series.iter().zip(windows) {
            let flushing = h
                .flushing
                .get(&id)
                .map_or(&[][..], |v| samples_within(v, start, end));
            let flushing_h = h
                .flushing_h
                .get(&id)
                .map_or(&[][..], |v| hists_within(v, start, end));
            if flushing.is_empty()
                && buffered.is_empty()
                && hists.is_empty()
                && flushing_h.is_empty()
            {
                continue;
            }
            let bytes = (flushing.len() + buffered.len()) * SAMPLE_BYTES
                + (hists.len() + flushing_h.len()) * HIST_BYTES;
            limit.need(bytes)?;
            let mut newer = flushing.to_vec();
            newer.extend_from_slice(buffered);
            found.add(id, Named::Key(s.key.clone()), newer);
            if !hists.is_empty() || !flushing_h.is_empty() {
                any_hists = true;
                let e = found.entries.last_mut().expect("just added");
                e.flushing = flushing.len();
                histograms::decode_into(id, flushing_h, RANK_FLUSHING, &mut e.hists)?;
                histograms::decode_into(id, hists, RANK_HEAD, &mut e.hists)?;
            }
        }
    }
    Ok(any_hists)
}

/// The intervals of one series from every tier partition read, in time order: an
/// interval ending at midnight has a row in both days' partitions (`lifecycle/downsample.rs`),
/// each holding its own samples, which are joined into one.
fn join_days(mut rows: Vec<Interval>) -> Vec<Interval> {
    if rows.len() < 2 {
        return rows;
    }
    rows.sort_by_key(|i| (i.end, i.first_ts));
    let mut out: Vec<Interval> = Vec::with_capacity(rows.len());
    for r in rows {
        match out.last_mut() {
            Some(last) if last.end == r.end => last.join(&r),
            _ => out.push(r),
        }
    }
    out
}

/// Adds to an interval ending at a midnight whose next day is still raw the sample at
/// that very instant: it lives in the next day's first raw hour (`lifecycle/downsample.rs`),
/// so until that day is downsampled too, no tier row holds it.
fn complete_at_midnight(rows: &mut [Interval], samples: &[Sample]) {
    for r in rows.iter_mut().filter(|r| r.last_ts < r.end) {
        if let Ok(k) = samples.binary_search_by_key(&r.end, |s| s.ts) {
            let v = samples[k].value;
            if v.to_bits() != crate::model::interval::STALE_NAN_BITS {
                r.push(r.end, v);
            }
        }
    }
}

/// Bytes one gathered interval is counted at against a read's limit.
const INTERVAL_BYTES: usize = std::mem::size_of::<Interval>();

/// Reads the intervals in `[start, end]` of the series `plans` name from the tier sets
/// among them into `found`, and their last samples among its samples from files. A day both a finer and a coarser tier hold (a pass that
/// stopped between writing the coarser and dropping the finer) is read from the finer.
fn read_intervals(
    plans: &[Plan<'_>],
    start: i64,
    end: i64,
    limit: &ReadLimit,
    found: &mut Found,
) -> Result<()> {
    let tiers: Vec<(i64, &Plan<'_>)> = plans
        .iter()
        .filter_map(|p| tiers::resolution_of(p.0).map(|r| (r, p)))
        .collect();
    for &(res, (f, ids)) in &tiers {
        let day = f.dir.file_name();
        let finer = tiers
            .iter()
            .any(|&(r, (g, _))| r < res && g.dir.file_name() == day);
        if finer {
            continue;
        }
        tier_file::read_intervals(
            &f.samples_path(),
            &f.samples_meta,
            ids,
            (start, end),
            res,
            |id, row| {
                if let Some(&i) = found.slots.get(&id)
                    && limit.take(INTERVAL_BYTES)
                {
                    let e = &mut found.entries[i];
                    e.intervals.push(row);
                    e.files.samples.push(Sample {
                        ts: row.last_ts,
                        value: row.last,
                    });
                    // Merged with raw sets and other days: sorted once complete.
                    e.files.unordered = true;
                }
            },
        )?;
    }
    limit.check()
}

/// The samples of `v` (sorted by time) in `[start, end]`.
fn samples_within(v: &[Sample], start: i64, end: i64) -> &[Sample] {
    &v[seek::within(v, |s| s.ts, start, end)]
}

/// The series a select found, and each series' slot by id.
#[derive(Default)]
struct Found {
    entries: Vec<Entry>,
    slots: HashMap<SeriesId, usize>,
}

impl Found {
    /// Adds series `id` with its samples from memory (`newer`).
    fn add(&mut self, id: SeriesId, labels: Named, newer: Vec<Sample>) {
        self.slots.insert(id, self.entries.len());
        self.entries.push(Entry {
            labels,
            files: FileSamples::default(),
            newer,
            flushing: 0,
            hists: Vec::new(),
            runs: Vec::new(),
            resolved: usize::MAX,
            intervals: Vec::new(),
        });
    }

    /// The series found with samples or histograms, sorted by labels: each one's samples
    /// from files and memory in time order, and its histograms from `resolved`.
    fn into_series(self, mut resolved: Vec<Resolved>) -> Vec<SeriesData> {
        let mut out: Vec<SeriesData> = self
            .entries
            .into_iter()
            .filter_map(|e| {
                let Entry {
                    labels,
                    files,
                    newer,
                    resolved: slot,
                    mut intervals,
                    ..
                } = e;
                let (hists, runs) = match slot {
                    usize::MAX => (Vec::new(), Vec::new()),
                    k => std::mem::take(&mut resolved[k]),
                };
                let (mut samples, mut unordered) = (files.samples, files.unordered);
                if let (Some(last), Some(first)) = (samples.last(), newer.first()) {
                    unordered |= last.ts >= first.ts;
                }
                // The head's samples are few; a flush in progress and the buffer after it
                // may overlap.
                unordered |= newer.windows(2).any(|w| w[0].ts >= w[1].ts);
                samples.extend(newer);
                // Oldest source first; a stable sort keeps the first-written sample of a
                // timestamp, and dedup drops later copies of it. Usually there is nothing
                // to do: partitions and the head do not overlap in time.
                if unordered {
                    samples.sort_by_key(|s| s.ts);
                    samples.dedup_by_key(|s| s.ts);
                }
                intervals = join_days(intervals);
                complete_at_midnight(&mut intervals, &samples);
                (!samples.is_empty() || !hists.is_empty() || !runs.is_empty()).then(|| SeriesData {
                    labels: labels.into_labels(),
                    samples,
                    histograms: hists,
                    histogram_runs: runs,
                    intervals,
                })
            })
            .collect();
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        out
    }
}

/// A series' resolved histograms: samples, and runs kept whole (in time order, apart from
/// each other and from the samples).
type Resolved = (Vec<HistogramSample>, Vec<HistogramRun>);

/// One series a select found: labels, samples from files (oldest file first), samples
/// from memory.
struct Entry {
    labels: Named,
    files: FileSamples,
    newer: Vec<Sample>,
    /// How many of `newer` a flush in progress holds (set for series with histograms).
    flushing: usize,
    /// Native histograms from memory and files, ranked by source
    /// (`metrics/histograms.rs`).
    hists: Vec<Ranked>,
    /// Runs of native histograms from files, ranked like `hists`.
    runs: Vec<(u32, HistogramRun)>,
    /// Where its resolved histograms are (`usize::MAX`: it has none).
    resolved: usize,
    /// Its intervals in downsampled tiers.
    intervals: Vec<Interval>,
}

/// A series' labels while it is read: the head's compact key, turned into [`Labels`] only
/// for series that are returned, or labels read from a series file.
enum Named {
    Key(SeriesKey),
    Labels(Arc<Labels>),
}

impl Named {
    fn into_labels(self) -> Arc<Labels> {
        match self {
            Self::Key(k) => Arc::new(k.to_labels()),
            Self::Labels(l) => l,
        }
    }
}
