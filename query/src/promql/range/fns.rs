//! Functions over range vectors: the rate family, `*_over_time`, `deriv`, `predict_linear`,
//! `changes`, `resets`, `double_exponential_smoothing`, and [`RangeFn`], one of them by name
//! with its scalar arguments.

use crate::promql::error::{Result, exec};
use crate::promql::stats::{kahan_inc, mean, quantile, sum, variance};

/// The window a range function sees at one evaluation: `(start, end]` in ms and its length.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub(crate) start: i64,
    pub(crate) end: i64,
    pub(crate) range_ms: i64,
}

/// A range-vector function with its scalar arguments, applied to one series' window.
pub(crate) struct RangeFn<'a> {
    pub(crate) name: &'a str,
    pub(crate) p1: f64,
    pub(crate) p2: f64,
}

impl RangeFn<'_> {
    /// Whether applying to `pts` checks the metric name (`rate` and `increase` of at least
    /// two samples note a name that does not look like a counter's).
    pub(crate) fn checks_name(&self, pts: &[(i64, f64)]) -> bool {
        matches!(self.name, "rate" | "increase") && pts.len() >= 2
    }

    /// The function's value over `pts` (the series' non-stale samples in window `w`, seen
    /// at `t`), or `None` when it has none.
    pub(crate) fn value(&self, pts: &[(i64, f64)], w: Window, t: i64) -> Result<Option<f64>> {
        let (name, p1, p2) = (self.name, self.p1, self.p2);
        Ok(match name {
            "rate" => extrapolated_rate(pts, w, true, true),
            "increase" => extrapolated_rate(pts, w, true, false),
            "delta" => extrapolated_rate(pts, w, false, false),
            "irate" => instant_value(pts, true),
            "idelta" => instant_value(pts, false),
            "deriv" if pts.len() >= 2 => Some(linear_regression(pts, pts[0].0).0),
            "predict_linear" if pts.len() >= 2 => {
                let (slope, icpt) = linear_regression(pts, t);
                Some(slope * p1 + icpt)
            }
            "deriv" | "predict_linear" => None,
            "changes" => Some(changes(pts)),
            "resets" => Some(resets(pts)),
            "quantile_over_time" => {
                let mut vals: Vec<f64> = pts.iter().map(|p| p.1).collect();
                Some(quantile(p1, &mut vals))
            }
            "double_exponential_smoothing" => double_exponential_smoothing(pts, p1, p2),
            _ => match over_time(name, pts) {
                Some(v) => Some(v),
                None => return exec(format!("function {name} is not supported")),
            },
        })
    }
}

/// Prometheus's `extrapolatedRate`: `rate`, `increase` and `delta`.
pub(crate) fn extrapolated_rate(
    pts: &[(i64, f64)],
    w: Window,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let (first_t, first_v) = pts[0];
    let (last_t, last_v) = pts[pts.len() - 1];
    let mut result = last_v - first_v;
    if is_counter {
        for p in pts.windows(2) {
            if p[1].1 < p[0].1 {
                result += p[0].1;
            }
        }
    }
    let span = Span {
        first: (first_t, first_v),
        last_t,
        samples: pts.len(),
    };
    Some(extrapolate(span, result, w, is_counter, is_rate))
}

/// What extrapolation needs of a window's samples: the first one, the last one's time and
/// how many there are.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Span {
    pub(crate) first: (i64, f64),
    pub(crate) last_t: i64,
    pub(crate) samples: usize,
}

/// Prometheus's extrapolation of `result` (the change from the first sample of `span` to
/// its last, corrected for counter resets) to the edges of `w`.
pub(crate) fn extrapolate(
    span: Span,
    result: f64,
    w: Window,
    is_counter: bool,
    is_rate: bool,
) -> f64 {
    let ((first_t, first_v), last_t) = (span.first, span.last_t);
    let mut to_start = (first_t - w.start) as f64 / 1000.0;
    let mut to_end = (w.end - last_t) as f64 / 1000.0;
    let sampled = (last_t - first_t) as f64 / 1000.0;
    let avg_step = sampled / (span.samples - 1) as f64;
    let threshold = avg_step * 1.1;
    if to_start >= threshold {
        to_start = avg_step / 2.0;
    }
    if is_counter && result > 0.0 && first_v >= 0.0 {
        let to_zero = sampled * (first_v / result);
        if to_zero < to_start {
            to_start = to_zero;
        }
    }
    if to_end >= threshold {
        to_end = avg_step / 2.0;
    }
    let mut factor = (sampled + to_start + to_end) / sampled;
    if is_rate {
        factor /= w.range_ms as f64 / 1000.0;
    }
    result * factor
}

/// `irate` / `idelta`: from the last two samples.
pub(crate) fn instant_value(pts: &[(i64, f64)], is_rate: bool) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let (t0, v0) = pts[pts.len() - 2];
    let (t1, v1) = pts[pts.len() - 1];
    let interval = t1 - t0;
    if interval == 0 {
        return None;
    }
    let mut r = v1;
    if !is_rate || v1 >= v0 || v1.is_nan() || v0.is_nan() {
        r = v1 - v0;
    }
    if is_rate {
        r /= interval as f64 / 1000.0;
    }
    Some(r)
}

/// Least-squares fit: (slope per second, intercept at `intercept_t`).
pub(crate) fn linear_regression(pts: &[(i64, f64)], intercept_t: i64) -> (f64, f64) {
    let init_y = pts[0].1;
    let const_y = pts.iter().all(|p| p.1 == init_y);
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    let n = pts.len() as f64;
    let (mut sx, mut cx, mut sy, mut cy) = (0.0, 0.0, 0.0, 0.0);
    let (mut sxy, mut cxy, mut sx2, mut cx2) = (0.0, 0.0, 0.0, 0.0);
    for (t, y) in pts {
        let x = (t - intercept_t) as f64 / 1e3;
        (sx, cx) = kahan_inc(x, sx, cx);
        (sy, cy) = kahan_inc(*y, sy, cy);
        (sxy, cxy) = kahan_inc(x * y, sxy, cxy);
        (sx2, cx2) = kahan_inc(x * x, sx2, cx2);
    }
    let (sx, sy, sxy, sx2) = (sx + cx, sy + cy, sxy + cxy, sx2 + cx2);
    let cov = sxy - sx * sy / n;
    let var = sx2 - sx * sx / n;
    let slope = cov / var;
    (slope, sy / n - slope * sx / n)
}

/// Number of value changes (NaN to NaN is no change).
pub(crate) fn changes(pts: &[(i64, f64)]) -> f64 {
    pts.windows(2)
        .filter(|p| p[0].1 != p[1].1 && !(p[0].1.is_nan() && p[1].1.is_nan()))
        .count() as f64
}

/// Number of counter resets (a value lower than the one before).
pub(crate) fn resets(pts: &[(i64, f64)]) -> f64 {
    pts.windows(2).filter(|p| p[1].1 < p[0].1).count() as f64
}

/// Double exponential smoothing (Holt's linear method) with smoothing factor `sf` and trend
/// factor `tf`.
pub(crate) fn double_exponential_smoothing(pts: &[(i64, f64)], sf: f64, tf: f64) -> Option<f64> {
    if pts.len() < 2 {
        return None;
    }
    let mut s0 = 0.0;
    let mut s1 = pts[0].1;
    let mut b = pts[1].1 - pts[0].1;
    for (i, p) in pts.iter().enumerate().skip(1) {
        let x = sf * p.1;
        if i > 1 {
            b = tf * (s1 - s0) + (1.0 - tf) * b;
        }
        let y = (1.0 - sf) * (s1 + b);
        s0 = s1;
        s1 = x + y;
    }
    Some(s1)
}

/// The simple `*_over_time` aggregations by name; `None` for other names.
pub(crate) fn over_time(name: &str, pts: &[(i64, f64)]) -> Option<f64> {
    let vals = || pts.iter().map(|p| p.1).collect::<Vec<f64>>();
    Some(match name {
        "avg_over_time" => mean(&vals()),
        "sum_over_time" => sum(&vals()),
        "count_over_time" => pts.len() as f64,
        "min_over_time" => pts
            .iter()
            .map(|p| p.1)
            .fold(f64::NAN, |m, v| if v < m || m.is_nan() { v } else { m }),
        "max_over_time" => pts
            .iter()
            .map(|p| p.1)
            .fold(f64::NAN, |m, v| if v > m || m.is_nan() { v } else { m }),
        "last_over_time" => pts[pts.len() - 1].1,
        "first_over_time" => pts[0].1,
        "ts_of_last_over_time" => pts[pts.len() - 1].0 as f64 / 1000.0,
        "ts_of_first_over_time" => pts[0].0 as f64 / 1000.0,
        "ts_of_max_over_time" => ts_of(pts, |cur, best| cur >= best || best.is_nan()),
        "ts_of_min_over_time" => ts_of(pts, |cur, best| cur <= best || best.is_nan()),
        "stddev_over_time" => variance(&vals()).sqrt(),
        "stdvar_over_time" => variance(&vals()),
        "present_over_time" => 1.0,
        "mad_over_time" => {
            let mut v = vals();
            if v.iter().any(|x| x.is_nan()) {
                return Some(f64::NAN);
            }
            let median = quantile(0.5, &mut v);
            let mut dev: Vec<f64> = v.iter().map(|x| (x - median).abs()).collect();
            quantile(0.5, &mut dev)
        }
        _ => return None,
    })
}

fn ts_of(pts: &[(i64, f64)], better: impl Fn(f64, f64) -> bool) -> f64 {
    let (mut best, mut ts) = (pts[0].1, pts[0].0);
    for (t, v) in pts {
        if better(*v, best) {
            best = *v;
            ts = *t;
        }
    }
    ts as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_extrapolates_to_the_window_edges() {
        // 0..=10 over 10 samples every 10s in a 100s window ending at the last sample.
        let pts: Vec<(i64, f64)> = (0..=10).map(|i| (i * 10_000, i as f64)).collect();
        let w = Window {
            start: 0,
            end: 100_000,
            range_ms: 100_000,
        };
        let r = extrapolated_rate(&pts[1..], w, true, true);
        // Counter would hit zero exactly at t=0: extrapolated to the start.
        assert!((r.unwrap_or(0.0) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn irate_handles_counter_resets() {
        assert_eq!(instant_value(&[(0, 10.0), (1000, 2.0)], true), Some(2.0));
        assert_eq!(instant_value(&[(0, 10.0), (1000, 2.0)], false), Some(-8.0));
    }
}
