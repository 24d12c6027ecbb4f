//! The in-memory head of one tenant: its series and their recent samples, sorted by time.

use std::collections::HashMap;
use std::sync::Arc;

use crate::series::{SeriesId, SeriesIndex};
use crate::{Labels, Sample};

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

/// One series' samples, sorted by timestamp, one per timestamp.
#[derive(Debug, Default)]
pub(crate) struct SeriesBuf {
    pub(crate) samples: Vec<Sample>,
}

impl SeriesBuf {
    /// Where `s` would go. Values compare by bits, so NaN equals the same NaN and
    /// Prometheus's staleness marker is distinct from other NaNs.
    pub(crate) fn place(&self, s: Sample, window_ms: i64) -> Placement {
        let Some(last) = self.samples.last() else {
            return Placement::Append;
        };
        if s.ts > last.ts {
            return Placement::Append;
        }
        // An exact re-send is harmless however old; only new data is held to the window.
        match self.samples.binary_search_by_key(&s.ts, |x| x.ts) {
            Ok(i) if self.samples[i].value.to_bits() == s.value.to_bits() => Placement::Duplicate,
            Ok(_) => Placement::Conflict,
            Err(_) if s.ts < last.ts.saturating_sub(window_ms) => Placement::TooOld,
            Err(i) => Placement::Insert(i),
        }
    }

    pub(crate) fn apply(&mut self, s: Sample, p: Placement) {
        match p {
            Placement::Append => self.samples.push(s),
            Placement::Insert(i) => self.samples.insert(i, s),
            Placement::Duplicate | Placement::TooOld | Placement::Conflict => {}
        }
    }

    /// Inserts without a window (replay): what was logged was accepted once.
    pub(crate) fn restore(&mut self, s: Sample) {
        let p = match self.samples.binary_search_by_key(&s.ts, |x| x.ts) {
            Ok(_) => Placement::Duplicate,
            Err(i) if i == self.samples.len() => Placement::Append,
            Err(i) => Placement::Insert(i),
        };
        self.apply(s, p);
    }
}

/// A tenant's head: series index plus sample buffers.
#[derive(Debug, Default)]
pub(crate) struct TenantHead {
    pub(crate) index: SeriesIndex,
    pub(crate) data: HashMap<SeriesId, SeriesBuf>,
}

impl TenantHead {
    /// Every series with its labels and samples, in no particular order.
    pub(crate) fn series(&self) -> impl Iterator<Item = (&Arc<Labels>, &SeriesBuf)> {
        self.data
            .iter()
            .filter_map(|(id, buf)| Some((self.index.get(*id)?, buf)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ts: i64, value: f64) -> Sample {
        Sample { ts, value }
    }

    fn buf(samples: &[(i64, f64)]) -> SeriesBuf {
        SeriesBuf {
            samples: samples.iter().map(|&(t, v)| s(t, v)).collect(),
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
