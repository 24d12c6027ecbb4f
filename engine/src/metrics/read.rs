//! The file side of a select: the samples of chosen series from several file sets, read
//! over several threads when there is much to read.
//!
//! The series are split into runs of ids, one per thread. A samples file is sorted by
//! series id, so each thread reads (and decodes, on a page cache miss) only the pages of
//! its own ids, and each series' samples are gathered by exactly one thread: no page is
//! decoded twice and nothing is copied again to merge the parts.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::metrics::page_cache::PageCache;
use crate::metrics::scan::{self, ScanStats};
use crate::model::series::SeriesId;
use crate::storage::partition::PartFile;
use crate::{Error, Result, Sample};

/// Bytes one gathered sample holds.
pub(crate) const SAMPLE_BYTES: usize = std::mem::size_of::<Sample>();

/// The most bytes one select may gather ([`crate::Engine::select_within`]), counted as
/// samples are handed over: a read past it gathers nothing more and stops at the end of
/// the file it is in, rather than gathering everything first.
#[derive(Debug)]
pub(crate) struct ReadLimit {
    max: usize,
    used: AtomicUsize,
    over: AtomicBool,
}

impl ReadLimit {
    pub(crate) fn new(max: usize) -> Self {
        Self {
            max,
            used: AtomicUsize::new(0),
            over: AtomicBool::new(false),
        }
    }

    /// No limit.
    pub(crate) fn none() -> Self {
        Self::new(usize::MAX)
    }

    /// Takes `n` bytes; false, taking nothing and marking the read over, when that would
    /// pass the limit.
    pub(crate) fn take(&self, n: usize) -> bool {
        let ok = self
            .used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                u.checked_add(n).filter(|v| *v <= self.max)
            })
            .is_ok();
        if !ok {
            self.over.store(true, Ordering::Release);
        }
        ok
    }

    /// [`Self::take`], failing with [`Error::ReadLimit`] when it is refused.
    pub(crate) fn need(&self, n: usize) -> Result<()> {
        if self.take(n) {
            return Ok(());
        }
        self.check()
    }

    /// Whether a take was refused.
    pub(crate) fn is_over(&self) -> bool {
        self.over.load(Ordering::Acquire)
    }

    /// [`Error::ReadLimit`] if a take was refused.
    pub(crate) fn check(&self) -> Result<()> {
        if self.is_over() {
            return Err(Error::ReadLimit { limit: self.max });
        }
        Ok(())
    }
}

/// Below this many (file set, series) pairs to read, one thread reads them all.
const PARALLEL_MIN_PAIRS: usize = 4_096;
/// Most threads one select reads files on.
const MAX_THREADS: usize = 4;

/// How many threads a read of `pairs` (file set, series) pairs (or as much work) runs on.
pub(crate) fn threads_for(pairs: usize) -> usize {
    if pairs < PARALLEL_MIN_PAIRS {
        return 1;
    }
    std::thread::available_parallelism()
        .map_or(1, NonZeroUsize::get)
        .min(MAX_THREADS)
}

/// `f` over each chunk of `per` of `items`, each on its own scoped thread: the results in
/// chunk order (a panic on one resumes on the caller's).
pub(crate) fn on_threads<T: Sync, R: Send>(
    items: &[T],
    per: usize,
    f: impl Fn(&[T]) -> R + Sync,
) -> Vec<R> {
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(per.max(1))
            .map(|c| scope.spawn(move || f(c)))
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(r) => r,
                Err(p) => std::panic::resume_unwind(p),
            })
            .collect()
    })
}

/// One series' samples from files, oldest file first.
#[derive(Debug, Default)]
pub(crate) struct FileSamples {
    pub(crate) samples: Vec<Sample>,
    /// Whether `samples` may not be in strictly increasing time order (then it is sorted
    /// and deduplicated once complete).
    pub(crate) unordered: bool,
}

impl FileSamples {
    /// Appends a run of samples from a file, `sets_left` the file sets still to read (this
    /// one included): room for as many runs as that is made at once, so a series spread
    /// over many partitions is not copied at every one.
    fn append(&mut self, ts: &[i64], vs: &[f64], sets_left: usize) {
        let Some(&first) = ts.first() else { return };
        // Checked here, where the run is in cache, rather than in a pass over everything.
        self.unordered |= self.samples.last().is_some_and(|l| l.ts >= first)
            || ts.windows(2).any(|w| w[0] >= w[1]);
        if self.samples.capacity() - self.samples.len() < ts.len() {
            self.samples.reserve(ts.len() * sets_left);
        }
        let run = ts.iter().zip(vs);
        self.samples
            .extend(run.map(|(&ts, &value)| Sample { ts, value }));
    }
}

/// The samples in `[start, end]` of each file set's series (`plans`: file sets oldest
/// first, each with the ids to read from it, sorted), by series id in ascending order;
/// series with no sample are left out.
pub(crate) fn read_files(
    cache: &PageCache,
    plans: &[(&PartFile, Vec<SeriesId>)],
    start: i64,
    end: i64,
    limit: &ReadLimit,
    stats: &mut ScanStats,
) -> Result<Vec<(SeriesId, FileSamples)>> {
    let mut all: Vec<SeriesId> = plans
        .iter()
        .flat_map(|(_, ids)| ids.iter().copied())
        .collect();
    all.sort_unstable();
    all.dedup();
    let pairs: usize = plans.iter().map(|(_, ids)| ids.len()).sum();
    let threads = threads_for(pairs);
    let per = all.len().div_ceil(threads).max(1);
    let parts: Vec<Result<(Vec<FileSamples>, ScanStats)>> = if threads <= 1 {
        vec![read_part(cache, plans, &all, start, end, limit)]
    } else {
        on_threads(&all, per, |ids| {
            read_part(cache, plans, ids, start, end, limit)
        })
    };
    let mut out = Vec::with_capacity(all.len());
    for (ids, part) in all.chunks(per).zip(parts) {
        let (samples, part_stats) = part?;
        stats.add(&part_stats);
        let found = ids.iter().copied().zip(samples);
        out.extend(found.filter(|(_, s)| !s.samples.is_empty()));
    }
    limit.check()?;
    Ok(out)
}

/// The samples of series `ids` (sorted, distinct), one entry per id; gathering stops
/// (after the file it is in) once `limit` refuses.
fn read_part(
    cache: &PageCache,
    plans: &[(&PartFile, Vec<SeriesId>)],
    ids: &[SeriesId],
    start: i64,
    end: i64,
    limit: &ReadLimit,
) -> Result<(Vec<FileSamples>, ScanStats)> {
    let mut stats = ScanStats::default();
    let mut out: Vec<FileSamples> = ids.iter().map(|_| FileSamples::default()).collect();
    let (Some(&lo), Some(&hi)) = (ids.first(), ids.last()) else {
        return Ok((out, stats));
    };
    for (k, (f, wanted)) in plans.iter().enumerate() {
        let sets_left = plans.len() - k;
        let from = wanted.partition_point(|&id| id < lo);
        let to = wanted.partition_point(|&id| id <= hi);
        if from == to {
            continue;
        }
        if limit.is_over() {
            break;
        }
        // Rows come sorted by series: find each series' entry once per run.
        let mut last: Option<(SeriesId, Option<usize>)> = None;
        scan::read_samples_cached(
            &f.samples_path(),
            &f.samples_meta,
            Some((cache, f.uid)),
            &wanted[from..to],
            start,
            end,
            &mut stats,
            |id, ts: &[i64], vs: &[f64]| {
                let slot = match last {
                    Some((l, slot)) if l == id => slot,
                    _ => {
                        let slot = ids.binary_search(&id).ok();
                        last = Some((id, slot));
                        slot
                    }
                };
                if let Some(i) = slot
                    && !limit.is_over()
                    && limit.take(ts.len() * SAMPLE_BYTES)
                {
                    out[i].append(ts, vs, sets_left);
                }
            },
        )?;
    }
    Ok((out, stats))
}
