//! Range aggregations (`count_over_time`, `rate`, `*_over_time` with `unwrap` ...): the
//! samples a pipeline yields, per series, turned into one value per step over the window
//! `(t - range - offset, t - offset]` (lower bound exclusive, upper inclusive, as Loki's
//! range vectors).

use std::collections::HashMap;

use super::super::ast::{RangeAgg, RangeOp};
use super::super::streams::Labels;
use super::{Grid, Series};

/// The samples of one series: every one (in arrival order until [`Accumulator::finish`]
/// sorts them), or for an additive function their count and sum per bucket.
#[derive(Debug, Default)]
struct Samples {
    points: Vec<(i64, f64)>,
    counts: Vec<u32>,
    sums: Vec<f64>,
}

/// Buckets of an additive range aggregation: bucket `j` holds the samples in
/// `(origin + (j - 1)·width, origin + j·width]`; every window of the grid is a run of whole
/// buckets, since `width` divides both the step and the range and `origin` is the first
/// window's start.
#[derive(Debug, Clone, Copy)]
struct Buckets {
    origin: i64,
    width: i64,
    count: usize,
}

/// At most this many buckets per series; beyond it samples are kept one by one.
const MAX_BUCKETS: i64 = 1 << 20;

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a.abs() } else { gcd(b, a % b) }
}

/// Collects samples per series for one range aggregation.
#[derive(Debug)]
pub(crate) struct Accumulator {
    op: RangeOp,
    param: Option<f64>,
    range_ns: i64,
    offset_ns: i64,
    series: Vec<(Labels, Samples)>,
    index: HashMap<Labels, usize>,
    buckets: Option<Buckets>,
    /// Estimated bytes held: each series' labels (twice: the list and the index) and
    /// buckets, and the samples kept one by one.
    bytes: usize,
}

impl Accumulator {
    /// An accumulator for `agg` over `grid`: bucketed when `agg` is additive (counts,
    /// rates, bytes, sums) and the buckets stay few.
    pub(crate) fn new(agg: &RangeAgg, grid: &Grid) -> Self {
        let range_ns = agg.range_ms.saturating_mul(1_000_000);
        let offset_ns = agg.offset_ms.saturating_mul(1_000_000);
        let additive = matches!(
            agg.op,
            RangeOp::CountOverTime
                | RangeOp::Rate
                | RangeOp::BytesOverTime
                | RangeOp::BytesRate
                | RangeOp::SumOverTime
        );
        let width = gcd(
            range_ns,
            if grid.steps > 1 {
                grid.step_ns
            } else {
                range_ns
            },
        );
        let span = (grid.end_ns() - grid.start_ns).saturating_add(range_ns);
        let buckets =
            (additive && width > 0 && range_ns > 0 && span / width < MAX_BUCKETS).then(|| {
                Buckets {
                    origin: grid.start_ns - offset_ns - range_ns,
                    width,
                    count: usize::try_from(span / width + 1).unwrap_or(0),
                }
            });
        Self {
            op: agg.op,
            param: agg.param,
            range_ns,
            offset_ns,
            series: Vec::new(),
            index: HashMap::new(),
            buckets,
            bytes: 0,
        }
    }

    /// Estimated bytes the accumulator holds, for the query's memory budget.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    fn new_series(&mut self, labels: Labels) -> usize {
        let text: usize = labels.iter().map(|(k, v)| k.len() + v.len() + 48).sum();
        let buckets = self.buckets.map_or(0, |b| b.count * 12);
        self.bytes += 2 * text + buckets + 96;
        self.series
            .push((labels.clone(), Samples::new(self.buckets)));
        self.index.insert(labels, self.series.len() - 1);
        self.series.len() - 1
    }

    /// The time range `[from, to)` whose entries the grid's windows need.
    pub(crate) fn scan_range(&self, grid: &Grid) -> (i64, i64) {
        let first = grid.start_ns - self.offset_ns - self.range_ns;
        let last = grid.end_ns() - self.offset_ns;
        // Lower bound exclusive, upper inclusive: [first + 1, last + 1).
        (first.saturating_add(1), last.saturating_add(1))
    }

    /// Whether counts per whole second can be added ([`Accumulator::add_many_at`]): the
    /// samples are bucketed, and every bucket is a run of whole seconds.
    pub(crate) fn takes_seconds(&self) -> bool {
        const S: i64 = 1_000_000_000;
        self.buckets
            .is_some_and(|b| b.origin.rem_euclid(S) == 0 && b.width % S == 0)
    }

    /// The index of the series `labels`, added (empty) if new.
    pub(crate) fn series_for(&mut self, labels: Labels) -> usize {
        match self.index.get(&labels) {
            Some(&at) => at,
            None => self.new_series(labels),
        }
    }

    /// Adds `n` samples whose values sum to `sum`, all in the bucket of `ts_ns`, to the
    /// series at `at` (bucketed accumulators only: see [`Accumulator::takes_seconds`]).
    pub(crate) fn add_many_at(&mut self, at: usize, ts_ns: i64, n: u64, sum: f64) {
        let Some(b) = self.buckets else { return };
        if let Some((_, s)) = self.series.get_mut(at) {
            let j = (ts_ns - b.origin + b.width - 1).div_euclid(b.width);
            if let Some(i) = usize::try_from(j).ok().filter(|i| *i < b.count) {
                let n = u32::try_from(n).unwrap_or(u32::MAX);
                s.counts[i] = s.counts[i].saturating_add(n);
                s.sums[i] += sum;
            }
        }
    }

    /// How many series hold samples so far.
    pub(crate) fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Adds one sample of the series `labels`; returns the series' index for
    /// [`Accumulator::add_at`].
    pub(crate) fn add(&mut self, labels: Labels, ts_ns: i64, value: f64) -> usize {
        let at = match self.index.get(&labels) {
            Some(&at) => at,
            None => self.new_series(labels),
        };
        self.add_at(at, ts_ns, value);
        at
    }

    /// Adds one sample of the series at `at` (from [`Accumulator::add`]).
    pub(crate) fn add_at(&mut self, at: usize, ts_ns: i64, value: f64) {
        let buckets = self.buckets;
        if let Some((_, s)) = self.series.get_mut(at) {
            s.push(buckets, ts_ns, value);
            if buckets.is_none() {
                self.bytes += 16;
            }
        }
    }

    /// Adds a sample to the series `labels` if it is known; `false` if not (so the caller
    /// builds the key once, for [`Accumulator::add`]).
    pub(crate) fn add_existing(&mut self, labels: &Labels, ts_ns: i64, value: f64) -> bool {
        match self.index.get(labels) {
            Some(&at) => {
                self.add_at(at, ts_ns, value);
                true
            }
            None => false,
        }
    }

    /// One value per step and series; steps whose window holds no sample stay empty.
    pub(crate) fn finish(mut self, grid: &Grid) -> Vec<Series> {
        let range_s = self.range_ns as f64 / 1e9;
        let series = std::mem::take(&mut self.series);
        let mut out = Vec::with_capacity(series.len());
        if let Some(b) = self.buckets {
            for (labels, samples) in series {
                let values = self.bucketed_values(b, &samples, grid, range_s);
                if values.iter().any(Option::is_some) {
                    out.push(Series { labels, values });
                }
            }
            return out;
        }
        for (labels, mut samples) in series {
            samples.points.sort_by_key(|p| p.0);
            let pts = &samples.points;
            let mut values = Vec::with_capacity(grid.steps);
            let (mut lo, mut hi) = (0usize, 0usize);
            for k in 0..grid.steps {
                let end = grid.at(k) - self.offset_ns;
                let start = end - self.range_ns;
                while hi < pts.len() && pts[hi].0 <= end {
                    hi += 1;
                }
                while lo < hi && pts[lo].0 <= start {
                    lo += 1;
                }
                let window = &pts[lo..hi];
                values.push(if window.is_empty() {
                    None
                } else {
                    Some(self.value(window, range_s, end))
                });
            }
            if values.iter().any(Option::is_some) {
                out.push(Series { labels, values });
            }
        }
        out
    }

    /// The values of a bucketed series: each window's count and sum from prefix sums.
    fn bucketed_values(
        &self,
        b: Buckets,
        s: &Samples,
        grid: &Grid,
        range_s: f64,
    ) -> Vec<Option<f64>> {
        let mut counts = Vec::with_capacity(s.counts.len() + 1);
        let mut sums = Vec::with_capacity(s.sums.len() + 1);
        let (mut c, mut v) = (0u64, 0.0f64);
        counts.push(0);
        sums.push(0.0);
        for (n, x) in s.counts.iter().zip(&s.sums) {
            c += u64::from(*n);
            v += x;
            counts.push(c);
            sums.push(v);
        }
        let per_window = usize::try_from(self.range_ns / b.width).unwrap_or(0);
        (0..grid.steps)
            .map(|k| {
                let end = grid.at(k) - self.offset_ns;
                // Buckets (end - range, end] are indices last - per_window + 1 ..= last.
                let last = usize::try_from((end - b.origin) / b.width)
                    .unwrap_or(0)
                    .min(b.count - 1);
                let first = last.saturating_sub(per_window);
                let n = counts[last + 1] - counts[first + 1];
                if n == 0 {
                    return None;
                }
                let sum = sums[last + 1] - sums[first + 1];
                Some(match self.op {
                    RangeOp::CountOverTime => n as f64,
                    RangeOp::Rate | RangeOp::BytesRate => sum / range_s,
                    _ => sum,
                })
            })
            .collect()
    }

    fn value(&self, w: &[(i64, f64)], range_s: f64, end_ns: i64) -> f64 {
        let n = w.len() as f64;
        let sum = || w.iter().map(|p| p.1).sum::<f64>();
        match self.op {
            RangeOp::CountOverTime => n,
            RangeOp::Rate => sum() / range_s,
            RangeOp::RateCounter => extrapolated_rate(w, self.range_ns, end_ns),
            RangeOp::BytesOverTime | RangeOp::SumOverTime => sum(),
            RangeOp::BytesRate => sum() / range_s,
            RangeOp::AvgOverTime => sum() / n,
            RangeOp::MinOverTime => w.iter().map(|p| p.1).fold(f64::NAN, nan_min),
            RangeOp::MaxOverTime => w.iter().map(|p| p.1).fold(f64::NAN, nan_max),
            RangeOp::StdvarOverTime => stdvar(w),
            RangeOp::StddevOverTime => stdvar(w).sqrt(),
            RangeOp::QuantileOverTime => quantile(self.param.unwrap_or(0.5), w),
            RangeOp::FirstOverTime => w[0].1,
            RangeOp::LastOverTime => w[w.len() - 1].1,
            // Handled by the caller over all series (see [`absent`]).
            RangeOp::AbsentOverTime => 1.0,
        }
    }
}

impl Samples {
    fn new(buckets: Option<Buckets>) -> Self {
        match buckets {
            Some(b) => Self {
                points: Vec::new(),
                counts: vec![0; b.count],
                sums: vec![0.0; b.count],
            },
            None => Self::default(),
        }
    }

    fn push(&mut self, buckets: Option<Buckets>, ts_ns: i64, value: f64) {
        match buckets {
            Some(b) => {
                // Bucket j holds (origin + (j-1)·width, origin + j·width]: the ceiling.
                let j = (ts_ns - b.origin + b.width - 1).div_euclid(b.width);
                if let Some(i) = usize::try_from(j).ok().filter(|i| *i < b.count) {
                    self.counts[i] += 1;
                    self.sums[i] += value;
                }
            }
            None => self.points.push((ts_ns, value)),
        }
    }
}

/// `min` that takes a number over NaN, as Prometheus's and Loki's `min_over_time`.
fn nan_min(acc: f64, v: f64) -> f64 {
    if acc.is_nan() || v < acc { v } else { acc }
}

fn nan_max(acc: f64, v: f64) -> f64 {
    if acc.is_nan() || v > acc { v } else { acc }
}

/// Population variance (Welford), as Loki's `stdvar_over_time`.
fn stdvar(w: &[(i64, f64)]) -> f64 {
    let (mut count, mut mean, mut m2) = (0.0, 0.0, 0.0);
    for &(_, v) in w {
        count += 1.0;
        let delta = v - mean;
        mean += delta / count;
        m2 += delta * (v - mean);
    }
    m2 / count
}

/// The φ-quantile of the window's values (linear interpolation, as Prometheus's).
fn quantile(q: f64, w: &[(i64, f64)]) -> f64 {
    if q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    let mut v: Vec<f64> = w.iter().map(|p| p.1).collect();
    v.sort_by(f64::total_cmp);
    let rank = q * (v.len() - 1) as f64;
    let lower = rank.floor().max(0.0) as usize;
    let upper = (lower + 1).min(v.len() - 1);
    let weight = rank - rank.floor();
    v[lower] * (1.0 - weight) + v[upper] * weight
}

/// `rate_counter`: Prometheus's extrapolated counter rate over the window
/// `(end - range, end]`, with the window's own bounds (as Loki computes it).
fn extrapolated_rate(w: &[(i64, f64)], range_ns: i64, end_ns: i64) -> f64 {
    if w.len() < 2 {
        return 0.0;
    }
    let start_ns = end_ns - range_ns;
    let (first, last) = (w[0], w[w.len() - 1]);
    let mut result = last.1 - first.1;
    let mut prev = 0.0;
    for &(_, v) in w {
        if v < prev {
            result += prev;
        }
        prev = v;
    }
    let mut to_start = (first.0 - start_ns) as f64 / 1e9;
    let mut to_end = (end_ns - last.0) as f64 / 1e9;
    let sampled = (last.0 - first.0) as f64 / 1e9;
    let average = sampled / (w.len() - 1) as f64;
    let threshold = average * 1.1;
    if to_start >= threshold {
        to_start = average / 2.0;
    }
    let mut to_zero = to_start;
    if result > 0.0 && first.1 >= 0.0 {
        to_zero = sampled * (first.1 / result);
    }
    if to_zero < to_start {
        to_start = to_zero;
    }
    if to_end >= threshold {
        to_end = average / 2.0;
    }
    let extrapolated = sampled + to_start + to_end;
    result * (extrapolated / sampled) / (range_ns as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logql::ast::{LogExpr, Matcher};

    fn agg(op: RangeOp, range_ms: i64, offset_ms: i64) -> RangeAgg {
        RangeAgg {
            op,
            log: LogExpr {
                selector: vec![Matcher {
                    name: "a".into(),
                    op: crate::logql::ast::MatchOp::Eq,
                    value: "b".into(),
                }],
                pipeline: Vec::new(),
            },
            range_ms,
            offset_ms,
            unwrap: None,
            param: None,
            grouping: None,
        }
    }

    /// Buckets give exactly what keeping every sample gives, on windows whose ends fall on
    /// samples, between them and outside them.
    #[test]
    fn buckets_equal_samples_for_additive_functions() {
        let mut x = 0x9e37_79b9_u64;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let ms = 1_000_000;
        let samples: Vec<(i64, f64)> = (0..2_000)
            .map(|_| ((next(600_000) as i64) * ms, next(100) as f64))
            .collect();
        for (range, step, offset) in [
            (60_000, 15_000, 0),
            (10_000, 10_000, 5_000),
            (300_000, 7_000, 0),
            (1_000, 60_000, 0),
        ] {
            let grid = Grid::range(120_000 * ms, 600_000 * ms, step * ms);
            for op in [
                RangeOp::CountOverTime,
                RangeOp::Rate,
                RangeOp::SumOverTime,
                RangeOp::BytesRate,
            ] {
                let a = agg(op, range, offset);
                let mut bucketed = Accumulator::new(&a, &grid);
                assert!(bucketed.buckets.is_some(), "{op:?}");
                let mut raw = Accumulator::new(&a, &grid);
                raw.buckets = None;
                for &(t, v) in &samples {
                    bucketed.add(Vec::new(), t, v);
                    raw.add(Vec::new(), t, v);
                }
                let (b, r) = (bucketed.finish(&grid), raw.finish(&grid));
                assert_eq!(b.len(), r.len());
                for (b, r) in b[0].values.iter().zip(&r[0].values) {
                    match (b, r) {
                        (Some(b), Some(r)) => {
                            assert!((b - r).abs() < 1e-9, "{op:?} {range} {step}: {b} {r}")
                        }
                        _ => assert_eq!(b, r, "{op:?} {range} {step}"),
                    }
                }
            }
        }
    }

    #[test]
    fn window_statistics() {
        let w: Vec<(i64, f64)> = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]
            .iter()
            .enumerate()
            .map(|(i, v)| (i as i64, *v))
            .collect();
        assert_eq!(stdvar(&w), 4.0);
        assert_eq!(quantile(0.5, &w), 4.5);
        assert_eq!(quantile(1.0, &w), 9.0);
        assert_eq!(quantile(2.0, &w), f64::INFINITY);
        assert_eq!(nan_min(f64::NAN, 3.0), 3.0);
    }
}
