//! Function calls: dispatch by name, instant-vector functions, and the glue that feeds range
//! vectors to [`crate::promql::range::fns`].

use std::sync::Arc;

use promql_parser::label::MatchOp as PMatchOp;
use promql_parser::parser::{Call, Expr, VectorSelector};

use super::columnar::BLOCK_FUNCTIONS;
use super::histogram;
use super::labels_fns;
use super::range_block;
use super::range_hist::{self, HistWindow};
use super::tables::{from_grid, note_name};
use super::{Evaluator, Val, unparen, window_hpoints, window_points_from};
use crate::promql::error::{Result, exec};
use crate::promql::native::FloatHistogram;
use crate::promql::range::fns::{RangeFn, Window};
use crate::promql::source::SourceSeries;
use crate::promql::value::{Labels, METRIC_NAME, Sample};

/// Evaluates a function call at `t`.
pub(crate) fn call(ev: &mut Evaluator<'_>, c: &Call, t: i64) -> Result<Val> {
    let name = c.func.name;
    let args: Vec<&Expr> = c.args.args.iter().map(|a| a.as_ref()).collect();
    let arg = |i: usize| -> Result<&Expr> {
        match args.get(i) {
            Some(a) => Ok(*a),
            None => exec(format!("missing argument {} of {name}", i + 1)),
        }
    };
    match name {
        "time" => Ok(Val::Scalar(t as f64 / 1000.0)),
        "pi" => Ok(Val::Scalar(std::f64::consts::PI)),
        "start" => Ok(Val::Scalar(ev.start as f64 / 1000.0)),
        "end" => Ok(Val::Scalar(ev.end as f64 / 1000.0)),
        "step" => Ok(Val::Scalar(ev.interval as f64 / 1000.0)),
        "range" => Ok(Val::Scalar((ev.end - ev.start) as f64 / 1000.0)),
        "vector" => {
            let v = ev.eval_scalar(arg(0)?, t)?;
            Ok(Val::Vector(vec![Sample {
                labels: Labels::default(),
                ts: t,
                value: v,
                h: None,
                drop_name: false,
            }]))
        }
        "scalar" => {
            let v = ev.eval_vector(arg(0)?, t)?;
            // Histograms are left out (Prometheus's `funcScalar`).
            let mut floats = v.iter().filter(|s| s.h.is_none());
            Ok(Val::Scalar(match (floats.next(), floats.next()) {
                (Some(s), None) => s.value,
                _ => f64::NAN,
            }))
        }
        "timestamp" => {
            let v = ev.eval_vector(arg(0)?, t)?;
            Ok(Val::Vector(
                v.into_iter()
                    .map(|s| Sample {
                        value: s.ts as f64 / 1000.0,
                        ts: t,
                        h: None,
                        drop_name: true,
                        labels: s.labels,
                    })
                    .collect(),
            ))
        }
        "absent" => {
            let v = ev.eval_vector(arg(0)?, t)?;
            Ok(Val::Vector(if v.is_empty() {
                vec![absent_sample(arg(0)?, t)]
            } else {
                Vec::new()
            }))
        }
        "absent_over_time" => {
            let m = ev.eval_matrix(arg(0)?, t)?;
            Ok(Val::Vector(if m.is_empty() {
                vec![absent_sample(arg(0)?, t)]
            } else {
                Vec::new()
            }))
        }
        "label_replace" => labels_fns::label_replace(ev, c, &args, t),
        "label_join" => labels_fns::label_join(ev, c, &args, t),
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => {
            labels_fns::sort(ev, name, &args, t)
        }
        "histogram_quantile" => histogram::quantile(ev, &args, t),
        "histogram_quantiles" => histogram::quantiles(ev, &args, t),
        "min_of" | "max_of" => {
            let a = ev.eval_scalar(arg(0)?, t)?;
            let b = ev.eval_scalar(arg(1)?, t)?;
            Ok(Val::Scalar(if a.is_nan() || b.is_nan() {
                f64::NAN
            } else if name == "min_of" {
                a.min(b)
            } else {
                a.max(b)
            }))
        }
        "histogram_fraction" => histogram::fraction(ev, &args, t),
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => histogram::native_value(ev, name, &args, t),
        "round" => {
            let v = ev.eval_vector(arg(0)?, t)?;
            let to = match args.get(1) {
                Some(e) => ev.eval_scalar(e, t)?,
                None => 1.0,
            };
            let inv = 1.0 / to;
            Ok(map_values(v, t, |x| (x * inv + 0.5).floor() / inv))
        }
        "clamp" | "clamp_min" | "clamp_max" => {
            let v = ev.eval_vector(arg(0)?, t)?;
            let (lo, hi) = match name {
                "clamp" => (ev.eval_scalar(arg(1)?, t)?, ev.eval_scalar(arg(2)?, t)?),
                "clamp_min" => (ev.eval_scalar(arg(1)?, t)?, f64::INFINITY),
                _ => (f64::NEG_INFINITY, ev.eval_scalar(arg(1)?, t)?),
            };
            if hi < lo {
                return Ok(Val::Vector(Vec::new()));
            }
            // Go's math.Max/Min propagate NaN, of the bounds too.
            Ok(map_values(v, t, |x| {
                if x.is_nan() || lo.is_nan() || hi.is_nan() {
                    f64::NAN
                } else {
                    lo.max(hi.min(x))
                }
            }))
        }
        "day_of_month" | "day_of_week" | "day_of_year" | "days_in_month" | "hour" | "minute"
        | "month" | "year" => {
            let f = date_fn(name);
            match args.first() {
                None => Ok(Val::Vector(vec![Sample {
                    labels: Labels::default(),
                    ts: t,
                    value: f(t.div_euclid(1000)),
                    h: None,
                    drop_name: false,
                }])),
                Some(e) => {
                    let v = ev.eval_vector(e, t)?;
                    Ok(map_values(v, t, |x| {
                        if x.is_finite() { f(x as i64) } else { f64::NAN }
                    }))
                }
            }
        }
        _ => {
            if let Some(f) = math_fn(name) {
                let v = ev.eval_vector(arg(0)?, t)?;
                return Ok(map_values(v, t, f));
            }
            range_call(ev, c, name, &args, t)
        }
    }
}

/// Applies `f` to every float value; histograms are left out, as Prometheus's
/// `simpleFloatFunc` does. The metric name is dropped (marked: see [`Sample::drop_name`]).
fn map_values(v: Vec<Sample>, t: i64, f: impl Fn(f64) -> f64) -> Val {
    Val::Vector(
        v.into_iter()
            .filter(|s| s.h.is_none())
            .map(|mut s| {
                s.value = f(s.value);
                s.ts = t;
                s.drop_name = true;
                s
            })
            .collect(),
    )
}

fn math_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => f64::exp,
        "sqrt" => f64::sqrt,
        "ln" => f64::ln,
        "log2" => f64::log2,
        "log10" => f64::log10,
        "sin" => f64::sin,
        "cos" => f64::cos,
        "tan" => f64::tan,
        "asin" => f64::asin,
        "acos" => f64::acos,
        "atan" => f64::atan,
        "sinh" => f64::sinh,
        "cosh" => f64::cosh,
        "tanh" => f64::tanh,
        "asinh" => f64::asinh,
        "acosh" => f64::acosh,
        "atanh" => f64::atanh,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "sgn" => |v: f64| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// Calendar fields of a Unix time (seconds), UTC.
fn date_fn(name: &str) -> fn(i64) -> f64 {
    match name {
        "day_of_month" => |s| civil(s).2 as f64,
        "day_of_week" => |s| (s.div_euclid(86_400) + 4).rem_euclid(7) as f64,
        "day_of_year" => |s| {
            let (y, m, d) = civil(s);
            (days_from_civil(y, m, d) - days_from_civil(y, 1, 1) + 1) as f64
        },
        "days_in_month" => |s| {
            let (y, m, _) = civil(s);
            let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
            (days_from_civil(ny, nm, 1) - days_from_civil(y, m, 1)) as f64
        },
        "hour" => |s| (s.rem_euclid(86_400) / 3600) as f64,
        "minute" => |s| (s.rem_euclid(3600) / 60) as f64,
        "month" => |s| civil(s).1 as f64,
        _ => |s| civil(s).0 as f64,
    }
}

/// (year, month, day) of a Unix time in seconds (Howard Hinnant's civil-from-days).
fn civil(secs: i64) -> (i64, i64, i64) {
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `absent()`'s output: the selector's equality matchers as labels.
fn absent_sample(e: &Expr, t: i64) -> Sample {
    let vs = match e {
        Expr::VectorSelector(vs) => Some(vs),
        Expr::MatrixSelector(ms) => Some(&ms.vs),
        _ => None,
    };
    let mut labels = Labels::default();
    if let Some(vs) = vs {
        let mut seen = std::collections::HashSet::new();
        for m in &vs.matchers.matchers {
            if m.name == METRIC_NAME {
                continue;
            }
            if matches!(m.op, PMatchOp::Equal) && !seen.contains(&m.name) {
                labels.set(m.name.clone(), m.value.clone());
                seen.insert(m.name.clone());
            } else {
                labels.remove(&m.name);
            }
        }
    }
    Sample {
        labels,
        ts: t,
        value: 1.0,
        h: None,
        drop_name: false,
    }
}

/// Functions taking a range vector.
fn range_call(ev: &mut Evaluator<'_>, c: &Call, name: &str, args: &[&Expr], t: i64) -> Result<Val> {
    let m_idx = match name {
        "quantile_over_time" => 1,
        _ => 0,
    };
    let Some(m_expr) = args.get(m_idx).copied() else {
        return exec(format!("unknown function {name}"));
    };
    let Some((start, end, range_ms)) = ev.range_window(m_expr, t) else {
        return exec(format!(
            "function {name} expects a range vector argument (unknown function?)"
        ));
    };
    let w = Window {
        start,
        end,
        range_ms,
    };
    let (p1, p2) = range_params(ev, name, args, t)?;
    let keeps_name = matches!(name, "last_over_time" | "first_over_time");
    let f = RangeFn { name, p1, p2 };
    if let Some(out) = from_grid(ev, c, &f, args, m_idx, keeps_name, t)? {
        return Ok(Val::Vector(out));
    }
    // A selector's windows are read in place from the prefetched samples.
    let direct = match unparen(m_expr) {
        Expr::MatrixSelector(ms) => ev.selected(&ms.vs).map(|s| (&ms.vs, s)),
        _ => None,
    };
    let out = match direct {
        Some((vs, series)) => over_selector(ev, vs, &series, &f, w, keeps_name, t)?,
        None => over_matrix(ev, m_expr, &f, w, keeps_name, t)?,
    };
    Ok(Val::Vector(out))
}

/// The scalar arguments of range function `name` (`quantile_over_time`'s quantile,
/// `predict_linear`'s duration, `double_exponential_smoothing`'s two factors; zero for
/// the others), checked: a quantile outside [0, 1] warns, factors outside (0, 1) fail.
fn range_params(ev: &mut Evaluator<'_>, name: &str, args: &[&Expr], t: i64) -> Result<(f64, f64)> {
    let scalar_arg = |ev: &mut Evaluator<'_>, i: usize| -> Result<f64> {
        match args.get(i) {
            Some(e) => ev.eval_scalar(e, t),
            None => exec(format!("missing argument {} of {name}", i + 1)),
        }
    };
    let (p1, p2) = match name {
        "quantile_over_time" => (scalar_arg(ev, 0)?, 0.0),
        "predict_linear" => (scalar_arg(ev, 1)?, 0.0),
        "double_exponential_smoothing" => (scalar_arg(ev, 1)?, scalar_arg(ev, 2)?),
        _ => (0.0, 0.0),
    };
    if name == "quantile_over_time" && (p1.is_nan() || !(0.0..=1.0).contains(&p1)) {
        let pos = ev.arg_position(name, Some(0));
        ev.warn(format!(
            "quantile value should be between 0 and 1, got {}{pos}",
            crate::promql::stats::format_float(p1)
        ));
    }
    if name == "double_exponential_smoothing" {
        if p1 <= 0.0 || p1 >= 1.0 || p1.is_nan() {
            return exec(format!(
                "invalid smoothing factor. Expected: 0 < sf < 1, got: {p1:.6}"
            ));
        }
        if p2 <= 0.0 || p2 >= 1.0 || p2.is_nan() {
            return exec(format!(
                "invalid trend factor. Expected: 0 < tf < 1, got: {p2:.6}"
            ));
        }
    }
    Ok((p1, p2))
}

/// Range function `f` over the windows `w` of a matrix selector's prefetched `series`,
/// read in place (each series' cursor moving forward from the previous step).
fn over_selector(
    ev: &mut Evaluator<'_>,
    vs: &VectorSelector,
    series: &[SourceSeries],
    f: &RangeFn<'_>,
    w: Window,
    keeps_name: bool,
    t: i64,
) -> Result<Vec<Sample>> {
    let name = f.name;
    let reads_blocks = BLOCK_FUNCTIONS.contains(&name);
    let mut cursors = ev.take_cursors(vs);
    cursors.starts.resize(series.len(), 0);
    cursors.name_checked.resize(series.len(), false);
    let mut windows = Vec::with_capacity(series.len());
    let mut n = 0;
    let mut out = Vec::with_capacity(series.len());
    for (i, s) in series.iter().enumerate() {
        if !s.intervals.is_empty()
            && let Some(v) = crate::promql::range::tiers::value(&s.intervals, f, w)
        {
            n += 1;
            if let Some(value) = v {
                out.push(Sample {
                    labels: s.labels.clone(),
                    ts: t,
                    value,
                    h: None,
                    drop_name: !keeps_name,
                });
            }
            continue;
        }
        let pts = window_points_from(&s.samples, w.start, w.end, &mut cursors.starts[i]);
        let mut hpts = window_hpoints(&s.histograms, w.start, w.end);
        let mut block = None;
        if let Some(b) = &s.block {
            let r = range_block::window(b, w.start, w.end);
            if reads_blocks && pts.is_empty() {
                n += r.len();
                if !r.is_empty() {
                    block = Some((&**b, r));
                }
            } else {
                hpts = std::borrow::Cow::Owned(range_block::points(b, r));
            }
        }
        if block.is_some() || !pts.is_empty() || !hpts.is_empty() {
            n += pts.len() + hpts.len();
            windows.push((i, &s.labels, pts, hpts, block));
        }
    }
    if let Err(e) = ev.count_samples(n) {
        ev.put_cursors(vs, cursors);
        return Err(e);
    }
    let mut result = Ok(());
    // The range argument's position, for annotations about histograms (worked out once
    // a window holds one).
    let mut pos: Option<String> = None;
    let flags = (name != "delta", name == "rate");
    for (i, labels, pts, mut hpts, block) in windows {
        if let Some((b, r)) = block {
            let p = pos.get_or_insert_with(|| ev.arg_position(name, Some(0)));
            match range_block::extrapolated(ev, b, r.clone(), w, flags, labels.name(), p) {
                Some(h) => {
                    if let Some(h) = h {
                        out.push(Sample {
                            labels: labels.clone(),
                            ts: t,
                            value: 0.0,
                            h: Some(Arc::new(h)),
                            drop_name: !keeps_name,
                        });
                    }
                    continue;
                }
                // A counter reset in the window: the per-sample path.
                None => hpts = std::borrow::Cow::Owned(range_block::points(b, r)),
            }
        }
        if !hpts.is_empty() {
            let hw = HistWindow {
                pts: &pts,
                hpts: &hpts,
                metric: labels.name(),
                pos: pos.get_or_insert_with(|| ev.arg_position(name, Some(0))),
            };
            if let Some(r) = range_hist::apply(ev, name, &hw, w) {
                if let Some((value, h)) = r {
                    out.push(Sample {
                        labels: labels.clone(),
                        ts: t,
                        value,
                        h,
                        drop_name: !keeps_name,
                    });
                }
                continue;
            }
        }
        // A series' name is the same at every step: check it once.
        let check = !cursors.name_checked[i];
        if check && f.checks_name(&pts) {
            note_name(f, ev, labels);
        }
        let value = match if pts.is_empty() {
            Ok(None)
        } else {
            f.value(&pts, w, t)
        } {
            Ok(v) => v,
            Err(e) => {
                result = Err(e);
                break;
            }
        };
        if check && f.checks_name(&pts) {
            cursors.name_checked[i] = true;
        }
        if let Some((value, h)) = with_histograms(name, &pts, &hpts, value) {
            out.push(Sample {
                labels: labels.clone(),
                ts: t,
                value,
                h,
                drop_name: !keeps_name,
            });
        }
    }
    ev.put_cursors(vs, cursors);
    result.map(|()| out)
}

/// Range function `f` over the windows `w` of any other range argument (a subquery, a
/// selector not prefetched), evaluated as a matrix.
fn over_matrix(
    ev: &mut Evaluator<'_>,
    m_expr: &Expr,
    f: &RangeFn<'_>,
    w: Window,
    keeps_name: bool,
    t: i64,
) -> Result<Vec<Sample>> {
    let name = f.name;
    let mut matrix = ev.eval_matrix(m_expr, t)?;
    if matches!(unparen(m_expr), Expr::Subquery(_)) {
        forget_reset_hints(&mut matrix);
    }
    let mut out = Vec::with_capacity(matrix.len());
    // The range argument's position, for annotations about histograms (worked out once
    // a window holds one).
    let mut pos: Option<String> = None;
    for s in matrix {
        if !s.hpoints.is_empty() {
            let hw = HistWindow {
                pts: &s.points,
                hpts: &s.hpoints,
                metric: s.labels.name(),
                pos: pos.get_or_insert_with(|| ev.arg_position(name, Some(0))),
            };
            if let Some(r) = range_hist::apply(ev, name, &hw, w) {
                if let Some((value, h)) = r {
                    out.push(Sample {
                        labels: s.labels,
                        ts: t,
                        value,
                        h,
                        drop_name: s.drop_name || !keeps_name,
                    });
                }
                continue;
            }
        }
        if f.checks_name(&s.points) {
            note_name(f, ev, &s.labels);
        }
        let value = if s.points.is_empty() {
            None
        } else {
            f.value(&s.points, w, t)?
        };
        if let Some((value, h)) = with_histograms(name, &s.points, &s.hpoints, value) {
            out.push(Sample {
                labels: s.labels,
                ts: t,
                value,
                h,
                drop_name: s.drop_name || !keeps_name,
            });
        }
    }
    Ok(out)
}

/// Sets the `Reset` and `NotReset` hints of a subquery's histograms to `Unknown`, as
/// Prometheus's `evalSubquery` does for a function's argument: a subquery may skip or repeat
/// the samples those hints relate.
fn forget_reset_hints(matrix: &mut [crate::promql::value::Series]) {
    use crate::promql::native::ResetHint;
    for s in matrix {
        for (_, h) in &mut s.hpoints {
            if matches!(h.reset_hint, ResetHint::Reset | ResetHint::NotReset) {
                Arc::make_mut(h).reset_hint = ResetHint::Unknown;
            }
        }
    }
}

/// A range function's result once the window's histograms `hpts` are taken into account
/// (`value` is its result over the floats `pts`): `count_over_time` and `present_over_time`
/// count both kinds, `last_over_time` and `first_over_time` pick the newest or oldest sample
/// of either kind; the other functions ignore histograms.
fn with_histograms(
    name: &str,
    pts: &[(i64, f64)],
    hpts: &[(i64, Arc<FloatHistogram>)],
    value: Option<f64>,
) -> Option<(f64, Option<Arc<FloatHistogram>>)> {
    if hpts.is_empty() {
        return value.map(|v| (v, None));
    }
    let float = |v: f64| Some((v, None));
    match name {
        "count_over_time" => float((pts.len() + hpts.len()) as f64),
        "present_over_time" => float(1.0),
        "ts_of_last_over_time" => {
            let last = hpts[hpts.len() - 1]
                .0
                .max(pts.last().map_or(i64::MIN, |p| p.0));
            float(last as f64 / 1000.0)
        }
        "ts_of_first_over_time" => {
            let first = hpts[0].0.min(pts.first().map_or(i64::MAX, |p| p.0));
            float(first as f64 / 1000.0)
        }
        "last_over_time" => match (pts.last(), hpts.last()) {
            (Some(f), Some(h)) if f.0 > h.0 => float(f.1),
            (_, Some(h)) => Some((0.0, Some(h.1.clone()))),
            _ => value.map(|v| (v, None)),
        },
        "first_over_time" => match (pts.first(), hpts.first()) {
            (Some(f), Some(h)) if f.0 < h.0 => float(f.1),
            (_, Some(h)) => Some((0.0, Some(h.1.clone()))),
            _ => value.map(|v| (v, None)),
        },
        _ => value.map(|v| (v, None)),
    }
}
