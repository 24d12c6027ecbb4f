//! `histogram_quantile`, `histogram_fraction`, `histogram_stddev` and `histogram_stdvar` on
//! one native histogram, with Prometheus's interpolation rules: within an exponential bucket
//! observations are assumed spread evenly on a logarithmic scale; within a custom bucket or
//! the zero bucket, evenly on a linear scale.

use super::{Bucket, FloatHistogram};
use crate::promql::stats::kahan_inc;

/// An informational note the caller turns into a PromQL annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Note {
    /// The quantile landed among NaN observations, so the result is NaN
    /// (`NativeHistogramQuantileNaNResultInfo`).
    QuantileNanResult,
    /// NaN observations may have skewed the quantile (`NativeHistogramQuantileNaNSkewInfo`).
    QuantileNanSkew,
    /// NaN observations were left out of the fraction (`NativeHistogramFractionNaNsInfo`).
    FractionNans,
}

/// The `q` quantile of `h` (Prometheus's `HistogramQuantile`): `-Inf` for `q < 0`, `+Inf` for
/// `q > 1`, NaN for an empty histogram or a NaN `q`. When the sum is NaN (some observation
/// was NaN, and NaN observations sort above every bucket) the buckets are walked upwards;
/// otherwise from the nearer end.
pub fn histogram_quantile(q: f64, h: &FloatHistogram) -> (f64, Option<Note>) {
    if q < 0.0 {
        return (f64::NEG_INFINITY, None);
    }
    if q > 1.0 {
        return (f64::INFINITY, None);
    }
    if h.count == 0.0 || q.is_nan() {
        return (f64::NAN, None);
    }
    let upwards = h.sum.is_nan() || q < 0.5;
    let buckets = if upwards {
        h.all_buckets()
    } else {
        h.all_buckets_rev()
    };
    let mut rank = if upwards {
        q * h.count
    } else {
        (1.0 - q) * h.count
    };
    let mut count = 0.0;
    let mut at = buckets.len();
    for (i, b) in buckets.iter().enumerate() {
        at = i;
        if b.count == 0.0 {
            continue;
        }
        count += b.count;
        if count >= rank {
            break;
        }
    }
    // With no bucket at all, Prometheus works on an empty bucket at 0.
    let empty = Bucket {
        lower: 0.0,
        upper: 0.0,
        lower_inclusive: false,
        upper_inclusive: false,
        count: 0.0,
        index: 0,
    };
    let mut b = buckets.get(at).copied().unwrap_or(empty);
    if h.uses_custom_buckets() {
        if b.lower == f64::NEG_INFINITY {
            if b.upper <= 0.0 {
                return (b.upper, None);
            }
            b.lower = 0.0;
        } else if b.upper == f64::INFINITY {
            return (b.lower, None);
        }
    } else if b.lower < 0.0 && b.upper > 0.0 {
        if h.negative.is_empty() && !h.positive.is_empty() {
            b.lower = 0.0;
        } else if h.positive.is_empty() && !h.negative.is_empty() {
            b.upper = 0.0;
        }
    }
    count = count.min(h.count);
    if count < rank {
        if h.sum.is_nan() {
            return (f64::NAN, Some(Note::QuantileNanResult));
        }
        return (b.upper, None);
    }
    if upwards {
        rank -= count - b.count;
    } else {
        rank = count - rank;
    }
    let mut note = None;
    if h.sum.is_nan() {
        let rest: f64 = buckets.iter().skip(at + 1).map(|b| b.count).sum();
        if count + rest < h.count {
            note = Some(Note::QuantileNanSkew);
        }
    }
    let fraction = rank / b.count;
    if h.uses_custom_buckets() || (b.lower <= 0.0 && b.upper >= 0.0) {
        return (b.lower + (b.upper - b.lower) * fraction, note);
    }
    let log_lower = b.lower.abs().log2();
    let log_upper = b.upper.abs().log2();
    let v = if b.lower > 0.0 {
        (log_lower + (log_upper - log_lower) * fraction).exp2()
    } else {
        -(log_upper + (log_lower - log_upper) * (1.0 - fraction)).exp2()
    };
    (v, note)
}

/// The estimated fraction of observations of `h` between `lower` and `upper` (Prometheus's
/// `HistogramFraction`): NaN for an empty histogram or a NaN bound, 0 when `lower >= upper`.
/// A bound inside a bucket is interpolated (linearly in custom buckets and the zero bucket;
/// a `-Inf`-bounded custom bucket counts whole).
pub fn histogram_fraction(lower: f64, upper: f64, h: &FloatHistogram) -> (f64, Option<Note>) {
    if h.count == 0.0 || lower.is_nan() || upper.is_nan() {
        return (f64::NAN, None);
    }
    if lower >= upper {
        return (0.0, None);
    }
    let buckets = h.all_buckets();
    let (mut rank, mut count) = (0.0, 0.0);
    let (mut lower_rank, mut upper_rank) = (None::<f64>, None::<f64>);
    let mut seen = 0;
    for b in &buckets {
        seen += 1;
        count += b.count;
        let mut b: Bucket = *b;
        let zero_bucket = b.lower <= 0.0 && b.upper >= 0.0;
        if zero_bucket {
            if h.negative.is_empty() && !h.positive.is_empty() {
                b.lower = 0.0;
            } else if h.positive.is_empty() && !h.negative.is_empty() {
                b.upper = 0.0;
            }
        }
        let linear = h.uses_custom_buckets() || zero_bucket;
        let interpolate = |v: f64| {
            if linear && b.lower == f64::NEG_INFINITY {
                b.count
            } else {
                rank + b.count * b.fraction_below(v, linear)
            }
        };
        if lower_rank.is_none() && b.lower >= lower {
            lower_rank = Some(rank);
        }
        if upper_rank.is_none() && b.lower >= upper {
            upper_rank = Some(rank);
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        if lower_rank.is_none() && b.lower < lower && b.upper > lower {
            lower_rank = Some(interpolate(lower));
        }
        if upper_rank.is_none() && b.lower < upper && b.upper > upper {
            upper_rank = Some(interpolate(upper));
        }
        if lower_rank.is_some() && upper_rank.is_some() {
            break;
        }
        rank += b.count;
    }
    let mut note = None;
    if h.sum.is_nan() {
        count += buckets.iter().skip(seen).map(|b| b.count).sum::<f64>();
        if count < h.count {
            note = Some(Note::FractionNans);
        }
    } else {
        count = h.count;
    }
    let lower_rank = lower_rank.map_or(count, |r| r.min(count));
    let upper_rank = upper_rank.map_or(count, |r| r.min(count));
    ((upper_rank - lower_rank) / h.count, note)
}

/// The estimated variance of the observations of `h` (`histogram_stdvar`): each bucket's
/// observations are taken at its midpoint (geometric for exponential buckets, arithmetic for
/// custom ones, 0 for the zero bucket) around the mean `sum / count`.
pub fn histogram_stdvar(h: &FloatHistogram) -> f64 {
    let mean = h.sum / h.count;
    let (mut variance, mut c) = (0.0, 0.0);
    for b in h.all_buckets() {
        if b.count == 0.0 {
            continue;
        }
        let val = if h.uses_custom_buckets() {
            (b.upper + b.lower) / 2.0
        } else if b.lower <= 0.0 && b.upper >= 0.0 {
            0.0
        } else {
            let v = (b.upper * b.lower).sqrt();
            if b.upper < 0.0 { -v } else { v }
        };
        let delta = val - mean;
        (variance, c) = kahan_inc(b.count * delta * delta, variance, c);
    }
    (variance + c) / h.count
}

/// The estimated standard deviation of the observations of `h` (`histogram_stddev`): the
/// square root of [`histogram_stdvar`].
pub fn histogram_stddev(h: &FloatHistogram) -> f64 {
    histogram_stdvar(h).sqrt()
}
