//! `info(v, {selector})`: enriches each series of `v` with the data labels of the info
//! series (`target_info` by default) that share its identifying labels (`instance`, `job`).
//!
//! Derived from prometheus/promql/info.go. The info series are selected once per query,
//! over every reference time the call needs, by their name and data-label matchers; the
//! join on identifying labels is done per step. (Prometheus also narrows the storage
//! select with the identifying values of the base series, which changes no answer: an
//! info series only joins a base series with the same identifying labels.)

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use promql_parser::label::{MatchOp as PMatchOp, Matcher, Matchers};
use promql_parser::parser::{Call, Expr, SubqueryExpr, VectorSelector};

use super::{Evaluator, Val, offset_ms, selector_matchers};
use crate::promql::error::{Result, exec};
use crate::promql::source::{SeriesSource, SourceSeries};
use crate::promql::value::{Labels, METRIC_NAME, Sample, is_stale_histogram, is_stale_nan};

/// The info metric used when the call names none.
const TARGET_INFO: &str = "target_info";
/// The labels that identify the target an info series describes.
const IDENTIFYING: [&str; 2] = ["instance", "job"];

/// The arguments of `info` that the evaluator's prefetch plans as ordinary selectors: only
/// the first (the second is a label selector for the info series, read here).
pub(crate) fn planned_args(c: &Call) -> usize {
    if c.func.name == "info" {
        1
    } else {
        c.args.args.len()
    }
}

/// What the second argument asks for.
struct Selector {
    /// `__name__` matchers as Prometheus uses them to pick info series (never empty).
    names: Vec<Matcher>,
    /// The other matchers, by label name.
    data: BTreeMap<String, Vec<Matcher>>,
}

impl Selector {
    fn of(c: &Call) -> Self {
        let mut names = Vec::new();
        let mut data: BTreeMap<String, Vec<Matcher>> = BTreeMap::new();
        if let Some(Expr::VectorSelector(vs)) = c.args.args.get(1).map(|a| a.as_ref()) {
            if let Some(n) = &vs.name {
                names.push(Matcher::new(PMatchOp::Equal, METRIC_NAME, n));
            }
            for m in &vs.matchers.matchers {
                if m.name == METRIC_NAME {
                    if !names.contains(m) {
                        names.push(m.clone());
                    }
                } else {
                    data.entry(m.name.clone()).or_default().push(m.clone());
                }
            }
        }
        Self {
            names: effective_names(names),
            data,
        }
    }

    /// Whether every data matcher accepts a missing label.
    fn data_match_empty(&self) -> bool {
        self.data.values().flatten().all(|m| m.is_match(""))
    }
}

/// Prometheus's `effectiveInfoNameMatchers`: the matchers as given when one is positive,
/// `.+_info` added when all are negative, `target_info` when there are none.
fn effective_names(mut names: Vec<Matcher>) -> Vec<Matcher> {
    let positive = |m: &Matcher| matches!(m.op, PMatchOp::Equal | PMatchOp::Re(_));
    if names.iter().any(positive) {
        return names;
    }
    if names.is_empty() {
        return vec![Matcher::new(PMatchOp::Equal, METRIC_NAME, TARGET_INFO)];
    }
    let synthetic = Matcher::new_matcher(
        promql_parser::parser::token::T_EQL_REGEX,
        METRIC_NAME.into(),
        ".+_info".into(),
    );
    if let Ok(m) = synthetic {
        names.insert(0, m);
    }
    names
}

/// The `@` time (ms, if any) and the offset (ms) that pin the info series' reference time:
/// those of the first selector in `e`, plus the offsets of the subqueries around it up to
/// the first with an `@` (Prometheus's `infoSelectTimestampAndOffset`).
fn reference(ev: &Evaluator<'_>, e: &Expr) -> (Option<i64>, i64) {
    fn first<'e>(
        e: &'e Expr,
        path: &mut Vec<&'e SubqueryExpr>,
    ) -> Option<(&'e VectorSelector, Vec<&'e SubqueryExpr>)> {
        match e {
            Expr::VectorSelector(vs) => Some((vs, path.clone())),
            Expr::MatrixSelector(ms) => Some((&ms.vs, path.clone())),
            Expr::Subquery(sq) => {
                path.push(sq);
                let r = first(&sq.expr, path);
                path.pop();
                r
            }
            Expr::Aggregate(a) => {
                first(&a.expr, path).or_else(|| a.param.as_ref().and_then(|p| first(p, path)))
            }
            Expr::Unary(u) => first(&u.expr, path),
            Expr::Binary(b) => first(&b.lhs, path).or_else(|| first(&b.rhs, path)),
            Expr::Paren(p) => first(&p.expr, path),
            Expr::Call(c) => c.args.args.iter().find_map(|a| first(a, path)),
            Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => None,
        }
    }
    let Some((vs, path)) = first(e, &mut Vec::new()) else {
        return (None, 0);
    };
    let mut at = ev.at_ms(&vs.at);
    let mut off = offset_ms(&vs.offset);
    for sq in path.iter().rev() {
        if at.is_some() {
            break;
        }
        off += offset_ms(&sq.offset);
        at = ev.at_ms(&sq.at);
    }
    (at, off)
}

/// Selects the info series of every `info` call in `e` (after the evaluator planned the
/// call times), keyed by the call's address.
pub(crate) fn prefetch(ev: &mut Evaluator<'_>, e: &Expr, source: &dyn SeriesSource) -> Result<()> {
    let mut calls = Vec::new();
    collect(e, &mut calls);
    for c in calls {
        let key = c as *const Call as usize;
        let Some(grid) = ev.call_times(key) else {
            continue;
        };
        let Some(arg) = c.args.args.first() else {
            continue;
        };
        let (at, off) = reference(ev, arg);
        let lo = at.unwrap_or(grid.first) - off - ev.settings.lookback_ms;
        let hi = at.unwrap_or(grid.last) - off;
        let sel = Selector::of(c);
        let mut matchers: Vec<Matcher> = sel.names.clone();
        matchers.extend(sel.data.values().flatten().cloned());
        let vs = VectorSelector::new(None, Matchers::new(matchers));
        // One histogram per sample (`columnar.rs`); a source that hands out blocks anyway
        // has them expanded.
        let got = source.select_for(&selector_matchers(&vs), (lo, hi), None, false)?;
        let mut series = got.unwrap_or_default();
        series.iter_mut().for_each(SourceSeries::expand_block);
        ev.data.insert(key, Arc::new(series));
    }
    Ok(())
}

fn collect<'e>(e: &'e Expr, out: &mut Vec<&'e Call>) {
    match e {
        Expr::Call(c) => {
            if c.func.name == "info" {
                out.push(c);
            }
            c.args.args.iter().for_each(|a| collect(a, out));
        }
        Expr::Subquery(sq) => collect(&sq.expr, out),
        Expr::Aggregate(a) => {
            collect(&a.expr, out);
            if let Some(p) = &a.param {
                collect(p, out);
            }
        }
        Expr::Unary(u) => collect(&u.expr, out),
        Expr::Binary(b) => {
            collect(&b.lhs, out);
            collect(&b.rhs, out);
        }
        Expr::Paren(p) => collect(&p.expr, out),
        _ => {}
    }
}

/// The join key of a series for info metric `name`: the name and its identifying labels.
fn signature(name: &str, l: &Labels) -> Vec<String> {
    let mut sig = vec![name.to_string()];
    for id in IDENTIFYING {
        let v = l.get(id);
        if !v.is_empty() {
            sig.push(format!("{id}={v}"));
        }
    }
    sig
}

/// Evaluates `info(v, selector)` at `t`.
pub(crate) fn eval(ev: &mut Evaluator<'_>, c: &Call, t: i64) -> Result<Val> {
    let Some(arg) = c.args.args.first() else {
        return exec("missing argument 1 of info");
    };
    let (at, off) = reference(ev, arg);
    let base = ev.eval_vector(arg, t)?;
    let sel = Selector::of(c);
    let ignored = |s: &Sample| sel.names.iter().all(|m| m.is_match(s.labels.name()));

    // The identifying values of the series to enrich: info series must have them.
    let mut id_values: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for s in base.iter().filter(|s| !ignored(s)) {
        for id in IDENTIFYING {
            let v = s.labels.get(id);
            if !v.is_empty() {
                id_values.entry(id).or_default().insert(v.to_string());
            }
        }
    }

    // The newest info sample per signature, at the reference time (with lookback).
    let reft = at.unwrap_or(t) - off;
    let lo = reft - ev.settings.lookback_ms;
    let fetched = ev.data.get(&(c as *const Call as usize)).cloned();
    let mut info_names: BTreeSet<String> = BTreeSet::new();
    let mut by_sig: BTreeMap<Vec<String>, (&Labels, i64)> = BTreeMap::new();
    let fetched = fetched.as_deref().map(Vec::as_slice).unwrap_or_default();
    if !id_values.is_empty() {
        for s in fetched {
            let wanted = id_values
                .iter()
                .all(|(id, vals)| vals.contains(s.labels.get(id)));
            if !wanted {
                continue;
            }
            info_names.insert(s.labels.name().to_string());
            let idx = s.samples.partition_point(|(ts, _)| *ts <= reft);
            let float = idx.checked_sub(1).and_then(|i| s.samples.get(i));
            // The newest sample may be a histogram: Prometheus refuses it.
            let hidx = s.histograms.partition_point(|(ts, _)| *ts <= reft);
            if let Some((hts, h)) = hidx.checked_sub(1).and_then(|i| s.histograms.get(i))
                && *hts > lo
                && !is_stale_histogram(h)
                && float.is_none_or(|(fts, _)| hts > fts)
            {
                return exec("info sample should be float");
            }
            let Some(&(ts, v)) = float else {
                continue;
            };
            if ts <= lo || is_stale_nan(v) {
                continue;
            }
            let sig = signature(s.labels.name(), &s.labels);
            match by_sig.get(&sig) {
                Some((_, old)) if *old > ts => {}
                Some((old_l, old)) if *old == ts => {
                    return exec(format!(
                        "found duplicate series for info metric: existing {old_l} @ {old}, new {} @ {ts}",
                        s.labels
                    ));
                }
                _ => {
                    by_sig.insert(sig, (&s.labels, ts));
                }
            }
        }
    }

    let mut out = Vec::with_capacity(base.len());
    for s in base {
        if ignored(&s) {
            out.push(s);
            continue;
        }
        let mut add: BTreeMap<&str, &str> = BTreeMap::new();
        let mut matched = false;
        for name in &info_names {
            let Some((info, _)) = by_sig.get(&signature(name, &s.labels)) else {
                continue;
            };
            matched = true;
            for (k, v) in info.iter() {
                if k == METRIC_NAME || (!sel.data.is_empty() && !sel.data.contains_key(k)) {
                    continue;
                }
                if add.get(k).is_some_and(|old| *old != v) {
                    return exec(format!("conflicting label: {k}"));
                }
                if s.labels.has(k) {
                    continue;
                }
                add.insert(k, v);
            }
        }
        if !matched && !sel.data_match_empty() {
            continue;
        }
        let mut labels = s.labels.clone();
        for (k, v) in add {
            labels.set(k.to_string(), v.to_string());
        }
        out.push(Sample { labels, ..s });
    }
    ev.count_samples(out.len())?;
    Ok(Val::Vector(out))
}

#[cfg(test)]
mod tests {
    use crate::promql::{
        Error, LabelMatcher, Labels, MatchOp, PromqlEngine, QueryOptions, Result, SeriesSource,
        SourceSeries, Value,
    };

    /// Series in memory, selected by their matchers (regexes anchored, as in storage).
    struct Fixed(Vec<SourceSeries>);

    impl SeriesSource for Fixed {
        fn select(&self, ms: &[LabelMatcher], _: i64, _: i64) -> Result<Vec<SourceSeries>> {
            let ok = |s: &SourceSeries, m: &LabelMatcher| {
                let v = s.labels.get(&m.name);
                let re = || regex::Regex::new(&format!("^(?:{})$", m.value)).unwrap();
                match m.op {
                    MatchOp::Equal => v == m.value,
                    MatchOp::NotEqual => v != m.value,
                    MatchOp::Regex => re().is_match(v),
                    MatchOp::NotRegex => !re().is_match(v),
                }
            };
            Ok(self
                .0
                .iter()
                .filter(|s| ms.iter().all(|m| ok(s, m)))
                .cloned()
                .collect())
        }
    }

    fn series(pairs: &[(&str, &str)], values: &[f64]) -> SourceSeries {
        SourceSeries {
            block: None,
            intervals: Vec::new(),
            labels: Labels::from_pairs(pairs.iter().copied()),
            samples: values
                .iter()
                .enumerate()
                .map(|(i, v)| (i as i64 * 300_000, *v))
                .collect(),
            histograms: Vec::new(),
        }
    }

    /// The first block of Prometheus's info.test.
    fn source(conflict: bool) -> Fixed {
        let id = [("instance", "a"), ("job", "1")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut l = id.to_vec();
            l.extend_from_slice(extra);
            l
        };
        let (t_extra, b_extra) = if conflict {
            (vec![("x", "from_target")], vec![("x", "from_build")])
        } else {
            (
                vec![("data", "info"), ("another_data", "another info")],
                vec![("build_data", "build")],
            )
        };
        let mut t = with(&t_extra);
        t.push(("__name__", "target_info"));
        let mut b = with(&b_extra);
        b.push(("__name__", "build_info"));
        let mut m = with(&[("label", "value")]);
        m.push(("__name__", "metric"));
        Fixed(vec![
            series(&m, &[0.0, 1.0, 2.0]),
            series(&t, &[1.0, 1.0, 1.0]),
            series(&b, &[1.0, 1.0, 1.0]),
        ])
    }

    fn labels_at_10m(src: &Fixed, q: &str) -> Result<Vec<(Labels, f64)>> {
        let res = PromqlEngine::new(QueryOptions::default()).instant(src, q, 600_000)?;
        let Value::Vector(v) = res.value else {
            panic!("{q}: not a vector")
        };
        Ok(v.into_iter().map(|s| (s.labels, s.value)).collect())
    }

    #[test]
    fn enriches_with_target_info_by_default() {
        let got = labels_at_10m(&source(false), "info(metric)").unwrap();
        let want = Labels::from_pairs([
            ("__name__", "metric"),
            ("another_data", "another info"),
            ("data", "info"),
            ("instance", "a"),
            ("job", "1"),
            ("label", "value"),
        ]);
        assert_eq!(got, vec![(want, 2.0)]);
    }

    #[test]
    fn selector_picks_the_info_metric_and_data_labels() {
        let src = source(false);
        let got = labels_at_10m(&src, r#"info(metric, {__name__="build_info"})"#).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].0.get("build_data"), "build");
        assert!(!got[0].0.has("data"));
        // A data matcher that needs a value drops series without a match; one that
        // accepts the empty string keeps them unchanged.
        assert!(
            labels_at_10m(&src, r#"info(metric, {non_existent=~".+"})"#)
                .unwrap()
                .is_empty()
        );
        let got = labels_at_10m(&src, r#"info(metric, {non_existent=~".*"})"#).unwrap();
        assert_eq!(got[0].0.len(), 4);
        // Info series themselves are not enriched.
        let got = labels_at_10m(&src, r#"info(build_info, {__name__=~".+_info"})"#).unwrap();
        assert_eq!(got[0].0.get("build_data"), "build");
        assert!(!got[0].0.has("data"));
    }

    #[test]
    fn conflicting_data_labels_are_an_error() {
        let err = labels_at_10m(&source(true), r#"info(metric, {__name__=~".+_info"})"#)
            .expect_err("x differs between target_info and build_info");
        assert!(
            matches!(err, Error::Execution(ref m) if m == "conflicting label: x"),
            "{err}"
        );
    }
}
