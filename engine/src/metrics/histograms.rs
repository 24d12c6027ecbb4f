//! The native histograms side of a select: reading the file sets' histograms files for the
//! selected series, and merging them with memory's and with the floats.
//!
//! Every sample carries the rank of its source: the file sets in the order they are read
//! (oldest flush first), then a flush in progress ([`RANK_FLUSHING`]), then the head
//! ([`RANK_HEAD`]). Of two samples at one (series, ts) the lower rank wins (the oldest
//! flush's, as for floats, `metrics/store.rs`), whichever their kinds: a float and a
//! histogram at the same timestamp only meet across flushes (the head refuses the second
//! as a conflict), and the float's rank is then looked up in the sets that can hold it.
//! Series without histograms never come here, and sets without histograms files are
//! skipped by their manifest entry, so the float path is unchanged.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use crate::metrics::files::MetricsFile;
use crate::metrics::page_cache::PageCache;
use crate::metrics::read::{self, FileSamples};
use crate::metrics::scan::{ScanStats, read_samples_cached};
use crate::metrics::series::EncodedHist;
use crate::model::series::SeriesId;
use crate::storage::histograms::read::{Footers, Read, read_histograms_cached};
use crate::storage::partition::PartFile;
use crate::{Error, Histogram, HistogramRun, HistogramSample, Result, Sample};

/// The rank of a flush in progress's samples: after every file set.
pub(crate) const RANK_FLUSHING: u32 = u32::MAX - 1;
/// The rank of the head's samples: the newest.
pub(crate) const RANK_HEAD: u32 = u32::MAX;

/// A histogram sample and the rank of its source.
pub(crate) type Ranked = (u32, HistogramSample);

/// Decodes memory's histograms of series `id`, ranked `rank`, onto `out`.
pub(crate) fn decode_into(
    id: SeriesId,
    v: &[EncodedHist],
    rank: u32,
    out: &mut Vec<Ranked>,
) -> Result<()> {
    for (ts, bytes) in v {
        let h = Histogram::decode(bytes).map_err(|e| Error::HeadHistogram {
            id,
            ts: *ts,
            reason: e.to_string(),
        })?;
        out.push((
            rank,
            HistogramSample {
                ts: *ts,
                h: Arc::new(h),
            },
        ));
    }
    Ok(())
}

/// Hands every histogram sample in `[start, end]` of each plan's series (`plans`: file
/// sets oldest first, each with its wanted ids, sorted) that `keep` accepts to `visit` with
/// the plan's index as rank; with `runs`, a series' samples of one layout in a set as one
/// run. Sets without a histograms file are skipped without a read; once `keep` refuses,
/// no further set is read.
///
/// A large read runs on several threads ([`read::threads_for`]), each over its own run of
/// series ids, as the samples reader does: the files are sorted by series, so each thread
/// decodes only its ids' pages, and each series is read by exactly one thread, set by set
/// in rank order. Then `keep` runs on those threads and `visit` on the caller's, series by
/// series in id order.
pub(crate) fn read_sets(
    plans: &[(&PartFile, Vec<SeriesId>)],
    window: (i64, i64),
    runs: bool,
    keep: &(dyn Fn(&Read) -> bool + Sync),
    mut visit: impl FnMut(u32, SeriesId, Read),
) -> Result<()> {
    let ids = || {
        plans
            .iter()
            .filter(|(f, _)| f.has_histograms())
            .flat_map(|(_, ids)| ids.iter().copied())
    };
    let threads = read::threads_for(work(plans));
    if threads <= 1 {
        // One part: its first and last ids bound it.
        let (Some(lo), Some(hi)) = (ids().min(), ids().max()) else {
            return Ok(());
        };
        return read_part(plans, &[lo, hi], window, runs, &mut |rank, id, r| {
            if keep(&r) {
                visit(rank, id, r);
                true
            } else {
                false
            }
        });
    }
    let mut all: Vec<SeriesId> = ids().collect();
    all.sort_unstable();
    all.dedup();
    let per = all.len().div_ceil(threads).max(1);
    let parts = read::on_threads(&all, per, |ids| {
        let mut got = Vec::new();
        read_part(plans, ids, window, runs, &mut |rank, id, r| {
            let kept = keep(&r);
            if kept {
                got.push((rank, id, r));
            }
            kept
        })
        .map(|()| got)
    });
    for part in parts {
        for (rank, id, r) in part? {
            visit(rank, id, r);
        }
    }
    Ok(())
}

/// The work of reading `plans`' histograms, in (set, series) pairs: each pair weighs one
/// for its histograms row plus one per bucket row its set holds per histogram.
fn work(plans: &[(&PartFile, Vec<SeriesId>)]) -> usize {
    plans
        .iter()
        .filter(|(f, _)| f.has_histograms())
        .map(|(f, ids)| {
            let per = f.entry.histogram_bucket_rows / f.entry.histogram_rows.max(1);
            ids.len().saturating_mul(1 + per as usize)
        })
        .fold(0, usize::saturating_add)
}

/// [`read_sets`]' reads of the series from `ids`' first to its last (sorted) from every
/// plan, handing each read to `visit`, which says whether it was kept.
fn read_part(
    plans: &[(&PartFile, Vec<SeriesId>)],
    ids: &[SeriesId],
    (start, end): (i64, i64),
    runs: bool,
    visit: &mut dyn FnMut(u32, SeriesId, Read) -> bool,
) -> Result<()> {
    let (Some(&lo), Some(&hi)) = (ids.first(), ids.last()) else {
        return Ok(());
    };
    for (k, (f, wanted)) in plans.iter().enumerate() {
        let Some(path) = f.histograms_path() else {
            continue;
        };
        let from = wanted.partition_point(|&id| id < lo);
        let to = wanted.partition_point(|&id| id <= hi);
        if from == to {
            continue;
        }
        let buckets = f.histogram_buckets_path();
        let own = Footers::default();
        let footers = f.hist_footers().unwrap_or(&own);
        let rank = k as u32;
        let mut refused = false;
        read_histograms_cached(
            &path,
            buckets.as_deref(),
            footers,
            (&wanted[from..to], start, end),
            runs,
            |id, r| refused |= !visit(rank, id, r),
        )?;
        if refused {
            break;
        }
    }
    Ok(())
}

/// Whether series' histogram `runs` (from files, ranked) can be handed out whole beside its
/// samples `hists`: when the series has no float sample (`files`, `newer`) and no two
/// pieces meet in time, no sample can lose to another at its timestamp. Then returns the
/// runs in time order; otherwise moves every run's samples into `hists` (to be resolved
/// one by one) and returns none.
pub(crate) fn keep_runs(
    files: &[Sample],
    newer: &[Sample],
    hists: &mut Vec<Ranked>,
    runs: &mut Vec<(u32, HistogramRun)>,
) -> Vec<HistogramRun> {
    if runs.is_empty() {
        return Vec::new();
    }
    runs.sort_by_key(|(_, r)| r.ts.first().copied());
    let range = |r: &HistogramRun| (r.ts[0], r.ts[r.len() - 1]);
    let apart = runs.iter().all(|(_, r)| !r.is_empty())
        && runs.windows(2).all(|w| range(&w[0].1).1 < range(&w[1].1).0)
        && hists.iter().all(|(_, s)| {
            let k = runs.partition_point(|(_, r)| range(r).1 < s.ts);
            runs.get(k).is_none_or(|(_, r)| s.ts < range(r).0)
        });
    if files.is_empty() && newer.is_empty() && apart {
        return std::mem::take(runs).into_iter().map(|(_, r)| r).collect();
    }
    for (rank, r) in std::mem::take(runs) {
        hists.extend(r.samples().map(|s| (rank, s)));
    }
    Vec::new()
}

/// One series' samples being merged: floats from files and memory, histograms ranked.
pub(crate) struct Mixed<'a> {
    /// The series.
    pub(crate) id: SeriesId,
    /// Its floats from files, oldest set first.
    pub(crate) files: &'a mut FileSamples,
    /// Its floats from memory: a flush in progress's (the first `flushing`), then the head's.
    pub(crate) newer: &'a mut Vec<Sample>,
    /// How many of `newer` a flush in progress holds.
    pub(crate) flushing: usize,
}

/// Resolves series `m`'s histograms `hists` (any order) against each other and against its
/// floats: one sample per timestamp, the lowest rank's. Returns the histograms in time
/// order; floats that lose are removed from `m`.
pub(crate) fn resolve(
    m: Mixed<'_>,
    mut hists: Vec<Ranked>,
    plans: &[(&PartFile, Vec<SeriesId>)],
    (cache, start, end): (&PageCache, i64, i64),
    stats: &mut ScanStats,
) -> Result<Vec<HistogramSample>> {
    hists.sort_by_key(|(rank, s)| (s.ts, *rank));
    hists.dedup_by_key(|(_, s)| s.ts);
    let floats: HashSet<i64> = m
        .files
        .samples
        .iter()
        .chain(m.newer.iter())
        .map(|s| s.ts)
        .collect();
    // Colliding timestamps, and the rank of the float at each (the lowest of its copies).
    let mut clash: BTreeMap<i64, u32> = hists
        .iter()
        .filter(|(_, s)| floats.contains(&s.ts))
        .map(|(_, s)| (s.ts, u32::MAX))
        .collect();
    if clash.is_empty() {
        return Ok(hists.into_iter().map(|(_, s)| s).collect());
    }
    let (Some(&lo), Some(&hi)) = (clash.keys().next(), clash.keys().next_back()) else {
        return Ok(hists.into_iter().map(|(_, s)| s).collect());
    };
    for (k, s) in m.newer.iter().enumerate() {
        if let Some(r) = clash.get_mut(&s.ts) {
            let rank = if k < m.flushing {
                RANK_FLUSHING
            } else {
                RANK_HEAD
            };
            *r = (*r).min(rank);
        }
    }
    for (k, (f, ids)) in plans.iter().enumerate() {
        if ids.binary_search(&m.id).is_err() {
            continue;
        }
        let rank = k as u32;
        read_samples_cached(
            &f.samples_path(),
            &f.samples_meta,
            Some((cache, f.uid)),
            &[m.id],
            lo.max(start),
            hi.min(end),
            stats,
            |_, ts: &[i64], _: &[f64]| {
                for t in ts {
                    if let Some(r) = clash.get_mut(t) {
                        *r = (*r).min(rank);
                    }
                }
            },
        )?;
    }
    let mut drop_floats = HashSet::new();
    hists.retain(|(rank, s)| match clash.get(&s.ts) {
        Some(&float_rank) if float_rank < *rank => false,
        Some(_) => {
            drop_floats.insert(s.ts);
            true
        }
        None => true,
    });
    if !drop_floats.is_empty() {
        m.files.samples.retain(|s| !drop_floats.contains(&s.ts));
        m.newer.retain(|s| !drop_floats.contains(&s.ts));
    }
    Ok(hists.into_iter().map(|(_, s)| s).collect())
}
