//! The in-memory head of one tenant: its series and their recent samples, sorted by time.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::raw_keys::RawKeys;
use crate::series::{IdMap, SeriesIndex};
use crate::series_key::SeriesKey;
use crate::{RejectReason, Sample};

/// What inserting a sample into a series would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Newest so far: goes at the end.
    Append,
    /// Older than the newest but inside the out-of-order window: goes at this index.
    Insert(usize),
    /// Same timestamp and the same value bits as a stored sample: nothing to do.
    Duplicate,
    /// Older than the newest sample by more than the window.
    TooOld,
    /// Same timestamp, different value.
    Conflict,
}

/// One series in a tenant's head: its labels and its state.
#[derive(Debug)]
pub(crate) struct HeadSeries {
    pub(crate) key: SeriesKey,
    pub(crate) buf: SeriesBuf,
}

/// One series' samples, sorted by timestamp, one per timestamp.
#[derive(Debug, Default)]
pub(crate) struct SeriesBuf {
    pub(crate) samples: Vec<Sample>,
    /// Newest timestamp ever accepted, kept when `samples` is flushed, so the out-of-order
    /// window still applies.
    pub(crate) newest_ts: Option<i64>,
    /// Wall-clock time its last sample was received.
    pub(crate) last_seen_ms: i64,
    /// Whether it is counted in the tenant's active series.
    pub(crate) counted: bool,
    /// The tenant's [`TenantHead::wal_epoch`] when this process last logged the series'
    /// labels; 0 (never) for a series loaded from partitions or the WAL at open, which may
    /// have lost its definition since (retention drops partitions, flushes skip records).
    pub(crate) logged_epoch: u32,
    /// How many samples the series held when it was last flushed: the capacity reserved at
    /// its first sample after the flush, so a steady series grows its `Vec` once per flush
    /// instead of doubling up from empty.
    pub(crate) flushed_len: u32,
}

impl SeriesBuf {
    /// Where `s` would go. Values compare by bits, so NaN equals the same NaN and
    /// Prometheus's staleness marker is distinct from other NaNs.
    pub(crate) fn place(&self, s: Sample, window_ms: i64) -> Placement {
        let Some(newest) = self.newest_ts else {
            return Placement::Append;
        };
        if s.ts > newest {
            return Placement::Append;
        }
        // An exact re-send is harmless however old; only new data is held to the window.
        // (Only samples still in the head are compared; see docs/architecture.md.)
        match self.samples.binary_search_by_key(&s.ts, |x| x.ts) {
            Ok(i) if self.samples[i].value.to_bits() == s.value.to_bits() => Placement::Duplicate,
            Ok(_) => Placement::Conflict,
            Err(_) if s.ts < newest.saturating_sub(window_ms) => Placement::TooOld,
            Err(i) => Placement::Insert(i),
        }
    }

    pub(crate) fn apply(&mut self, s: Sample, p: Placement) {
        match p {
            Placement::Append => {
                if self.samples.capacity() == 0 {
                    self.samples.reserve(self.flushed_len as usize);
                }
                self.samples.push(s)
            }
            Placement::Insert(i) => self.samples.insert(i, s),
            Placement::Duplicate | Placement::TooOld | Placement::Conflict => return,
        }
        self.newest_ts = Some(self.newest_ts.map_or(s.ts, |n| n.max(s.ts)));
    }

    /// Takes the samples out for a flush, remembering how many there were.
    pub(crate) fn take_samples(&mut self) -> Vec<Sample> {
        self.flushed_len = u32::try_from(self.samples.len()).unwrap_or(u32::MAX);
        std::mem::take(&mut self.samples)
    }

    /// Inserts without a window (replay): what was logged was accepted once.
    pub(crate) fn restore(&mut self, s: Sample) {
        // Replay sees a series' samples mostly in time order: append without searching
        // (the search's cache misses were 60% of a 1 GiB replay, docs/benchmarks.md).
        if self.samples.last().is_none_or(|last| last.ts < s.ts) {
            self.apply(s, Placement::Append);
            return;
        }
        let p = match self.samples.binary_search_by_key(&s.ts, |x| x.ts) {
            Ok(_) => Placement::Duplicate,
            Err(i) => Placement::Insert(i),
        };
        self.apply(s, p);
    }
}

/// A tenant's head: its series (labels and sample buffers, one map), and the state of its
/// limits. Iterate it with `index.iter()`: (id, [`HeadSeries`]).
#[derive(Debug)]
pub(crate) struct TenantHead {
    pub(crate) index: SeriesIndex,
    /// Samples taken by a flush in progress, still readable until their files are
    /// registered.
    pub(crate) flushing: IdMap<Arc<Vec<Sample>>>,
    /// Series counted as active, in total and by metric name.
    pub(crate) active: usize,
    pub(crate) active_by_metric: HashMap<String, usize>,
    /// When counted series last had their activity checked.
    last_sweep_ms: i64,
    pub(crate) bucket: Option<TokenBucket>,
    /// Rejections since open, by reason.
    pub(crate) rejected: BTreeMap<RejectReason, u64>,
    /// Bumped by every flush cut (never 0). The first WAL record after a cut that uses a
    /// series logs its labels again, so the records a replay starts from (at a cut) define
    /// every series they use, even one whose only other definition was in a partition
    /// retention dropped.
    pub(crate) wal_epoch: u32,
    /// Writers' raw label bytes -> series id.
    pub(crate) raw_keys: RawKeys,
}

impl Default for TenantHead {
    fn default() -> Self {
        Self {
            index: SeriesIndex::default(),
            flushing: IdMap::default(),
            active: 0,
            active_by_metric: HashMap::new(),
            last_sweep_ms: 0,
            bucket: None,
            rejected: BTreeMap::new(),
            wal_epoch: 1,
            raw_keys: RawKeys::default(),
        }
    }
}

/// A token bucket: `rate` tokens per second, holding at most `burst`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenBucket {
    tokens: f64,
    last_ms: i64,
}

impl TokenBucket {
    pub(crate) fn full(burst: f64, now_ms: i64) -> Self {
        Self {
            tokens: burst,
            last_ms: now_ms,
        }
    }

    /// Refills, then returns how many whole tokens there are (taking none).
    pub(crate) fn available(&mut self, now_ms: i64, rate: f64, burst: f64) -> u64 {
        self.take(0, now_ms, rate, burst);
        self.tokens.floor().max(0.0) as u64
    }

    /// Takes up to `n` tokens; returns how many it got.
    pub(crate) fn take(&mut self, n: u64, now_ms: i64, rate: f64, burst: f64) -> u64 {
        let elapsed = now_ms.saturating_sub(self.last_ms).max(0) as f64 / 1000.0;
        self.tokens = (self.tokens + rate * elapsed).min(burst);
        self.last_ms = self.last_ms.max(now_ms);
        let got = (n as f64).min(self.tokens.floor()).max(0.0);
        self.tokens -= got;
        got as u64
    }
}

/// Starts counting a series as active (the caller checked the limits), in the counts of
/// its tenant's head (`active`, `active_by_metric`).
pub(crate) fn activate(
    buf: &mut SeriesBuf,
    metric: &str,
    now_ms: i64,
    active: &mut usize,
    active_by_metric: &mut HashMap<String, usize>,
) {
    buf.last_seen_ms = now_ms;
    if !buf.counted {
        buf.counted = true;
        *active += 1;
        match active_by_metric.get_mut(metric) {
            Some(n) => *n += 1,
            None => {
                active_by_metric.insert(metric.to_owned(), 1);
            }
        }
    }
}

impl TenantHead {
    /// Bumps [`TenantHead::wal_epoch`] (at a flush cut), skipping 0, which means "never".
    pub(crate) fn next_wal_epoch(&mut self) {
        self.wal_epoch = self.wal_epoch.wrapping_add(1).max(1);
    }

    /// Stops counting series idle for longer than `window_ms`. Runs a full pass at most once
    /// per eighth of the window, so between passes a series may stay counted up to 1/8
    /// window longer than it was active: the limits err on the strict side, never the lax.
    pub(crate) fn sweep(&mut self, now_ms: i64, window_ms: i64) {
        if now_ms.saturating_sub(self.last_sweep_ms) < window_ms / 8 {
            return;
        }
        self.last_sweep_ms = now_ms;
        let cutoff = now_ms.saturating_sub(window_ms);
        for (_, s) in self.index.iter_mut() {
            if s.buf.counted && s.buf.last_seen_ms < cutoff {
                s.buf.counted = false;
                self.active -= 1;
                if let Some(n) = self.active_by_metric.get_mut(s.key.metric_name()) {
                    *n -= 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
