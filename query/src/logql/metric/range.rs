//! Range aggregations (`count_over_time`, `rate`, `*_over_time` with `unwrap` ...): the
//! samples a pipeline yields, per series, turned into one value per step over the window
//! `(t - range - offset, t - offset]` (lower bound exclusive, upper inclusive, as Loki's
//! range vectors).

use std::collections::HashMap;

use super::super::ast::{RangeAgg, RangeOp};
use super::super::streams::Labels;
use super::{Grid, Series};

/// The samples of one series, in arrival order until [`Accumulator::finish`] sorts them.
#[derive(Debug, Default)]
struct Samples {
    points: Vec<(i64, f64)>,
}

/// Collects samples per series for one range aggregation.
#[derive(Debug)]
pub(crate) struct Accumulator {
    op: RangeOp,
    param: Option<f64>,
    range_ns: i64,
    offset_ns: i64,
    series: HashMap<Labels, Samples>,
}

impl Accumulator {
    pub(crate) fn new(agg: &RangeAgg) -> Self {
        Self {
            op: agg.op,
            param: agg.param,
            range_ns: agg.range_ms.saturating_mul(1_000_000),
            offset_ns: agg.offset_ms.saturating_mul(1_000_000),
            series: HashMap::new(),
        }
    }

    /// The time range `[from, to)` whose entries the grid's windows need.
    pub(crate) fn scan_range(&self, grid: &Grid) -> (i64, i64) {
        let first = grid.start_ns - self.offset_ns - self.range_ns;
        let last = grid.end_ns() - self.offset_ns;
        // Lower bound exclusive, upper inclusive: [first + 1, last + 1).
        (first.saturating_add(1), last.saturating_add(1))
    }

    /// How many series hold samples so far.
    pub(crate) fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Adds one sample of the series `labels`.
    pub(crate) fn add(&mut self, labels: Labels, ts_ns: i64, value: f64) {
        self.series
            .entry(labels)
            .or_default()
            .points
            .push((ts_ns, value));
    }

    /// Whether the series `labels` is known (to skip building a new key).
    pub(crate) fn add_existing(&mut self, labels: &Labels, ts_ns: i64, value: f64) -> bool {
        match self.series.get_mut(labels) {
            Some(s) => {
                s.points.push((ts_ns, value));
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
