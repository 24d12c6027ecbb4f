//! Runs one eval of a script on a [`Backend`] (the evaluator over an engine, or a server's
//! HTTP API) and checks its answer as Prometheus's `promqltest` does.

use std::sync::Arc;

use regex::Regex;
use strata_query::promql::native::FloatHistogram;
use strata_query::promql::{Labels, QueryResult, Value, is_stale_nan};

use super::hist::{self, HistPoint};
use super::script::{Eval, EvalKind, Pattern, PointV, SeriesLine};

/// Why a query failed: whether the parser refused it, and the error's text.
#[derive(Debug, Clone)]
pub(crate) struct Failure {
    pub(crate) parse: bool,
    pub(crate) message: String,
}

/// Where evals run.
pub(crate) trait Backend {
    /// An instant query at `t` (ms).
    fn instant(&self, expr: &str, t: i64) -> Result<QueryResult, Failure>;

    /// A range query (ms).
    fn range(&self, expr: &str, start: i64, end: i64, step: i64) -> Result<QueryResult, Failure>;

    /// Whether `got` is the expected histogram: by default Prometheus's
    /// `compareNativeHistogram` ([`hist::matches`]).
    fn hist_matches(&self, exp: &HistPoint, got: &FloatHistogram) -> bool {
        hist::matches(exp, got, almost_equal)
    }
}

/// Prometheus's `almost.Equal` with its epsilon, stale markers equal only to each other.
pub(crate) fn almost_equal(a: f64, b: f64) -> bool {
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let min_normal = f64::MIN_POSITIVE;
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < min_normal {
        return diff < 1e-6 * min_normal;
    }
    diff / abs_sum.min(f64::MAX) < 1e-6
}

fn pattern_matches(p: &Pattern, text: &str) -> bool {
    match p {
        Pattern::Any => true,
        Pattern::Exact(m) => m == text,
        // Unanchored, as Prometheus's test.go (`regexp.MatchString`).
        Pattern::Regex(r) => Regex::new(r).is_ok_and(|re| re.is_match(text)),
    }
}

fn check_annotations(
    kind: &str,
    want: &[Pattern],
    none: bool,
    got: &[String],
) -> Result<(), String> {
    if none && !got.is_empty() {
        return Err(format!("expected no {kind}, got {got:?}"));
    }
    if want.is_empty() {
        return Ok(());
    }
    for p in want {
        if !got.iter().any(|g| pattern_matches(p, g)) {
            return Err(format!("expected {kind} {p:?}, got {got:?}"));
        }
    }
    for g in got {
        if !want.iter().any(|p| pattern_matches(p, g)) {
            return Err(format!("unexpected {kind} {g:?}"));
        }
    }
    Ok(())
}

/// Compares a matrix against expected series with points at `start + i*step`: the floats
/// and the histograms separately, as Prometheus's `compareResult`.
fn check_matrix(
    b: &dyn Backend,
    got: &[strata_query::promql::Series],
    want: &[SeriesLine],
    start: i64,
    step: i64,
) -> Result<(), String> {
    let mut matched = 0;
    for w in want {
        let Some(g) = got.iter().find(|g| g.labels == w.labels) else {
            return Err(format!("missing series {}", w.labels));
        };
        matched += 1;
        let at = |i: usize| start + i as i64 * step;
        let exp: Vec<(i64, f64)> = w
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| v.as_ref()?.float().map(|v| (at(i), v)))
            .collect();
        let exp_h: Vec<(i64, &HistPoint)> = w
            .values
            .iter()
            .enumerate()
            .filter_map(|(i, v)| match v {
                Some(PointV::H(h)) => Some((at(i), h)),
                _ => None,
            })
            .collect();
        if exp.len() != g.points.len()
            || exp
                .iter()
                .zip(&g.points)
                .any(|(e, p)| e.0 != p.0 || !almost_equal(e.1, p.1))
        {
            return Err(format!(
                "series {}: expected {exp:?}, got {:?}",
                w.labels, g.points
            ));
        }
        if exp_h.len() != g.hpoints.len()
            || exp_h
                .iter()
                .zip(&g.hpoints)
                .any(|(e, p)| e.0 != p.0 || !b.hist_matches(e.1, &p.1))
        {
            return Err(format!(
                "series {}: expected histograms {:?}, got {:?}",
                w.labels,
                exp_h.iter().map(|(t, h)| (t, &h.h)).collect::<Vec<_>>(),
                g.hpoints
            ));
        }
    }
    if matched != got.len() {
        let extra: Vec<String> = got
            .iter()
            .filter(|g| !want.iter().any(|w| w.labels == g.labels))
            .map(|g| g.labels.to_string())
            .collect();
        return Err(format!("unexpected series {extra:?}"));
    }
    Ok(())
}

/// Whether a result's sample (float `value`, or histogram `h`) is the expected point.
fn point_matches(
    b: &dyn Backend,
    want: &[Option<PointV>],
    value: f64,
    h: Option<&Arc<FloatHistogram>>,
) -> bool {
    match (want, h) {
        ([Some(PointV::F(x))], None) => almost_equal(*x, value),
        ([Some(PointV::H(e))], Some(h)) => b.hist_matches(e, h),
        _ => false,
    }
}

fn check_vector(
    b: &dyn Backend,
    ev: &Eval,
    v: &[strata_query::promql::Sample],
) -> Result<(), String> {
    if ev.scalar.is_some() || ev.string.is_some() || ev.range_vector.is_some() {
        return Err(format!("expected another type, got vector {v:?}"));
    }
    if v.len() != ev.series.len() {
        return Err(format!(
            "expected {} samples, got {}: {:?}",
            ev.series.len(),
            v.len(),
            v.iter()
                .map(|s| (s.labels.to_string(), s.value, s.h.is_some()))
                .collect::<Vec<_>>()
        ));
    }
    for (i, w) in ev.series.iter().enumerate() {
        let found = if ev.ordered {
            v.get(i).filter(|s| s.labels == w.labels)
        } else {
            v.iter().find(|s| s.labels == w.labels)
        };
        let Some(s) = found else {
            return Err(format!(
                "expected {} (at {i}), got {:?}",
                w.labels,
                v.iter().map(|s| s.labels.to_string()).collect::<Vec<_>>()
            ));
        };
        if !point_matches(b, &w.values, s.value, s.h.as_ref()) {
            return Err(format!(
                "{}: expected {:?}, got {} {:?}",
                w.labels, w.values, s.value, s.h
            ));
        }
    }
    Ok(())
}

fn check_result(b: &dyn Backend, ev: &Eval, res: &QueryResult) -> Result<(), String> {
    check_annotations("warn", &ev.warn, ev.no_warn, &res.warnings)?;
    check_annotations("info", &ev.info, ev.no_info, &res.infos)?;
    match &res.value {
        Value::Scalar { value, .. } => match ev.scalar {
            Some(w) if almost_equal(w, *value) => Ok(()),
            w => Err(format!(
                "expected {w:?}/{} series, got scalar {value}",
                ev.series.len()
            )),
        },
        Value::String { value, .. } => match &ev.string {
            Some(w) if w == value => Ok(()),
            w => Err(format!("expected {w:?}, got string {value:?}")),
        },
        Value::Vector(v) => check_vector(b, ev, v),
        Value::Matrix(m) => {
            let (start, step) = match (&ev.kind, ev.range_vector) {
                (_, Some((a, _, c))) => (a, c),
                (Some(EvalKind::Range { start, step, .. }), None) => (*start, *step),
                _ => return Err("got a range vector, expected none".into()),
            };
            check_matrix(b, m, &ev.series, start, step)
        }
    }
}

fn uses_query_time_fns(expr: &str) -> bool {
    ["start()", "end()", "range()", "step()"]
        .iter()
        .any(|f| expr.contains(f))
}

/// The reference runner's extra check: an instant eval re-run as a range query around `t`.
fn check_as_range(b: &dyn Backend, ev: &Eval, t: i64, inst: &QueryResult) -> Result<(), String> {
    let res = b
        .range(&ev.expr, t - 60_000, t + 60_000, 60_000)
        .map_err(|e| format!("as range query: {}", e.message))?;
    let Value::Matrix(m) = res.value else {
        return Err("range query did not return a matrix".into());
    };
    type At = (Labels, f64, Option<Arc<FloatHistogram>>);
    let at_t: Vec<At> = m
        .iter()
        .filter_map(|s| {
            let f = s.points.iter().find(|p| p.0 == t).map(|p| (p.1, None));
            let h = || {
                s.hpoints
                    .iter()
                    .find(|p| p.0 == t)
                    .map(|p| (0.0, Some(p.1.clone())))
            };
            f.or_else(h).map(|(v, h)| (s.labels.clone(), v, h))
        })
        .collect();
    let want: Vec<At> = match &inst.value {
        Value::Scalar { value, .. } => vec![(Labels::default(), *value, None)],
        Value::Vector(v) => v
            .iter()
            .map(|s| (s.labels.clone(), s.value, s.h.clone()))
            .collect(),
        _ => return Ok(()),
    };
    let same = |a: &At, g: &At| {
        a.0 == g.0
            && match (&a.2, &g.2) {
                (None, None) => almost_equal(a.1, g.1),
                (Some(x), Some(y)) => b.hist_matches(
                    &HistPoint {
                        h: x.clone(),
                        hint_set: false,
                    },
                    y,
                ),
                _ => false,
            }
    };
    if want.len() != at_t.len() || want.iter().any(|w| !at_t.iter().any(|g| same(w, g))) {
        return Err(format!(
            "as range query at t: expected {want:?}, got {at_t:?}"
        ));
    }
    Ok(())
}

/// Runs `ev` on `b` and checks the answer (and, for an instant eval, the same query as a
/// range query around its time). `Err` says what differs.
pub(crate) fn run_eval(b: &dyn Backend, ev: &Eval) -> Result<(), String> {
    let res = match &ev.kind {
        Some(EvalKind::Instant { at }) => {
            let t = ev.range_vector.map_or(*at, |(_, end, _)| end);
            b.instant(&ev.expr, t)
        }
        Some(EvalKind::Range { start, end, step }) => b.range(&ev.expr, *start, *end, *step),
        None => return Err("no eval kind".into()),
    };
    match (&ev.fail, res) {
        (Some(p), Err(e)) => {
            if pattern_matches(p, &e.message) {
                Ok(())
            } else {
                Err(format!("expected error {p:?}, got {}", e.message))
            }
        }
        (Some(_), Ok(r)) => Err(format!("expected an error, got {:?}", r.value)),
        (None, Err(e)) if e.parse => Err(format!("parse error: {}", e.message)),
        (None, Err(e)) => Err(format!("error: {}", e.message)),
        (None, Ok(r)) => {
            check_result(b, ev, &r)?;
            if let Some(EvalKind::Instant { at }) = &ev.kind
                && !ev.ordered
                && ev.range_vector.is_none()
                && ev.string.is_none()
                && !uses_query_time_fns(&ev.expr)
            {
                check_as_range(b, ev, *at, &r)?;
            }
            Ok(())
        }
    }
}
