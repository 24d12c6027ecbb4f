//! Range-vector functions over native histograms: `rate`, `increase`, `delta`, `irate`,
//! `idelta`, `resets`, `changes`, `sum_over_time` and `avg_over_time`, and the
//! annotation of the float-only functions on a range that also holds histograms.
//!
//! Derived from prometheus/promql/functions.go (`extrapolatedRate`, `histogramRate`,
//! `instantValue`, `funcResets`, `funcChanges`, `funcSumOverTime`, `funcAvgOverTime`).

use std::sync::Arc;

use super::Evaluator;
use crate::promql::annotations::{Annotation, HistogramOp};
use crate::promql::native::{FloatHistogram, ResetHint, kahan_sum};
use crate::promql::range::fns::Window;

/// A series' window: floats and histograms (each sorted by time), the metric name and the
/// position of the range argument, for annotations.
pub(crate) struct HistWindow<'a> {
    pub(crate) pts: &'a [(i64, f64)],
    pub(crate) hpts: &'a [(i64, Arc<FloatHistogram>)],
    pub(crate) metric: &'a str,
    pub(crate) pos: &'a str,
}

/// A function's result on a window with histograms: a float or a histogram.
pub(crate) type Out = Option<(f64, Option<Arc<FloatHistogram>>)>;

/// The functions that ignore histograms, noting it when the range mixes both kinds.
const FLOAT_ONLY: [&str; 12] = [
    "min_over_time",
    "max_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "quantile_over_time",
    "mad_over_time",
    "ts_of_min_over_time",
    "ts_of_max_over_time",
    "deriv",
    "predict_linear",
    "double_exponential_smoothing",
    "holt_winters",
];

/// `name` on window `hw` (whose `hpts` is not empty), or `None` when the float path
/// decides (functions that ignore histograms, after their annotation).
pub(crate) fn apply(
    ev: &mut Evaluator<'_>,
    name: &str,
    hw: &HistWindow<'_>,
    w: Window,
) -> Option<Out> {
    let mixed = || Annotation::MixedFloatsHistograms {
        metric: hw.metric.to_string(),
    };
    match name {
        "irate" | "idelta" => {
            // The last two samples decide: two floats go the float way.
            let (nf, nh) = (hw.pts.len(), hw.hpts.len());
            if nf + nh < 2 {
                return Some(None);
            }
            let last_f = |k: usize| nf.checked_sub(k).map(|i| hw.pts[i].0);
            let last_h = |k: usize| nh.checked_sub(k).map(|i| hw.hpts[i].0);
            let mut last: Vec<(i64, bool)> = [last_f(1), last_f(2)]
                .into_iter()
                .flatten()
                .map(|t| (t, false))
                .chain(
                    [last_h(1), last_h(2)]
                        .into_iter()
                        .flatten()
                        .map(|t| (t, true)),
                )
                .collect();
            last.sort();
            let tail = &last[last.len() - 2..];
            match (tail[0].1, tail[1].1) {
                (false, false) => None,
                (true, true) => {
                    let hw2 = HistWindow {
                        pts: &[],
                        hpts: &hw.hpts[nh - 2..],
                        metric: hw.metric,
                        pos: hw.pos,
                    };
                    Some(instant(ev, &hw2, name == "irate").map(|h| (0.0, Some(Arc::new(h)))))
                }
                _ => {
                    ev.annotate(mixed(), hw.pos);
                    Some(None)
                }
            }
        }
        "rate" | "increase" | "delta" | "sum_over_time" | "avg_over_time" if !hw.pts.is_empty() => {
            ev.annotate(mixed(), hw.pos);
            Some(None)
        }
        "rate" | "increase" | "delta" => {
            let h = extrapolated(ev, hw, w, name != "delta", name == "rate");
            Some(h.map(|h| (0.0, Some(Arc::new(h)))))
        }
        "resets" | "changes" => Some(Some((transitions(hw, name == "resets"), None))),
        "sum_over_time" | "avg_over_time" => {
            Some(sum_over_time(ev, hw, name == "avg_over_time").map(|h| (0.0, Some(Arc::new(h)))))
        }
        _ => {
            if FLOAT_ONLY.contains(&name) && !hw.pts.is_empty() {
                ev.annotate(
                    Annotation::HistogramIgnoredInMixedRange {
                        metric: hw.metric.to_string(),
                    },
                    hw.pos,
                );
            }
            None
        }
    }
}

/// `h += other` (or `-=`), with Prometheus's annotations; false when the schemas do not mix.
fn combine(
    ev: &mut Evaluator<'_>,
    hw: &HistWindow<'_>,
    h: &mut FloatHistogram,
    other: &FloatHistogram,
    op: HistogramOp,
) -> bool {
    let r = if op == HistogramOp::Sub {
        h.sub(other)
    } else {
        h.add(other)
    };
    match r {
        Ok(flags) => {
            if flags.custom_bounds_reconciled {
                ev.annotate(Annotation::MismatchedCustomBucketsHistograms(op), hw.pos);
            }
            true
        }
        Err(_) => {
            ev.annotate(
                Annotation::MixedExponentialCustomHistograms {
                    metric: hw.metric.to_string(),
                },
                hw.pos,
            );
            false
        }
    }
}

/// Prometheus's `histogramRate`: the last histogram minus the first, plus what counter
/// resets lost; a gauge result.
fn histogram_rate(
    ev: &mut Evaluator<'_>,
    hw: &HistWindow<'_>,
    is_counter: bool,
) -> Option<FloatHistogram> {
    let points = hw.hpts;
    // The first histogram, or an empty one in its place when the second one resets.
    let zeroed;
    let mut prev: &FloatHistogram = &points[0].1;
    let last = &points[points.len() - 1].1;
    let metric = || hw.metric.to_string();
    if is_counter && (prev.reset_hint == ResetHint::Gauge || last.reset_hint == ResetHint::Gauge) {
        ev.annotate(
            Annotation::NativeHistogramNotCounter { metric: metric() },
            hw.pos,
        );
    }
    if is_counter {
        let second = &points[1].1;
        if second.detect_reset(prev) {
            zeroed = FloatHistogram {
                schema: second.schema,
                custom_values: second.custom_values.clone(),
                ..FloatHistogram::default()
            };
            prev = &zeroed;
        }
    }
    let custom = prev.uses_custom_buckets();
    if last.uses_custom_buckets() != custom {
        ev.annotate(
            Annotation::MixedExponentialCustomHistograms { metric: metric() },
            hw.pos,
        );
        return None;
    }
    let mut min_schema = last.schema.min(prev.schema);
    for (_, curr) in &points[1..points.len() - 1] {
        if !is_counter {
            continue;
        }
        if curr.reset_hint == ResetHint::Gauge {
            ev.annotate(
                Annotation::NativeHistogramNotCounter { metric: metric() },
                hw.pos,
            );
        }
        min_schema = min_schema.min(curr.schema);
        if curr.uses_custom_buckets() != custom {
            ev.annotate(
                Annotation::MixedExponentialCustomHistograms { metric: metric() },
                hw.pos,
            );
            return None;
        }
    }
    // `CopyToSchema`: the last histogram at the smallest schema, hint unknown.
    let mut h = (**last).clone();
    h.reset_hint = ResetHint::Unknown;
    if h.schema > min_schema && !h.uses_custom_buckets() {
        h.reduce_resolution(min_schema).ok()?;
    }
    if !combine(ev, hw, &mut h, prev, HistogramOp::Sub) {
        return None;
    }
    if is_counter {
        for (_, curr) in &points[1..] {
            if curr.detect_reset(prev) && !combine(ev, hw, &mut h, prev, HistogramOp::Add) {
                return None;
            }
            prev = curr;
        }
    } else if points[0].1.reset_hint != ResetHint::Gauge || last.reset_hint != ResetHint::Gauge {
        ev.annotate(
            Annotation::NativeHistogramNotGauge { metric: metric() },
            hw.pos,
        );
    }
    h.reset_hint = ResetHint::Gauge;
    h.compact(0);
    Some(h)
}

/// `rate`, `increase` and `delta` of histograms, extrapolated as for floats.
fn extrapolated(
    ev: &mut Evaluator<'_>,
    hw: &HistWindow<'_>,
    w: Window,
    is_counter: bool,
    is_rate: bool,
) -> Option<FloatHistogram> {
    let pts = hw.hpts;
    if pts.len() < 2 {
        return None;
    }
    let mut result = histogram_rate(ev, hw, is_counter)?;
    let (first_t, first) = (pts[0].0, &pts[0].1);
    let last_t = pts[pts.len() - 1].0;
    let span = Sampled {
        first_t,
        last_t,
        n: pts.len(),
        first_count: first.count,
    };
    result.mul(span.factor(w, result.count, is_counter, is_rate));
    Some(result)
}

/// Where a window's samples lie, for extrapolation.
pub(crate) struct Sampled {
    /// The first and last sample's times (ms).
    pub(crate) first_t: i64,
    pub(crate) last_t: i64,
    /// Samples in the window (at least two).
    pub(crate) n: usize,
    /// The first histogram's count.
    pub(crate) first_count: f64,
}

impl Sampled {
    /// What the difference of a window's histograms is multiplied by to extrapolate it to
    /// the window's edges (Prometheus's `extrapolatedRate`), per second with `is_rate`.
    /// `result_count` is the difference's count.
    pub(crate) fn factor(
        &self,
        w: Window,
        result_count: f64,
        is_counter: bool,
        is_rate: bool,
    ) -> f64 {
        let mut to_start = (self.first_t - w.start) as f64 / 1000.0;
        let mut to_end = (w.end - self.last_t) as f64 / 1000.0;
        let sampled = (self.last_t - self.first_t) as f64 / 1000.0;
        let avg_step = sampled / (self.n - 1) as f64;
        let threshold = avg_step * 1.1;
        if to_start >= threshold {
            to_start = avg_step / 2.0;
        }
        if is_counter && result_count > 0.0 && self.first_count >= 0.0 {
            let to_zero = sampled * (self.first_count / result_count);
            if to_zero < to_start {
                to_start = to_zero;
            }
        }
        if to_end >= threshold {
            to_end = avg_step / 2.0;
        }
        let mut factor = if sampled != 0.0 {
            (sampled + to_start + to_end) / sampled
        } else {
            1.0
        };
        if is_rate {
            factor /= w.range_ms as f64 / 1000.0;
        }
        factor
    }
}

/// `irate` and `idelta` of the last two histograms.
fn instant(ev: &mut Evaluator<'_>, hw: &HistWindow<'_>, is_rate: bool) -> Option<FloatHistogram> {
    let pts = hw.hpts;
    if pts.len() < 2 {
        return None;
    }
    let (t0, h0) = &pts[pts.len() - 2];
    let (t1, h1) = &pts[pts.len() - 1];
    let interval = t1 - t0;
    if interval == 0 {
        return None;
    }
    let metric = || hw.metric.to_string();
    if is_rate && (h1.reset_hint == ResetHint::Gauge || h0.reset_hint == ResetHint::Gauge) {
        ev.annotate(
            Annotation::NativeHistogramNotCounter { metric: metric() },
            hw.pos,
        );
    }
    if !is_rate && (h1.reset_hint != ResetHint::Gauge || h0.reset_hint != ResetHint::Gauge) {
        ev.annotate(
            Annotation::NativeHistogramNotGauge { metric: metric() },
            hw.pos,
        );
    }
    let mut h = (**h1).clone();
    if (!is_rate || !h1.detect_reset(h0)) && !combine(ev, hw, &mut h, h0, HistogramOp::Sub) {
        return None;
    }
    h.reset_hint = ResetHint::Gauge;
    h.compact(0);
    if is_rate {
        h.div(interval as f64 / 1000.0);
    }
    Some(h)
}

/// `resets` (counter resets) or `changes` over a window of floats and histograms in time
/// order; a switch between the kinds counts as one.
pub(crate) fn transitions(hw: &HistWindow<'_>, resets: bool) -> f64 {
    enum P<'a> {
        F(f64),
        H(&'a FloatHistogram),
    }
    let mut all: Vec<(i64, P<'_>)> = hw.pts.iter().map(|(t, v)| (*t, P::F(*v))).collect();
    all.extend(hw.hpts.iter().map(|(t, h)| (*t, P::H(h))));
    all.sort_by_key(|(t, _)| *t);
    let mut n = 0;
    for pair in all.windows(2) {
        let hit = match (&pair[0].1, &pair[1].1) {
            (P::F(a), P::F(b)) if resets => b < a,
            (P::F(a), P::F(b)) => a != b && !(a.is_nan() && b.is_nan()),
            (P::H(a), P::H(b)) if resets => b.detect_reset(a),
            (P::H(a), P::H(b)) => !b.equals(a),
            _ => true,
        };
        n += usize::from(hit);
    }
    n as f64
}

/// `sum_over_time` (or, `avg`, `avg_over_time`) of histograms, compensated.
fn sum_over_time(ev: &mut Evaluator<'_>, hw: &HistWindow<'_>, avg: bool) -> Option<FloatHistogram> {
    let hs: Vec<&FloatHistogram> = hw.hpts.iter().map(|(_, h)| &**h).collect();
    let reset = hs.iter().any(|h| h.reset_hint == ResetHint::Reset);
    let not_reset = hs.iter().any(|h| h.reset_hint == ResetHint::NotReset);
    let divisor = if avg { hs.len() as f64 } else { 1.0 };
    let result = kahan_sum(&hs, divisor);
    if reset && not_reset {
        ev.annotate(
            Annotation::HistogramCounterResetCollision(HistogramOp::Agg),
            hw.pos,
        );
    }
    match result {
        Ok((h, flags)) => {
            if flags.custom_bounds_reconciled {
                ev.annotate(
                    Annotation::MismatchedCustomBucketsHistograms(HistogramOp::Agg),
                    hw.pos,
                );
            }
            Some(h)
        }
        Err(_) => {
            ev.annotate(
                Annotation::MixedExponentialCustomHistograms {
                    metric: hw.metric.to_string(),
                },
                hw.pos,
            );
            None
        }
    }
}
