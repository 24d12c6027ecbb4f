//! Extended range selectors: the `anchored` and `smoothed` modifiers (floats here,
//! histograms in [`super::extended_hist`]).
//!
//! `anchored` keeps, as the left edge of a range, the last sample at or before its start
//! (read back as far as the lookback delta); `smoothed` also interpolates both edges
//! linearly (reading the lookback delta past the end too), and, on an instant selector,
//! interpolates the value at the evaluation time. Only `rate`, `increase`, `delta`,
//! `changes` and `resets` take `anchored`, and only the first three take `smoothed`.
//!
//! Derived from prometheus/promql/engine.go (the windows of `rangeEval` and
//! `matrixSelector`, `smoothSeries`, `extendFloats`) and prometheus/promql/functions.go
//! (`extendedRate`, `pickOrInterpolateLeft/Right`, `interpolate`,
//! `correctForCounterResets`, `pickFirstSampleIndices`, `AnchoredSafeFunctions`,
//! `SmoothedSafeFunctions`).

use promql_parser::parser::{Call, Expr, MatrixSelector, VectorSelector};

use super::{Evaluator, Val, duration_ms, unparen, window_points};
use super::{extended_hist, range_hist};
use crate::promql::annotations::Annotation;
use crate::promql::error::{Result, exec};
use crate::promql::range::fns::{changes, resets};
use crate::promql::value::{Sample, Series};

/// Functions that accept an `anchored` range (sorted, as Prometheus lists them).
const ANCHORED_SAFE: [&str; 5] = ["changes", "delta", "increase", "rate", "resets"];
/// Functions that accept a `smoothed` range (sorted).
const SMOOTHED_SAFE: [&str; 3] = ["delta", "increase", "rate"];

/// How much earlier and later than usual (ms) a selector's samples are needed: a range
/// (`range`) or an instant selector with `lookback` (ms).
pub(crate) fn margins(vs: &VectorSelector, lookback: i64, range: bool) -> (i64, i64) {
    match (vs.anchored, vs.smoothed, range) {
        (true, _, true) => (lookback, 0),
        (_, true, true) => (lookback, lookback),
        (_, true, false) => (0, lookback),
        _ => (0, 0),
    }
}

/// The anchored or smoothed range selector among the arguments of `c`, if any.
pub(crate) fn extended_arg(c: &Call) -> Option<&MatrixSelector> {
    c.args.args.iter().find_map(|a| match unparen(a) {
        Expr::MatrixSelector(ms) if ms.vs.anchored || ms.vs.smoothed => Some(ms),
        _ => None,
    })
}

/// Evaluates call `c` whose range argument `ms` is anchored or smoothed, at `t`.
pub(crate) fn call(ev: &mut Evaluator<'_>, c: &Call, ms: &MatrixSelector, t: i64) -> Result<Val> {
    let name = c.func.name;
    let smoothed = ms.vs.smoothed;
    let (modifier, safe): (&str, &[&str]) = if smoothed {
        ("smoothed", &SMOOTHED_SAFE)
    } else {
        ("anchored", &ANCHORED_SAFE)
    };
    if !safe.contains(&name) {
        return exec(format!(
            "{modifier} modifier can only be used with: {} - not with {name}",
            safe.join(", ")
        ));
    }
    let end = ev.ref_time(&ms.vs.at, &ms.vs.offset, t);
    let range = duration_ms(&ms.range);
    let start = end - range;
    let lookback = ev.settings.lookback_ms;
    let (before, after) = margins(&ms.vs, lookback, true);
    let Some(series) = ev.selected(&ms.vs) else {
        return Ok(Val::Vector(Vec::new()));
    };
    let mut out = Vec::new();
    let mut n = 0;
    let mut pos: Option<String> = None;
    for s in series.iter() {
        let pts = window_points(&s.samples, start - before, end + after);
        let hpts = extended_hist::window(&s.histograms, start - before, end + after);
        if !hpts.is_empty() && matches!(name, "changes" | "resets") {
            n += pts.len() + hpts.len();
            if let Some((fi, hi)) = extended_hist::first_indices(&pts, &hpts, start) {
                let hw = range_hist::HistWindow {
                    pts: &pts[fi..],
                    hpts: &hpts[hi..],
                    metric: s.labels.name(),
                    pos: "",
                };
                out.push(Sample {
                    labels: s.labels.clone(),
                    ts: t,
                    value: range_hist::transitions(&hw, name == "resets"),
                    h: None,
                    drop_name: true,
                });
            }
            continue;
        }
        if !hpts.is_empty() {
            n += hpts.len();
            let metric = s.labels.name().to_string();
            let mut notes = Vec::new();
            let h = if pts.is_empty() {
                let kind = (name != "delta", name == "rate");
                extended_hist::rate(&hpts, (start, end), smoothed, kind, &metric, &mut notes)
            } else {
                notes.push(Annotation::MixedFloatsHistograms { metric });
                None
            };
            if !notes.is_empty() {
                let p = pos.get_or_insert_with(|| ev.arg_position(name, Some(0)));
                for a in notes {
                    ev.annotate(a, p);
                }
            }
            if let Some(h) = h {
                out.push(Sample {
                    labels: s.labels.clone(),
                    ts: t,
                    value: 0.0,
                    h: Some(std::sync::Arc::new(h)),
                    drop_name: true,
                });
            }
            continue;
        }
        if pts.is_empty() {
            continue;
        }
        n += pts.len();
        let value = match name {
            "rate" => extended_rate(&pts, start, end, smoothed, true, true),
            "increase" => extended_rate(&pts, start, end, smoothed, true, false),
            "delta" => extended_rate(&pts, start, end, smoothed, false, false),
            "changes" => first_anchor(&pts, start).map(|i| changes(&pts[i..])),
            "resets" => first_anchor(&pts, start).map(|i| resets(&pts[i..])),
            _ => None,
        };
        if let Some(value) = value {
            out.push(Sample {
                labels: s.labels.clone(),
                ts: t,
                value,
                h: None,
                drop_name: true,
            });
        }
    }
    ev.count_samples(n)?;
    Ok(Val::Vector(out))
}

/// An anchored or smoothed range selector evaluated alone, at `t`: each series' samples
/// in the range with the edge values at its start and end (Prometheus's `extendFloats`).
pub(crate) fn matrix(ev: &mut Evaluator<'_>, ms: &MatrixSelector, t: i64) -> Result<Val> {
    let end = ev.ref_time(&ms.vs.at, &ms.vs.offset, t);
    let start = end - duration_ms(&ms.range);
    let (before, after) = margins(&ms.vs, ev.settings.lookback_ms, true);
    let Some(series) = ev.selected(&ms.vs) else {
        return Ok(Val::Matrix(Vec::new()));
    };
    let mut out = Vec::new();
    let mut n = 0;
    for s in series.iter() {
        let pts = window_points(&s.samples, start - before, end + after);
        if pts.is_empty() {
            continue;
        }
        let Some(points) = extend_floats(&pts, start, end, ms.vs.smoothed) else {
            continue;
        };
        n += points.len();
        out.push(Series {
            labels: s.labels.clone(),
            points,
            hpoints: Vec::new(),
            drop_name: false,
        });
    }
    ev.count_samples(n)?;
    Ok(Val::Matrix(out))
}

/// A smoothed instant selector at `t`: each series' value interpolated at the reference
/// time from the samples around it (within the lookback delta on either side), or the
/// last one before it (Prometheus's `smoothSeries`).
pub(crate) fn smoothed_vector(ev: &mut Evaluator<'_>, vs: &VectorSelector, t: i64) -> Result<Val> {
    let at = ev.ref_time(&vs.at, &vs.offset, t);
    let lookback = ev.settings.lookback_ms;
    let Some(series) = ev.selected(vs) else {
        return Ok(Val::Vector(Vec::new()));
    };
    let mut out = Vec::new();
    let mut pos: Option<String> = None;
    for s in series.iter() {
        let pts = window_points(&s.samples, at - lookback, at + lookback);
        let hpts = extended_hist::window(&s.histograms, at - lookback, at + lookback);
        if !hpts.is_empty() {
            let metric = s.labels.name().to_string();
            let mut notes = Vec::new();
            let h = if pts.is_empty() {
                extended_hist::smoothed_at(&hpts, at, &metric, &mut notes)
            } else {
                notes.push(Annotation::MixedFloatsHistograms { metric });
                None
            };
            if !notes.is_empty() {
                let p = pos.get_or_insert_with(|| selector_position(ev.query, vs));
                for a in notes {
                    ev.annotate(a, p);
                }
            }
            if let Some(h) = h {
                out.push(Sample {
                    labels: s.labels.clone(),
                    ts: t,
                    value: 0.0,
                    h: Some(std::sync::Arc::new(h)),
                    drop_name: false,
                });
            }
            continue;
        }
        let i = pts.partition_point(|(ts, _)| *ts < at);
        let value = match (pts.get(i), i.checked_sub(1).and_then(|p| pts.get(p))) {
            (Some(&(ts, v)), _) if ts == at => v,
            (Some(&next), Some(&prev)) => interpolate(prev, next, at, false),
            (None, Some(&(_, v))) => v,
            _ => continue,
        };
        out.push(Sample {
            labels: s.labels.clone(),
            ts: t,
            value,
            h: None,
            drop_name: false,
        });
    }
    ev.count_samples(out.len())?;
    Ok(Val::Vector(out))
}

/// ` (line:col)` where selector `vs` (its metric name) first appears in `query`.
fn selector_position(query: &str, vs: &VectorSelector) -> String {
    let name = vs.name.as_deref().unwrap_or_default();
    let at = if name.is_empty() {
        0
    } else {
        query.find(name).unwrap_or(0)
    };
    let before = &query[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!(" ({line}:{col})")
}

/// The first index of `pts[..n]` whose sample satisfies `pred`, or `n` (Go's sort.Search).
fn search(pts: &[(i64, f64)], n: usize, pred: impl Fn(i64) -> bool) -> usize {
    pts[..n].partition_point(|(ts, _)| !pred(*ts))
}

/// Linear interpolation at `t`; for a counter that reset between the two samples, from 0.
fn interpolate(p1: (i64, f64), p2: (i64, f64), t: i64, is_counter: bool) -> f64 {
    let y1 = if is_counter && p2.1 < p1.1 { 0.0 } else { p1.1 };
    y1 + (p2.1 - y1) * (t - p1.0) as f64 / (p2.0 - p1.0) as f64
}

fn left_value(f: &[(i64, f64)], first: usize, start: i64, smoothed: bool, counter: bool) -> f64 {
    if smoothed && f[first].0 < start && first + 1 < f.len() {
        interpolate(f[first], f[first + 1], start, counter)
    } else {
        f[first].1
    }
}

fn right_value(f: &[(i64, f64)], last: usize, end: i64, smoothed: bool, counter: bool) -> f64 {
    if smoothed && last > 0 && f[last].0 > end {
        interpolate(f[last - 1], f[last], end, counter)
    } else {
        f[last].1
    }
}

/// The edge indices of a range `(start, end]` over `f` (non-empty, sorted): the last sample
/// at or before `start` (else the first), and the last sample (smoothed: the first at or
/// after `end`). `None` when nothing lies after `start` (smoothed: or before `end`).
fn edges(f: &[(i64, f64)], start: i64, end: i64, smoothed: bool) -> Option<(usize, usize)> {
    let mut last = f.len() - 1;
    let first = search(f, last, |ts| ts > start).saturating_sub(1);
    if smoothed {
        last = search(f, last, |ts| ts >= end);
    }
    if f[last].0 <= start || (smoothed && f[first].0 > end) {
        return None;
    }
    Some((first, last))
}

/// `rate`, `increase` and `delta` over an anchored or smoothed range `(start, end]`
/// (Prometheus's `extendedRate`): the difference of the edge values, corrected for counter
/// resets, per second of the range for a rate.
fn extended_rate(
    f: &[(i64, f64)],
    start: i64,
    end: i64,
    smoothed: bool,
    is_counter: bool,
    is_rate: bool,
) -> Option<f64> {
    let (mut first, mut last) = edges(f, start, end, smoothed)?;
    let left = left_value(f, first, start, smoothed, is_counter);
    let right = right_value(f, last, end, smoothed, is_counter);
    let mut result = right - left;
    if is_counter {
        // Only the samples strictly inside the range: the edges handled their resets.
        if f[first].0 <= start {
            first += 1;
        }
        if f[last].0 >= end {
            last = last.wrapping_sub(1);
        }
        let inside = if last != usize::MAX && first <= last {
            &f[first..=last]
        } else {
            &[][..]
        };
        let mut prev = left;
        for &(_, v) in inside {
            if v < prev {
                result += prev;
            }
            prev = v;
        }
        if right < prev {
            result += prev;
        }
    }
    if is_rate {
        result /= (end - start) as f64 / 1000.0;
    }
    Some(result)
}

/// Where `changes`/`resets` start over an anchored range: the last sample at or before
/// `start` (the anchor), else the first; `None` when no sample lies after `start`
/// (Prometheus's `pickFirstSampleIndices`, for floats).
fn first_anchor(f: &[(i64, f64)], start: i64) -> Option<usize> {
    let after = f.partition_point(|(ts, _)| *ts <= start);
    if after >= f.len() {
        return None;
    }
    Some(after.saturating_sub(1))
}

/// Prometheus's `extendFloats`: the samples inside `(start, end]` between the edge values
/// at `start` and `end`.
fn extend_floats(
    f: &[(i64, f64)],
    start: i64,
    end: i64,
    smoothed: bool,
) -> Option<Vec<(i64, f64)>> {
    let mut last = f.len() - 1;
    let mut first = search(f, last, |ts| ts > start).saturating_sub(1);
    if smoothed {
        last = search(f, last, |ts| ts >= end);
    }
    if f[last].0 <= start {
        return None;
    }
    let left = left_value(f, first, start, smoothed, false);
    let right = right_value(f, last, end, smoothed, false);
    if f[first].0 <= start {
        first += 1;
    }
    let stop = if f[last].0 >= end { last } else { last + 1 };
    let mut out = Vec::with_capacity(stop.saturating_sub(first) + 2);
    out.push((start, left));
    if first < stop {
        out.extend_from_slice(&f[first..stop]);
    }
    out.push((end, right));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `metric 1+1x4 9+1x4` loaded every 15 s (extended_vectors.test, PROM-52).
    fn prom52() -> Vec<(i64, f64)> {
        [1.0, 2.0, 3.0, 4.0, 5.0, 9.0, 10.0, 11.0, 12.0, 13.0]
            .iter()
            .enumerate()
            .map(|(i, v)| (i as i64 * 15_000, *v))
            .collect()
    }

    fn window(t: i64, smoothed: bool) -> Vec<(i64, f64)> {
        let lb = 300_000;
        let after = if smoothed { lb } else { 0 };
        window_points(&prom52(), t - 60_000 - lb, t + after).into_owned()
    }

    #[test]
    fn anchored_and_smoothed_increase_match_prometheus() {
        // Expected values from extended_vectors.test.
        for (t, anchored, smoothed) in [
            (5_000, 0.0, 1.0 / 3.0),
            (50_000, 3.0, 10.0 / 3.0),
            (65_000, 4.0, 5.0),
            (80_000, 7.0, 7.0),
            (125_000, 7.0, 6.0),
        ] {
            let a = extended_rate(&window(t, false), t - 60_000, t, false, true, false);
            let s = extended_rate(&window(t, true), t - 60_000, t, true, true, false);
            assert!(
                (a.unwrap() - anchored).abs() < 1e-9,
                "anchored at {t}: {a:?}"
            );
            assert!(
                (s.unwrap() - smoothed).abs() < 1e-9,
                "smoothed at {t}: {s:?}"
            );
        }
    }

    #[test]
    fn left_open_ranges_and_anchors() {
        // `metric 1 2 _ 4 5` every minute: at 2m the anchored range (1m, 2m] is empty.
        let f = [(0, 1.0), (60_000, 2.0), (180_000, 4.0), (240_000, 5.0)];
        assert_eq!(
            extended_rate(&f[..2], 60_000, 120_000, false, true, false),
            None
        );
        assert_eq!(
            extended_rate(&f, 60_000, 120_000, true, true, false),
            Some(1.0)
        );
        assert_eq!(first_anchor(&f, 60_000), Some(1));
        assert_eq!(first_anchor(&f, 240_000), None);
        assert_eq!(first_anchor(&f, -1), Some(0));
    }

    #[test]
    fn smoothed_counter_reset_interpolates_from_zero() {
        // `metric 100 10` every 15 s: rate(metric[10s] smoothed) at 12s is 0.6666...
        let f = [(0, 100.0), (15_000, 10.0)];
        let r = extended_rate(&f, 2_000, 12_000, true, true, true).unwrap();
        assert!((r - 2.0 / 3.0).abs() < 1e-9, "{r}");
    }

    #[test]
    fn extend_floats_adds_edges() {
        let f = [(0, 1.0), (10_000, 2.0), (20_000, 3.0), (30_000, 4.0)];
        assert_eq!(
            extend_floats(&f, 5_000, 25_000, true),
            Some(vec![
                (5_000, 1.5),
                (10_000, 2.0),
                (20_000, 3.0),
                (25_000, 3.5)
            ])
        );
        assert_eq!(
            extend_floats(&f[..3], 5_000, 25_000, false),
            Some(vec![
                (5_000, 1.0),
                (10_000, 2.0),
                (20_000, 3.0),
                (25_000, 3.0)
            ])
        );
        assert_eq!(extend_floats(&f[..1], 5_000, 25_000, false), None);
    }

    /// One series, whatever the matchers.
    struct One(crate::promql::SourceSeries);

    impl crate::promql::SeriesSource for One {
        fn select(
            &self,
            _: &[crate::promql::LabelMatcher],
            _: i64,
            _: i64,
        ) -> crate::promql::Result<Vec<crate::promql::SourceSeries>> {
            Ok(vec![self.0.clone()])
        }
    }

    fn eval(q: &str, t: i64) -> crate::promql::Result<Vec<f64>> {
        use crate::promql::{Labels, PromqlEngine, QueryOptions, SourceSeries, Value};
        // `metric 1+1x10` every 10 s (extended_vectors.test).
        let src = One(SourceSeries {
            block: None,
            intervals: Vec::new(),
            labels: Labels::from_pairs([("__name__", "metric")]),
            samples: (0..=10).map(|i| (i * 10_000, 1.0 + i as f64)).collect(),
            histograms: Vec::new(),
        });
        let res = PromqlEngine::new(QueryOptions::default()).instant(&src, q, t)?;
        let Value::Vector(v) = res.value else {
            panic!("{q}: not a vector")
        };
        Ok(v.iter().map(|s| s.value).collect())
    }

    #[test]
    fn through_the_engine() {
        assert_eq!(eval("metric smoothed", 15_000).unwrap(), vec![2.5]);
        assert_eq!(eval("metric smoothed", 5_000).unwrap(), vec![1.5]);
        assert_eq!(eval("metric smoothed", 105_000).unwrap(), vec![11.0]);
        assert_eq!(
            eval("increase(metric[1m] anchored)", 60_000).unwrap(),
            vec![6.0]
        );
        let err = eval("deriv(metric[3m] smoothed)", 60_000).unwrap_err();
        assert_eq!(
            err.to_string(),
            "smoothed modifier can only be used with: delta, increase, rate - not with deriv"
        );
        let err = eval("max_over_time(metric[3m] anchored)", 60_000).unwrap_err();
        assert_eq!(
            err.to_string(),
            "anchored modifier can only be used with: changes, delta, increase, rate, resets - not with max_over_time"
        );
    }
}
