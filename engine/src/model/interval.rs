//! One series' samples in one interval of a downsampled tier, summarised
//! (`docs/retention.md`, "Downsampled tiers").
//!
//! An interval of resolution `r` is `(k·r, (k+1)·r]`, left-open as PromQL's range windows
//! are: a window `(t - w, t]` with `t` and `w` multiples of `r` is exactly the union of
//! whole intervals, so the aggregates below answer `*_over_time`, `rate` and `increase`
//! over it as raw samples would.

/// A series' samples in one interval of a tier, summarised.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// The interval's end (ms, exclusive of its start, inclusive of its end).
    pub end: i64,
    /// The interval's length (ms): its tier's resolution.
    pub resolution: i64,
    /// Time and value of its first sample.
    pub first_ts: i64,
    /// Value of its first sample.
    pub first: f64,
    /// Time of its last sample.
    pub last_ts: i64,
    /// Value of its last sample.
    pub last: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Sum of the values.
    pub sum: f64,
    /// Number of samples.
    pub count: u64,
    /// What counter resets inside the interval add to `last - first`: the sum of the
    /// values before each drop, as PromQL's `rate` and `increase` add them (0 without a
    /// reset). The increase over the interval as a counter is `last - first + correction`.
    pub correction: f64,
}

/// Prometheus's staleness marker: a NaN never summarised into an interval.
pub(crate) const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

/// The end of the interval of resolution `res` holding time `ts`: `ts` rounded up to a
/// multiple of `res`.
pub(crate) fn interval_end(ts: i64, res: i64) -> i64 {
    let q = ts.div_euclid(res);
    if ts.rem_euclid(res) == 0 {
        ts
    } else {
        (q + 1) * res
    }
}

/// What a counter reset between `prev` and `next` adds: `prev` when `next` dropped below it.
pub(crate) fn reset_correction(prev: f64, next: f64) -> f64 {
    if next < prev { prev } else { 0.0 }
}

impl Interval {
    /// The interval of one sample.
    pub(crate) fn of_sample(ts: i64, value: f64, res: i64) -> Self {
        Self {
            end: interval_end(ts, res),
            resolution: res,
            first_ts: ts,
            first: value,
            last_ts: ts,
            last: value,
            min: value,
            max: value,
            sum: value,
            count: 1,
            correction: 0.0,
        }
    }

    /// Adds a sample after every sample already in the interval.
    pub(crate) fn push(&mut self, ts: i64, value: f64) {
        self.correction += reset_correction(self.last, value);
        self.last_ts = ts;
        self.last = value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        self.sum += value;
        self.count += 1;
    }

    /// Joins `next`, whose samples all come after this one's, into this interval (made
    /// `end`/`resolution` wide by the caller).
    pub(crate) fn join(&mut self, next: &Interval) {
        self.correction += reset_correction(self.last, next.first) + next.correction;
        self.last_ts = next.last_ts;
        self.last = next.last;
        self.min = self.min.min(next.min);
        self.max = self.max.max(next.max);
        self.sum += next.sum;
        self.count += next.count;
    }
}

/// Summarises `samples` (one series, time order, stale markers left out by the caller)
/// into intervals of resolution `res`, appended to `out`.
pub(crate) fn summarise(
    samples: impl IntoIterator<Item = (i64, f64)>,
    res: i64,
    out: &mut Vec<Interval>,
) {
    let mut cur: Option<Interval> = None;
    for (ts, v) in samples {
        match cur.as_mut() {
            Some(c) if interval_end(ts, res) == c.end => c.push(ts, v),
            _ => {
                out.extend(cur.take());
                cur = Some(Interval::of_sample(ts, v, res));
            }
        }
    }
    out.extend(cur);
}

/// Joins runs of `rows` (one series, time order) into intervals of the coarser resolution
/// `res` (a multiple of theirs), appended to `out`.
pub(crate) fn coarsen(rows: impl IntoIterator<Item = Interval>, res: i64, out: &mut Vec<Interval>) {
    let mut cur: Option<Interval> = None;
    for r in rows {
        let end = interval_end(r.end, res);
        match cur.as_mut() {
            Some(c) if c.end == end => c.join(&r),
            _ => {
                out.extend(cur.take());
                cur = Some(Interval {
                    end,
                    resolution: res,
                    ..r
                });
            }
        }
    }
    out.extend(cur);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_left_open() {
        assert_eq!(interval_end(0, 300_000), 0);
        assert_eq!(interval_end(1, 300_000), 300_000);
        assert_eq!(interval_end(300_000, 300_000), 300_000);
        assert_eq!(interval_end(-1, 300_000), 0);
        assert_eq!(interval_end(-300_001, 300_000), -300_000);
    }

    #[test]
    fn a_reset_inside_an_interval_is_counted_as_promql_counts_it() {
        // 10, 20, 30, reset to 5, 8: the reset adds 30; increase = 8 - 10 + 30 = 28.
        let pts = [(1, 10.0), (2, 20.0), (3, 30.0), (4, 5.0), (5, 8.0)];
        let mut out = Vec::new();
        summarise(pts, 10, &mut out);
        assert_eq!(out.len(), 1);
        let i = out[0];
        assert_eq!(
            (i.first, i.last, i.min, i.max, i.sum, i.count),
            (10.0, 8.0, 5.0, 30.0, 73.0, 5)
        );
        assert_eq!(i.correction, 30.0);
        assert_eq!(i.last - i.first + i.correction, 28.0);
        assert_eq!((i.first_ts, i.last_ts, i.end), (1, 5, 10));
    }

    #[test]
    fn coarsening_equals_summarising_the_samples_at_the_coarser_resolution() {
        let pts: Vec<(i64, f64)> = (1..=240)
            .map(|i| {
                (
                    i * 15,
                    if i % 37 == 0 {
                        1.0
                    } else {
                        (i * i % 101) as f64
                    },
                )
            })
            .collect();
        let (mut fine, mut direct, mut coarse) = (Vec::new(), Vec::new(), Vec::new());
        summarise(pts.iter().copied(), 300, &mut fine);
        summarise(pts.iter().copied(), 3_600, &mut direct);
        coarsen(fine, 3_600, &mut coarse);
        assert_eq!(coarse.len(), direct.len());
        for (a, b) in coarse.iter().zip(&direct) {
            assert_eq!(
                (a.end, a.first_ts, a.last_ts, a.count),
                (b.end, b.first_ts, b.last_ts, b.count)
            );
            assert_eq!(
                (a.first, a.last, a.min, a.max),
                (b.first, b.last, b.min, b.max)
            );
            assert!((a.sum - b.sum).abs() < 1e-9 && a.correction == b.correction);
        }
    }
}
