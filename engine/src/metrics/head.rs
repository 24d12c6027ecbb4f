//! The in-memory head of one tenant: its series and their recent samples, sorted by time.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::KnownSeries;
use crate::metrics::raw_keys::{NO_STRING, RawKeys, ids_hash};
use crate::metrics::series::{EncodedHist, SeriesBuf};
use crate::metrics::series_index::SeriesIndex;
use crate::model::series::{IdMap, LABEL_BITS, MIX, SeriesId};
use crate::model::series_key::SeriesKey;
use crate::rate_limit::TokenBucket;
use crate::{RejectReason, Sample};

/// Shards of a tenant's head (a power of two). Writers of one tenant lock one shard at a
/// time, so they place samples in parallel.
pub(crate) const SHARDS: usize = 16;

/// The shard of series `id`: a function of the metric name's bits of the id, which every
/// id a label set can get shares (collisions re-seed only the label bits, `model/series.rs`), so
/// the shard is known from the first-choice id before the series is looked up.
pub(crate) fn shard_of(id: SeriesId) -> usize {
    ((id >> LABEL_BITS).wrapping_mul(MIX) >> (64 - SHARDS.trailing_zeros())) as usize
}

/// One shard of a tenant's head: the series whose [`shard_of`] is its index, with their
/// labels and sample buffers (one map), and what the flush and the limits need of them.
/// Iterate it with `index.iter()`: (id, [`HeadSeries`]).
#[derive(Debug)]
pub(crate) struct HeadShard {
    pub(crate) index: SeriesIndex,
    /// Samples taken by a flush in progress, still readable until their files are
    /// registered.
    pub(crate) flushing: IdMap<Arc<Vec<Sample>>>,
    /// Native histograms taken by a flush in progress, beside `flushing` (readable until
    /// their files are registered).
    pub(crate) flushing_h: IdMap<Arc<Vec<EncodedHist>>>,
    /// Series counted as active, by metric name (a metric's series are all in one shard).
    pub(crate) active_by_metric: HashMap<String, usize>,
    /// Bumped by every flush cut (never 0). The first WAL record after a cut that uses a
    /// series logs its labels again, so the records a replay starts from (at a cut) define
    /// every series they use, even one whose only other definition was in a partition
    /// retention dropped.
    pub(crate) wal_epoch: u32,
}

impl Default for HeadShard {
    fn default() -> Self {
        Self {
            index: SeriesIndex::default(),
            flushing: IdMap::default(),
            flushing_h: IdMap::default(),
            active_by_metric: HashMap::new(),
            wal_epoch: 1,
        }
    }
}

impl HeadShard {
    /// Bumps [`HeadShard::wal_epoch`] (at a flush cut), skipping 0, which means "never".
    pub(crate) fn next_wal_epoch(&mut self) {
        self.wal_epoch = self.wal_epoch.wrapping_add(1).max(1);
    }
}

/// A tenant's head: [`SHARDS`] shards of series, and the tenant-wide state of its limits.
///
/// Lock order: `gate`, then a shard, then `raw_keys`, `bucket` or `rejected` (each held
/// briefly; never two shards at once except by the flush cut, which takes the gate for
/// writing, then every shard in index order).
#[derive(Debug)]
pub(crate) struct TenantHead {
    shards: Box<[Mutex<HeadShard>]>,
    /// Series counted as active, over all shards.
    active: AtomicUsize,
    /// When counted series last had their activity checked.
    last_sweep_ms: AtomicI64,
    /// Where the next write starts its walk over the shards, so concurrent writers do not
    /// queue behind each other shard after shard.
    next_start: AtomicUsize,
    bucket: Mutex<Option<TokenBucket>>,
    /// Rejections since open, by reason.
    rejected: Mutex<BTreeMap<RejectReason, u64>>,
    /// Writers' raw label bytes -> series id.
    raw_keys: RwLock<RawKeys>,
    /// The [`RawKeys`] owner id, readable without its lock.
    owner: u64,
    /// Held for reading by a write from its first placement until its samples record is
    /// submitted, and for writing by the flush cut, so the cut never falls inside a write.
    gate: RwLock<()>,
}

impl Default for TenantHead {
    fn default() -> Self {
        let raw_keys = RawKeys::default();
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            active: AtomicUsize::new(0),
            last_sweep_ms: AtomicI64::new(0),
            next_start: AtomicUsize::new(0),
            bucket: Mutex::new(None),
            rejected: Mutex::default(),
            owner: raw_keys.owner(),
            raw_keys: RwLock::new(raw_keys),
            gate: RwLock::new(()),
        }
    }
}

/// Locks `m`. A panic while holding one of the head's locks cannot leave a half-inserted
/// sample (inserts are single Vec operations): keep serving.
fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl TenantHead {
    /// Holds the gate for reading: a write holds it from its first placement until its
    /// samples record is submitted, so no flush cut falls inside it.
    pub(crate) fn write_gate(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Holds the gate for writing (the flush cut): no write is between placing and logging
    /// its samples while it is held.
    pub(crate) fn cut_gate(&self) -> RwLockWriteGuard<'_, ()> {
        self.gate.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes up to `want` tokens of the ingest rate limit at `now_ms` (the bucket starts
    /// full at the first write) and returns how many it got.
    pub(crate) fn take_tokens(&self, want: u64, now_ms: i64, rate: f64, burst: f64) -> u64 {
        relock(&self.bucket)
            .get_or_insert_with(|| TokenBucket::full(burst, now_ms))
            .take(want, now_ms, rate, burst)
    }

    /// Gives back `tokens` a write took with [`TenantHead::take_tokens`] but did not use.
    pub(crate) fn give_back_tokens(&self, tokens: u64, burst: f64) {
        if let Some(b) = relock(&self.bucket).as_mut() {
            b.give_back(tokens, burst);
        }
    }

    /// Remembers the series of writers' raw label bytes: `learn` inserts into the raw key
    /// map, under its write lock.
    pub(crate) fn learn_raw_keys(&self, learn: impl FnOnce(&mut RawKeys)) {
        learn(&mut self.raw_keys.write().unwrap_or_else(|p| p.into_inner()));
    }

    /// Bytes the raw key map holds.
    pub(crate) fn raw_keys_bytes(&self) -> usize {
        self.raw_keys
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .memory_bytes()
    }

    /// Adds a write's rejections, by reason, to the tenant's counts since open.
    pub(crate) fn count_rejected(&self, rejected: &BTreeMap<RejectReason, u64>) {
        let mut counts = relock(&self.rejected);
        for (reason, n) in rejected {
            *counts.entry(*reason).or_default() += n;
        }
    }

    /// Rejections since open, by reason.
    pub(crate) fn rejected(&self) -> BTreeMap<RejectReason, u64> {
        relock(&self.rejected).clone()
    }

    /// Number of series counted as active.
    pub(crate) fn active_series(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }

    /// Counts one more active series, one [`activate`] counted in its shard without a
    /// reservation (replay).
    pub(crate) fn count_active(&self) {
        self.active.fetch_add(1, Ordering::AcqRel);
    }

    /// Adds series `id` with label bytes `key` to its shard's index, as an open does (a
    /// no-op if it is there already); false if `id` is taken by another label set.
    pub(crate) fn restore_series(&self, id: SeriesId, key: &[u8]) -> bool {
        self.shard_for(id).index.restore(id, key).is_some()
    }

    /// The labels of series `id`, written out, if it is in the head.
    pub(crate) fn series_labels(&self, id: SeriesId) -> Option<String> {
        self.shard_for(id)
            .index
            .get(id)
            .map(|s| s.key.to_labels().to_string())
    }

    /// Locks shard `i`.
    pub(crate) fn shard(&self, i: usize) -> MutexGuard<'_, HeadShard> {
        relock(&self.shards[i])
    }

    /// Locks the shard of series `id`.
    pub(crate) fn shard_for(&self, id: SeriesId) -> MutexGuard<'_, HeadShard> {
        self.shard(shard_of(id))
    }

    /// Locks every shard, in index order (the flush cut).
    pub(crate) fn lock_all(&self) -> Vec<MutexGuard<'_, HeadShard>> {
        (0..SHARDS).map(|i| self.shard(i)).collect()
    }

    /// The shard a write starts at (rotating).
    pub(crate) fn start_shard(&self) -> usize {
        self.next_start.fetch_add(1, Ordering::Relaxed) % SHARDS
    }

    /// Whether `known` came from this tenant's raw key map.
    pub(crate) fn owns(&self, known: KnownSeries) -> bool {
        known.owner == self.owner
    }

    /// The series stored under each raw key, if any.
    pub(crate) fn known_series(&self, keys: &[&[u8]]) -> Vec<Option<KnownSeries>> {
        let raw = self.raw_keys.read().unwrap_or_else(|p| p.into_inner());
        keys.iter().map(|k| raw.get(k)).collect()
    }

    /// The series each of `series` (label references into `strings`, name then value)
    /// names, by the labels' numbers; `None` for one not remembered that way, or with a
    /// reference outside `strings`.
    pub(crate) fn known_series_symbols(
        &self,
        strings: &[&str],
        series: &[&[u32]],
    ) -> Vec<Option<KnownSeries>> {
        let raw = self.raw_keys.read().unwrap_or_else(|p| p.into_inner());
        let mut numbers = Vec::with_capacity(strings.len());
        raw.string_ids(strings, &mut numbers);
        // Every series' numbers and hash first, then the probes in a loop of their own: the
        // probes do not wait on each other, so their cache misses overlap.
        let mut ids = Vec::with_capacity(series.iter().map(|r| r.len()).sum());
        let mut spans: Vec<Option<(u64, usize, usize)>> = Vec::with_capacity(series.len());
        for refs in series {
            let start = ids.len();
            let complete = refs.iter().all(|&r| match numbers.get(r as usize) {
                Some(&n) if n != NO_STRING => {
                    ids.push(n);
                    true
                }
                _ => false,
            });
            spans.push(complete.then(|| (ids_hash(&ids[start..]), start, ids.len())));
            if !complete {
                ids.truncate(start);
            }
        }
        spans
            .iter()
            .map(|s| s.and_then(|(h, a, b)| raw.get_by_strings_hashed(h, &ids[a..b])))
            .collect()
    }

    /// The oldest timestamp of a sample or histogram in the head (a flush's included),
    /// one shard locked at a time; `None` when the head holds none.
    pub(crate) fn oldest_ms(&self) -> Option<i64> {
        let mut oldest: Option<i64> = None;
        let mut see = |ts: i64| oldest = Some(oldest.map_or(ts, |o| o.min(ts)));
        for i in 0..SHARDS {
            let shard = self.shard(i);
            for (_, s) in shard.index.iter() {
                if let Some(x) = s.buf.samples.first() {
                    see(x.ts);
                }
                if let Some(h) = s.buf.hists.as_deref().and_then(|h| h.v.first()) {
                    see(h.0);
                }
            }
            for v in shard.flushing.values() {
                if let Some(x) = v.first() {
                    see(x.ts);
                }
            }
            for v in shard.flushing_h.values() {
                if let Some(h) = v.first() {
                    see(h.0);
                }
            }
        }
        oldest
    }

    /// Number of series in the head.
    pub(crate) fn series_count(&self) -> usize {
        (0..SHARDS).map(|i| self.shard(i).index.len()).sum()
    }

    /// Reserves a place for one more active series, overall and for its metric (`metric`
    /// active series of it now); the caller counts the series in its shard or gives the
    /// place back with [`TenantHead::unreserve`].
    pub(crate) fn reserve_active(
        &self,
        metric_active: usize,
        max_active: usize,
        max_per_metric: usize,
    ) -> Result<(), RejectReason> {
        if self.active.load(Ordering::Relaxed) >= max_active {
            return Err(RejectReason::SeriesLimit);
        }
        if metric_active >= max_per_metric {
            return Err(RejectReason::MetricSeriesLimit);
        }
        self.active
            .fetch_update(Ordering::AcqRel, Ordering::Relaxed, |a| {
                (a < max_active).then_some(a + 1)
            })
            .map(|_| ())
            .map_err(|_| RejectReason::SeriesLimit)
    }

    /// Gives back a place [`TenantHead::reserve_active`] reserved.
    pub(crate) fn unreserve(&self) {
        self.active.fetch_sub(1, Ordering::AcqRel);
    }

    /// Stops counting series idle for longer than `window_ms`. Runs a full pass at most once
    /// per eighth of the window, so between passes a series may stay counted up to 1/8
    /// window longer than it was active: the limits err on the strict side, never the lax.
    /// Locks one shard at a time; call it holding none.
    pub(crate) fn sweep(&self, now_ms: i64, window_ms: i64) {
        let last = self.last_sweep_ms.load(Ordering::Relaxed);
        if now_ms.saturating_sub(last) < window_ms / 8
            || self
                .last_sweep_ms
                .compare_exchange(last, now_ms, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
        {
            return; // not due, or another writer is sweeping
        }
        let cutoff = now_ms.saturating_sub(window_ms);
        for i in 0..SHARDS {
            let mut shard = self.shard(i);
            let shard = &mut *shard;
            for (_, s) in shard.index.iter_mut() {
                if s.buf.counted && s.buf.last_seen_ms < cutoff {
                    s.buf.counted = false;
                    self.active.fetch_sub(1, Ordering::AcqRel);
                    if let Some(n) = shard.active_by_metric.get_mut(s.key.metric_name()) {
                        *n -= 1;
                    }
                }
            }
        }
    }
}

/// Marks a series as seen at `now_ms`. If it was not counted as active, counts it under its
/// metric in its shard's `active_by_metric` and returns true: the caller counts it in the
/// tenant's total (or already reserved it there). The metric name is parsed from `key`
/// only then.
pub(crate) fn activate(
    buf: &mut SeriesBuf,
    key: &SeriesKey,
    now_ms: i64,
    active_by_metric: &mut HashMap<String, usize>,
) -> bool {
    buf.last_seen_ms = now_ms;
    if buf.counted {
        return false;
    }
    buf.counted = true;
    let metric = key.metric_name();
    match active_by_metric.get_mut(metric) {
        Some(n) => *n += 1,
        None => {
            active_by_metric.insert(metric.to_owned(), 1);
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::series::Placement;

    #[test]
    fn token_bucket_refills_at_the_rate_up_to_the_burst() {
        let mut b = TokenBucket::full(10.0, 0);
        assert_eq!(b.take(25, 0, 5.0, 10.0), 10);
        assert_eq!(b.take(5, 0, 5.0, 10.0), 0);
        assert_eq!(b.take(5, 400, 5.0, 10.0), 2, "5/s for 0.4 s");
        assert_eq!(b.take(100, 100_000, 5.0, 10.0), 10, "capped at the burst");
        assert_eq!(
            b.take(1, 50_000, 5.0, 10.0),
            0,
            "time going backwards adds nothing"
        );
    }

    fn s(ts: i64, value: f64) -> Sample {
        Sample { ts, value }
    }

    fn buf(samples: &[(i64, f64)]) -> SeriesBuf {
        SeriesBuf {
            samples: samples.iter().map(|&(t, v)| s(t, v)).collect(),
            newest_ts: samples.iter().map(|x| x.0).max(),
            ..SeriesBuf::default()
        }
    }

    #[test]
    fn placement_follows_the_policy() {
        let b = buf(&[(1000, 1.0), (2500, 2.5), (5000, 5.0)]);
        let w = 3000; // the window reaches back to 2000
        assert_eq!(b.place(s(6000, 0.0), w), Placement::Append);
        assert_eq!(b.place(s(3000, 3.0), w), Placement::Insert(2));
        assert_eq!(b.place(s(2500, 2.5), w), Placement::Duplicate);
        assert_eq!(b.place(s(2500, 2.6), w), Placement::Conflict);
        assert_eq!(
            b.place(s(2000, 9.0), w),
            Placement::Insert(1),
            "the window edge is inside"
        );
        assert_eq!(b.place(s(1999, 9.0), w), Placement::TooOld);
        assert_eq!(
            b.place(s(1000, 1.0), w),
            Placement::Duplicate,
            "an identical re-send, however old"
        );
        assert_eq!(b.place(s(1000, 7.0), w), Placement::Conflict);
    }

    #[test]
    fn special_values_compare_by_bits() {
        let stale = f64::from_bits(0x7FF0_0000_0000_0002);
        let b = buf(&[(1, f64::NAN), (2, stale), (3, f64::INFINITY), (4, -0.0)]);
        assert_eq!(b.place(s(1, f64::NAN), 10), Placement::Duplicate);
        assert_eq!(b.place(s(1, stale), 10), Placement::Conflict);
        assert_eq!(b.place(s(2, stale), 10), Placement::Duplicate);
        assert_eq!(b.place(s(3, f64::INFINITY), 10), Placement::Duplicate);
        assert_eq!(
            b.place(s(4, 0.0), 10),
            Placement::Conflict,
            "-0 and +0 are different bits"
        );
    }
}
