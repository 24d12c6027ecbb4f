//! When `__name__` leaves a function's or operator's output: by default
//! at that function or operator, as Prometheus does, so an enclosing `label_replace` or
//! `label_join` no longer reads it; with `QueryOptions::delayed_name_removal` (Prometheus's
//! opt-in `promql-delayed-name-removal`) only at the end of evaluation.
//!
//! The data are two counters with exact slopes, so the expected rates are known without the
//! evaluator: `a_total` rises 1 per second and `b_total` 2 per second, both with
//! `job="api"`.

use strata_query::promql::{
    Error, LabelMatcher, Labels, MatchOp, PromqlEngine, QueryOptions, Result, SeriesSource,
    SourceSeries, Value,
};

/// `a_total{job="api"}` (+10 every 10 s) and `b_total{job="api"}` (+20 every 10 s) over an
/// hour, filtered by equality matchers.
struct Counters;

impl SeriesSource for Counters {
    fn select(&self, matchers: &[LabelMatcher], start: i64, end: i64) -> Result<Vec<SourceSeries>> {
        let all = [("a_total", 1.0), ("b_total", 2.0)].map(|(name, per_s)| SourceSeries {
            block: None,
            intervals: Vec::new(),
            labels: Labels::from_pairs([("__name__", name), ("job", "api")]),
            samples: (0..=360)
                .map(|k| (k * 10_000, k as f64 * 10.0 * per_s))
                .filter(|(t, _)| *t >= start && *t <= end)
                .collect(),
            histograms: Vec::new(),
        });
        Ok(all
            .into_iter()
            .filter(|s| {
                matchers.iter().all(|m| {
                    assert_eq!(
                        m.op,
                        MatchOp::Equal,
                        "the test source matches equality only"
                    );
                    s.labels.get(&m.name) == m.value
                })
            })
            .collect())
    }
}

/// One hour in ms: every query below is evaluated there.
const T: i64 = 3_600_000;

fn engine(delayed: bool) -> PromqlEngine {
    PromqlEngine::new(QueryOptions {
        delayed_name_removal: delayed,
        ..QueryOptions::default()
    })
}

/// The (labels, value) pairs of an instant query's vector, sorted by labels.
fn instant(delayed: bool, q: &str) -> std::result::Result<Vec<(Labels, f64)>, Error> {
    let res = engine(delayed).instant(&Counters, q, T)?;
    let Value::Vector(v) = res.value else {
        panic!("{q}: not a vector");
    };
    let mut out: Vec<(Labels, f64)> = v.into_iter().map(|s| (s.labels, s.value)).collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::from_pairs(pairs.iter().copied())
}

fn assert_near(got: f64, want: f64, what: &str) {
    assert!(
        (got - want).abs() < 1e-9 * want.abs().max(1.0),
        "{what}: got {got}, want {want}"
    );
}

#[test]
fn the_default_is_prometheus_default_immediate_removal() {
    assert!(!QueryOptions::default().delayed_name_removal);
}

#[test]
fn label_replace_after_rate_does_not_see_the_name_by_default() {
    let q = r#"label_replace(rate(a_total[5m]), "x", "$1", "__name__", "(.*)")"#;
    // Prometheus's default: rate dropped the name, the regex matched "" and set x to "",
    // which is no label at all.
    let got = instant(false, q).unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, labels(&[("job", "api")]));
    assert_near(got[0].1, 1.0, "rate of a_total");
    // Delayed removal: the name is still there for label_replace, and dropped at the end.
    let got = instant(true, q).unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, labels(&[("job", "api"), ("x", "a_total")]));
    assert_near(got[0].1, 1.0, "rate of a_total");
    // The same collision under every kind of reader: a grouping aggregation (which leaves
    // the removal to its group key), through parentheses, one that outputs its inputs'
    // labels, arithmetic, and the query's result itself.
    for q in [
        r#"sum by (job) (rate({job="api"}[5m]))"#,
        r#"max by (job) ((rate({job="api"}[5m])))"#,
        r#"topk(1, rate({job="api"}[5m]))"#,
        r#"rate({job="api"}[5m]) * 2"#,
        r#"rate({job="api"}[5m])"#,
    ] {
        let err = instant(false, q).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vector cannot contain metrics with the same labelset",
            "{q}: {err}"
        );
    }
    // Without a collision, a grouping aggregation over a name-dropping function answers
    // as if the names were gone.
    let got = instant(false, "sum by (job) (rate(a_total[5m]))").unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, labels(&[("job", "api")]));
    assert_near(got[0].1, 1.0, "rate of a_total by job");
}

#[test]
fn label_join_after_functions_and_operators_does_not_see_the_name_by_default() {
    // stddev_over_time (a range function), abs (an instant-vector function), arithmetic
    // with a scalar and with a vector, and unary minus all drop the name.
    for inner in [
        "stddev_over_time(a_total[5m])",
        "abs(a_total)",
        "a_total * 2",
        "a_total - on(job) b_total",
        "-a_total",
    ] {
        let q = format!(r#"label_join({inner}, "x", "-", "__name__", "job")"#);
        let got = instant(false, &q).unwrap();
        assert_eq!(got.len(), 1, "{q}: {got:?}");
        assert_eq!(got[0].0, labels(&[("job", "api"), ("x", "-api")]), "{q}");
    }
    // last_over_time keeps the name, so label_join reads it in both modes.
    let q = r#"label_join(last_over_time(a_total[5m]), "x", "-", "__name__", "job")"#;
    for delayed in [false, true] {
        let got = instant(delayed, q).unwrap();
        assert_eq!(
            got[0].0,
            labels(&[
                ("__name__", "a_total"),
                ("job", "api"),
                ("x", "a_total-api")
            ]),
            "delayed={delayed}"
        );
    }
}

#[test]
fn names_dropped_together_collide_at_the_function_by_default() {
    // Both rates are {job="api"} once their names are gone: Prometheus's default fails at
    // rate itself; delayed removal lets sum add them first (1/s + 2/s).
    let q = r#"sum(rate({job="api"}[5m]))"#;
    let err = instant(false, q).unwrap_err();
    assert_eq!(
        err.to_string(),
        "vector cannot contain metrics with the same labelset",
        "{err}"
    );
    let got = instant(true, q).unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].0, Labels::default());
    assert_near(got[0].1, 3.0, "sum of both rates");
    // Grouping by the name groups by nothing once it is dropped.
    let got = instant(false, "sum by (__name__) (rate(a_total[5m]))").unwrap();
    assert_eq!(got, vec![(Labels::default(), got[0].1)]);
    assert_near(got[0].1, 1.0, "rate of a_total");
}

#[test]
fn label_replace_restoring_the_name_keeps_it_in_both_modes() {
    // Setting __name__ from another label keeps it whatever the mode.
    let q = r#"label_replace(rate(a_total[5m]), "__name__", "rate_$1", "job", "(.*)")"#;
    for delayed in [false, true] {
        let got = instant(delayed, q).unwrap();
        assert_eq!(
            got[0].0,
            labels(&[("__name__", "rate_api"), ("job", "api")]),
            "delayed={delayed}"
        );
    }
}

#[test]
fn label_replace_making_two_series_equal_fails_in_both_modes() {
    // Giving both series one name: Prometheus rejects the output of label_replace itself,
    // whatever the mode (the enclosing sum never runs).
    let q = r#"sum(label_replace({job="api"}, "__name__", "same", "job", ".*"))"#;
    for delayed in [false, true] {
        let err = instant(delayed, q).unwrap_err();
        assert_eq!(
            err.to_string(),
            "vector cannot contain metrics with the same labelset",
            "delayed={delayed}"
        );
    }
    // Removing `job` leaves the names apart; the arithmetic then drops them, which
    // collides at `*` by default, while delayed removal lets sum add the two ones.
    let q = r#"sum(label_replace({job="api"}, "job", "", "job", ".*") * 0 + 1)"#;
    assert!(instant(false, q).is_err());
    let got = instant(true, q).unwrap();
    assert_eq!(got, vec![(Labels::default(), 2.0)]);
}

#[test]
fn range_queries_drop_the_name_at_the_function_too() {
    let q = r#"label_replace(rate(b_total[5m]), "x", "$1", "__name__", "(.+)")"#;
    for (delayed, want) in [
        (false, labels(&[("job", "api")])),
        (true, labels(&[("job", "api"), ("x", "b_total")])),
    ] {
        let res = engine(delayed)
            .range(&Counters, q, T - 600_000, T, 60_000)
            .unwrap();
        let Value::Matrix(m) = res.value else {
            panic!("not a matrix");
        };
        assert_eq!(m.len(), 1, "delayed={delayed}: {m:?}");
        assert_eq!(m[0].labels, want, "delayed={delayed}");
        assert_eq!(m[0].points.len(), 11);
        for (_, v) in &m[0].points {
            assert_near(*v, 2.0, "rate of b_total");
        }
    }
}

#[test]
fn a_collision_under_a_grouping_aggregation_fails_at_every_step_count() {
    // Evaluated at many steps (a range query, a subquery), the check that the names'
    // removal makes no duplicates is remembered between steps; it must still fail.
    let q = r#"sum by (job) (rate({job="api"}[5m]))"#;
    let err = engine(false)
        .range(&Counters, q, T - 600_000, T, 60_000)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
    let sub = r#"max_over_time(sum by (job) (rate({job="api"}[5m]))[10m:1m])"#;
    let err = engine(false).instant(&Counters, sub, T).unwrap_err();
    assert_eq!(
        err.to_string(),
        "vector cannot contain metrics with the same labelset"
    );
    // Without a collision the remembered check answers every step.
    let ok = r#"sum by (job) (rate(b_total[5m]))"#;
    let res = engine(false)
        .range(&Counters, ok, T - 600_000, T, 60_000)
        .unwrap();
    let Value::Matrix(m) = res.value else {
        panic!("not a matrix");
    };
    assert_eq!(m.len(), 1, "{m:?}");
    assert_eq!(m[0].labels, labels(&[("job", "api")]));
    assert_eq!(m[0].points.len(), 11);
    for (_, v) in &m[0].points {
        assert_near(*v, 2.0, "rate of b_total by job");
    }
}
