//! One series in the head: its canonical labels and its samples buffer (floats, and native
//! histograms beside them), and what inserting a sample into it does.

use std::sync::Arc;

use crate::Sample;
use crate::model::series_key::SeriesKey;

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
    /// Same timestamp, different value (or a sample of the other kind: float against
    /// histogram).
    Conflict,
}

/// A native histogram as the head holds it: its timestamp and its encoding
/// ([`crate::Histogram::encode`]).
pub(crate) type EncodedHist = (i64, Arc<[u8]>);

/// One series' native histograms, sorted by timestamp, one per timestamp.
#[derive(Debug, Default)]
pub(crate) struct HistBuf {
    pub(crate) v: Vec<EncodedHist>,
}

impl HistBuf {
    /// Bytes the buffer holds: its entries (spare capacity included) and the encodings.
    pub(crate) fn bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.v.capacity() * std::mem::size_of::<EncodedHist>()
            + self.v.iter().map(|(_, b)| b.len()).sum::<usize>()
    }
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
    /// Its shard's [`HeadShard::wal_epoch`] when this process last logged the series'
    /// labels; 0 (never) for a series loaded from partitions or the WAL at open, which may
    /// have lost its definition since (retention drops partitions, flushes skip records).
    pub(crate) logged_epoch: u32,
    /// How many samples the series held when it was last flushed: the capacity reserved at
    /// its first sample after the flush, so a steady series grows its `Vec` once per flush
    /// instead of doubling up from empty.
    pub(crate) flushed_len: u32,
    /// Native histograms, for a series that has had any (a float-only series pays the
    /// pointer). A flush cut takes them with the floats ([`SeriesBuf::take_hists`]).
    pub(crate) hists: Option<Box<HistBuf>>,
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
            Err(_) if self.hist_at(s.ts).is_some() => Placement::Conflict,
            Err(_) if s.ts < newest.saturating_sub(window_ms) => Placement::TooOld,
            Err(i) => Placement::Insert(i),
        }
    }

    /// The index of the histogram at `ts`, if the series has one.
    fn hist_at(&self, ts: i64) -> Option<usize> {
        let h = self.hists.as_deref()?;
        h.v.binary_search_by_key(&ts, |x| x.0).ok()
    }

    /// The twin of [`SeriesBuf::place`] for a native histogram (`bytes`: its encoding) at
    /// `ts`: equal encodings are duplicates; a float sample at `ts` is a conflict. The
    /// newest timestamp and the out-of-order window are shared with the floats.
    pub(crate) fn place_hist(&self, ts: i64, bytes: &[u8], window_ms: i64) -> Placement {
        let Some(newest) = self.newest_ts else {
            return Placement::Append;
        };
        if ts > newest {
            return Placement::Append;
        }
        let v = self.hists.as_deref().map_or(&[][..], |h| &h.v[..]);
        match v.binary_search_by_key(&ts, |x| x.0) {
            Ok(i) if *v[i].1 == *bytes => Placement::Duplicate,
            Ok(_) => Placement::Conflict,
            Err(_) if self.samples.binary_search_by_key(&ts, |x| x.ts).is_ok() => {
                Placement::Conflict
            }
            Err(_) if ts < newest.saturating_sub(window_ms) => Placement::TooOld,
            Err(i) => Placement::Insert(i),
        }
    }

    /// Stores a histogram where [`SeriesBuf::place_hist`] said.
    pub(crate) fn apply_hist(&mut self, h: EncodedHist, p: Placement) {
        let ts = h.0;
        let v = &mut self.hists.get_or_insert_with(Box::default).v;
        match p {
            // Append: newest of all samples, hence of the histograms.
            Placement::Append => v.push(h),
            Placement::Insert(i) => v.insert(i, h),
            Placement::Duplicate | Placement::TooOld | Placement::Conflict => return,
        }
        self.newest_ts = Some(self.newest_ts.map_or(ts, |n| n.max(ts)));
    }

    /// Inserts a histogram without a window (replay), as [`SeriesBuf::restore`]; whether
    /// it was new (not a copy of one held).
    pub(crate) fn restore_hist(&mut self, h: EncodedHist) -> bool {
        let v = self.hists.as_deref().map_or(&[][..], |b| &b.v[..]);
        let p = match v.binary_search_by_key(&h.0, |x| x.0) {
            Ok(_) => return false,
            Err(i) => Placement::Insert(i),
        };
        self.apply_hist(h, p);
        true
    }

    /// The histograms, sorted by timestamp (empty for a float-only series).
    pub(crate) fn hists(&self) -> &[EncodedHist] {
        self.hists.as_deref().map_or(&[], |h| &h.v)
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

    /// Takes the histograms out for a flush (the buffer keeps its box, empty).
    pub(crate) fn take_hists(&mut self) -> Vec<EncodedHist> {
        self.hists
            .as_deref_mut()
            .map_or_else(Vec::new, |h| std::mem::take(&mut h.v))
    }

    /// Inserts without a window (replay): what was logged was accepted once.
    pub(crate) fn restore(&mut self, s: Sample) {
        // Replay sees a series' samples mostly in time order: append without searching
        // (the search's cache misses were 60% of a 1 GiB replay, docs/benchmarks-history.md).
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
