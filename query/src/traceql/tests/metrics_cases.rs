//! The metrics suite, from Tempo's "TraceQL metrics functions"
//! (`docs/sources/tempo/metrics-from-traces/metrics-queries/functions.md`) and its query
//! frontend's alignment (`pkg/traceql/engine_metrics.go`: the range widened to whole steps
//! and one step earlier; steps right-closed, each point at its step's end).
//!
//! The grid of [`Corpus::metrics`] is 10 s over `[T0, T0 + 60 s]`: seven steps ending at
//! T0, T0 + 10 s ... T0 + 60 s. A span at exactly T0 + 10 s (a1) is in the step ending
//! there.

use super::corpus::{Corpus, S, T0};
use crate::traceql::{MetricSeries, MetricsParams, Value, metrics_range, parse};

/// The seven point times, in ms.
fn times() -> Vec<i64> {
    (0..7).map(|k| (T0 + k * 10 * S) / 1_000_000).collect()
}

fn series(labels: Vec<(&str, Value)>, values: &[f64]) -> MetricSeries {
    MetricSeries {
        labels: labels.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        points: times().into_iter().zip(values.iter().copied()).collect(),
    }
}

fn name(f: &str) -> (&'static str, Value) {
    ("__name__", Value::Str(f.into()))
}

fn svc(s: &str) -> (&'static str, Value) {
    ("resource.service.name", Value::Str(s.into()))
}

/// Series sorted by their labels' text, for comparison.
fn sorted(mut s: Vec<MetricSeries>) -> Vec<MetricSeries> {
    s.sort_by_key(|x| format!("{:?}", x.labels));
    s
}

/// "The `count_over_time` function": matching spans per step.
#[tokio::test]
async fn count_over_time() {
    let c = Corpus::new();
    assert_eq!(
        c.metrics("{ } | count_over_time()").await,
        vec![series(
            vec![name("count_over_time")],
            &[0.0, 1.0, 5.0, 5.0, 3.0, 4.0, 0.0]
        )]
    );
    // "Group results with `by()`".
    assert_eq!(
        sorted(
            c.metrics("{ } | count_over_time() by (resource.service.name)")
                .await
        ),
        vec![
            series(vec![svc("cart")], &[0.0, 0.0, 3.0, 0.0, 0.0, 3.0, 0.0]),
            series(vec![svc("checkout")], &[0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0]),
            series(vec![svc("frontend")], &[0.0, 1.0, 2.0, 1.0, 1.0, 1.0, 0.0]),
            series(vec![svc("products")], &[0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0]),
        ]
    );
    // By an attribute of the instrumentation scope.
    let team = |t: &str| ("instrumentation.team", Value::Str(t.into()));
    assert_eq!(
        sorted(
            c.metrics(
                "{ instrumentation.team != nil } | count_over_time() by (instrumentation.team)"
            )
            .await
        ),
        vec![
            series(vec![team("cart")], &[0.0, 0.0, 3.0, 0.0, 0.0, 3.0, 0.0]),
            series(vec![team("payments")], &[0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0]),
            series(vec![team("web")], &[0.0, 1.0, 2.0, 1.0, 1.0, 1.0, 0.0]),
        ]
    );
}

/// "The `rate` function": matching spans per second of the step.
#[tokio::test]
async fn rate() {
    let c = Corpus::new();
    assert_eq!(
        c.metrics("{ status = error } | rate()").await,
        vec![series(
            vec![name("rate")],
            &[0.0, 0.0, 0.2, 0.1, 0.1, 0.0, 0.0]
        )]
    );
    assert_eq!(
        sorted(
            c.metrics("{ span:status = error } | rate() by (resource.service.name, span:name)")
                .await
        ),
        vec![
            series(
                vec![svc("cart"), ("name", Value::Str("GetCart".into()))],
                &[0.0, 0.0, 0.1, 0.0, 0.0, 0.0, 0.0]
            ),
            series(
                vec![svc("cart"), ("name", Value::Str("SELECT carts".into()))],
                &[0.0, 0.0, 0.1, 0.0, 0.0, 0.0, 0.0]
            ),
            series(
                vec![
                    svc("checkout"),
                    ("name", Value::Str("POST /checkout".into()))
                ],
                &[0.0, 0.0, 0.0, 0.1, 0.0, 0.0, 0.0]
            ),
            series(
                vec![svc("checkout"), ("name", Value::Str("charge".into()))],
                &[0.0, 0.0, 0.0, 0.0, 0.1, 0.0, 0.0]
            ),
        ]
    );
}

/// Structural and trace-level queries are evaluated on whole traces ("Structural").
#[tokio::test]
async fn metrics_of_structural_and_trace_level_queries() {
    let c = Corpus::new();
    let q = r#"{ resource.service.name = "frontend" } >> { status = error } | count_over_time()"#;
    assert_eq!(
        c.metrics(q).await,
        vec![series(
            vec![name("count_over_time")],
            &[0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0]
        )]
    );
    assert_eq!(
        c.metrics("{ traceDuration > 1s } | count_over_time()")
            .await,
        vec![series(
            vec![name("count_over_time")],
            &[0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 0.0]
        )]
    );
}

/// "The `quantile_over_time` function": Tempo's log2 buckets (durations in seconds) with
/// exponential interpolation; a label `p` per quantile; 0 in steps without spans.
#[tokio::test]
async fn quantile_over_time() {
    let c = Corpus::new();
    let got = c
        .metrics(r#"{ resource.service.name = "cart" } | quantile_over_time(duration, .5, .99)"#)
        .await;
    // Step 2: 350 ms and 300 ms (bucket 2^29 ns), 2 ms (2^21 ns). p50: the 2nd of 3
    // samples, halfway (in log2) from 2^21 to 2^29 ns: 2^25 ns. p99: the bucket's bound.
    // Step 5: 80 ms (2^27 ns), 30 ms (2^25 ns), 5 ms (2^23 ns): p50 2^25, p99 2^27.
    let ns = |e: i32| 2f64.powi(e) / 1e9;
    let want = [
        (0.5, [0.0, 0.0, ns(25), 0.0, 0.0, ns(25), 0.0]),
        (0.99, [0.0, 0.0, ns(29), 0.0, 0.0, ns(27), 0.0]),
    ];
    assert_eq!(got.len(), 2);
    for (s, (p, values)) in got.iter().zip(want) {
        assert_eq!(
            s.labels,
            vec![
                (
                    "__name__".to_owned(),
                    Value::Str("quantile_over_time".into())
                ),
                ("p".to_owned(), Value::Float(p)),
            ]
        );
        assert_eq!(s.points.iter().map(|x| x.0).collect::<Vec<_>>(), times());
        for ((_, got), want) in s.points.iter().zip(values) {
            assert!((got - want).abs() < 1e-12, "p{p}: {got} != {want}");
        }
    }
}

/// "The `histogram_over_time` function": one series per log2 bucket, labelled
/// `__bucket` with its upper bound in seconds, counting spans per step.
#[tokio::test]
async fn histogram_over_time() {
    let c = Corpus::new();
    let bucket = |e: i32| ("__bucket", Value::Float(2f64.powi(e) / 1e9));
    assert_eq!(
        sorted(
            c.metrics(r#"{ name = "GET /cart" } | histogram_over_time(duration)"#)
                .await
        ),
        sorted(vec![
            // e1: 120 ms, in (2^26, 2^27] ns, at T0 + 40 s.
            series(
                vec![name("histogram_over_time"), bucket(27)],
                &[0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]
            ),
            // a1: 500 ms, in (2^28, 2^29] ns, at T0 + 10 s exactly.
            series(
                vec![name("histogram_over_time"), bucket(29)],
                &[0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
            ),
        ])
    );
    let by = c
        .metrics(r#"{ kind = client } | histogram_over_time(duration) by (resource.service.name)"#)
        .await;
    // checkout's clients: charge 1.2 s (2^31 ns) and reserve 100 ms (2^27 ns) in step 4.
    let checkout: Vec<_> = sorted(by)
        .into_iter()
        .filter(|s| {
            s.labels[0]
                == (
                    "resource.service.name".to_owned(),
                    Value::Str("checkout".into()),
                )
        })
        .collect();
    assert_eq!(
        checkout,
        vec![
            series(
                vec![svc("checkout"), bucket(27)],
                &[0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]
            ),
            series(
                vec![svc("checkout"), bucket(31)],
                &[0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0]
            ),
        ]
    );
}

/// The other over-time functions ("Over-time functions"): steps without spans have no
/// point; durations are in seconds.
#[tokio::test]
async fn min_max_avg_sum_over_time() {
    let c = Corpus::new();
    let q = r#"{ resource.service.name = "checkout" } | max_over_time(duration)"#;
    let t = times();
    assert_eq!(
        c.metrics(q).await,
        vec![MetricSeries {
            labels: vec![("__name__".into(), Value::Str("max_over_time".into()))],
            points: vec![(t[3], 1.5), (t[4], 1.2)],
        }]
    );
    let q = r#"{ resource.service.name = "checkout" } | min_over_time(duration)"#;
    assert_eq!(c.metrics(q).await[0].points, vec![(t[3], 1.5), (t[4], 0.1)]);
    let q = "{ } | sum_over_time(span.retries)";
    assert_eq!(c.metrics(q).await[0].points, vec![(t[4], 4.0)]);
    let q = r#"{ resource.service.name = "cart" } | avg_over_time(duration)"#;
    let avg = c.metrics(q).await;
    assert_eq!(avg[0].points.len(), 2);
    assert!((avg[0].points[0].1 - 0.652 / 3.0).abs() < 1e-12);
    assert!((avg[0].points[1].1 - 0.115 / 3.0).abs() < 1e-12);
}

/// A search query is not a metrics query; a bad step is refused.
#[tokio::test]
async fn bad_metrics_requests() {
    let c = Corpus::new();
    let sql = crate::sql::SqlConfig::for_tests();
    let p = MetricsParams {
        start_ns: T0,
        end_ns: T0 + 60 * S,
        step_ns: 10 * S,
    };
    let q = parse("{ }").expect("parse");
    let err = metrics_range(&c.engine, &c.acme, &sql, &q, &p)
        .await
        .expect_err("not metrics");
    assert!(err.is_client_error(), "{err}");
    let q = parse("{ } | rate()").expect("parse");
    for step_ns in [0, 1] {
        let p = MetricsParams { step_ns, ..p };
        let err = metrics_range(&c.engine, &c.acme, &sql, &q, &p)
            .await
            .expect_err("step");
        assert!(err.is_client_error(), "{err}");
    }
}

/// The points of `values` at the steps `steps` (a second stage keeps some steps only).
fn at(labels: Vec<(&str, Value)>, points: &[(usize, f64)]) -> MetricSeries {
    let t = times();
    MetricSeries {
        labels: labels.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        points: points.iter().map(|&(k, v)| (t[k], v)).collect(),
    }
}

/// "topk and bottomk" (Tempo's second stage): at each step the k series with the highest
/// (lowest) value keep their point, ties to the series whose labels sort first; a series
/// kept nowhere is left out.
#[tokio::test]
async fn topk_and_bottomk_keep_k_series_per_step() {
    let c = Corpus::new();
    let base = "{ span:status = error } | rate() by (resource.service.name, span:name)";
    let get_cart = || vec![svc("cart"), ("name", Value::Str("GetCart".into()))];
    let select = || vec![svc("cart"), ("name", Value::Str("SELECT carts".into()))];
    let post = || {
        vec![
            svc("checkout"),
            ("name", Value::Str("POST /checkout".into())),
        ]
    };
    let charge = || vec![svc("checkout"), ("name", Value::Str("charge".into()))];
    // The four series' rates (see `rate`): GetCart and SELECT carts 0.1 at step 2, POST
    // /checkout at step 3, charge at step 4, all 0 elsewhere.
    assert_eq!(
        sorted(c.metrics(&format!("{base} | topk(1)")).await),
        vec![
            at(
                get_cart(),
                &[(0, 0.0), (1, 0.0), (2, 0.1), (5, 0.0), (6, 0.0)]
            ),
            at(post(), &[(3, 0.1)]),
            at(charge(), &[(4, 0.1)]),
        ]
    );
    // topk(2): at step 2 the two tied at 0.1; where all are 0, the two cart series (their
    // labels sort first).
    let two = sorted(c.metrics(&format!("{base} | topk(2)")).await);
    let zeros_and = |v: f64| [(0, 0.0), (1, 0.0), (2, v), (5, 0.0), (6, 0.0)];
    assert_eq!(two[1], at(select(), &zeros_and(0.1)));
    assert_eq!(two.len(), 4);
    // bottomk(1): the lowest at each step, ties by labels again (`POST /checkout` sorts
    // before `charge`).
    assert_eq!(
        sorted(c.metrics(&format!("{base} | bottomk(1)")).await),
        vec![
            at(
                get_cart(),
                &[(0, 0.0), (1, 0.0), (3, 0.0), (4, 0.0), (5, 0.0), (6, 0.0)]
            ),
            at(post(), &[(2, 0.0)]),
        ]
    );
    let _ = charge;
    for bad in [
        format!("{base} | topk(0)"),
        format!("{base} | topk()"),
        format!("{base} | sum()"),
        format!("{base} | topk(1) | topk(1)"),
    ] {
        assert!(parse(&bad).is_err(), "{bad}");
    }
}

/// The series of `out` with exactly `labels`.
fn find<'a>(out: &'a [MetricSeries], labels: &[(&str, Value)]) -> Option<&'a MetricSeries> {
    out.iter().find(|s| {
        s.labels.len() == labels.len()
            && s.labels
                .iter()
                .zip(labels)
                .all(|((k, v), (wk, wv))| k == wk && v == wv)
    })
}

fn meta(group: &str) -> (&'static str, Value) {
    ("__meta_type", Value::Str(group.into()))
}

/// "The `compare` function" (Traces Drilldown's comparison): the cart service's spans, the
/// failing ones (a3, a4 at +10 s) as the selection against the others (a5; e3-e5 at
/// +40 s), each attribute's two most frequent values per group, totals, and the flag of an
/// attribute with more values.
#[tokio::test]
async fn compare_counts_each_attribute_value_in_selection_and_baseline() {
    let c = Corpus::new();
    let out = c
        .metrics(r#"{ resource.service.name = "cart" } | compare({ status = error }, 2)"#)
        .await;
    let s = |v: &str| Value::Str(v.into());
    let at = |group: &str, attr: &str, v: Value| {
        let found = find(&out, &[meta(group), (attr, v.clone())]);
        found.map(|s| s.points.iter().map(|p| p.1).collect::<Vec<_>>())
    };
    let one_at = |k: usize, n: f64| {
        let mut v = vec![0.0; 7];
        v[k] = n;
        Some(v)
    };
    assert_eq!(at("selection", "name", s("GetCart")), one_at(2, 1.0));
    assert_eq!(at("selection", "name", s("SELECT carts")), one_at(2, 1.0));
    assert_eq!(at("baseline", "name", s("SELECT carts")), one_at(5, 2.0));
    // Three baseline names for two places: the tie (one span each) goes to the first by
    // label; `cache.get` is left out, and `name` is flagged.
    assert_eq!(at("baseline", "name", s("GetCart")), one_at(5, 1.0));
    assert_eq!(at("baseline", "name", s("cache.get")), None);
    let flag = find(
        &out,
        &[
            ("__meta_error", s("__too_many_values__")),
            ("name", Value::Nil),
        ],
    );
    assert!(flag.is_some_and(|f| f.points.is_empty()), "{out:?}");
    assert_eq!(at("selection_total", "name", Value::Nil), one_at(2, 2.0));
    assert_eq!(
        at("baseline_total", "name", Value::Nil),
        Some(vec![0.0, 0.0, 1.0, 0.0, 0.0, 3.0, 0.0])
    );
    assert_eq!(
        at(
            "selection",
            "status",
            Value::Status(crate::traceql::Status::Error)
        ),
        one_at(2, 2.0)
    );
    assert_eq!(
        at("selection", "statusMessage", s("db failed")),
        one_at(2, 2.0)
    );
    assert_eq!(
        at("selection", "span.db.system", s("postgresql")),
        one_at(2, 1.0)
    );
    assert_eq!(
        at("baseline", "resource.service.name", s("cart")),
        Some(vec![0.0, 0.0, 1.0, 0.0, 0.0, 3.0, 0.0])
    );
    // No series for durations, and only the two groups' labels.
    assert!(
        out.iter()
            .all(|s| s.labels.iter().all(|(k, _)| k != "duration"))
    );

    // A window of start times that holds none of the failing spans: nothing is selected.
    let q = format!(
        r#"{{ resource.service.name = "cart" }} | compare({{ status = error }}, 2, {}, {})"#,
        T0 + 40 * S,
        T0 + 60 * S
    );
    let out = c.metrics(&q).await;
    assert!(
        out.iter().all(|s| s.labels[0].1 != s_meta("selection")),
        "{out:?}"
    );
    let found = find(&out, &[meta("baseline"), ("name", s("SELECT carts"))]);
    assert_eq!(
        found.map(|s| s.points.iter().map(|p| p.1).collect::<Vec<_>>()),
        Some(vec![0.0, 0.0, 1.0, 0.0, 0.0, 2.0, 0.0])
    );

    // Tempo's argument checks.
    for (q, says) in [
        ("{ } | compare({ status = error }, 0)", "greater than 0"),
        (
            "{ } | compare({ status = error }, 2, 5, 3)",
            "end timestamp must be greater",
        ),
        (
            "{ } | compare({ status = error }, 2, 5)",
            "optionally a start and an end",
        ),
        ("{ } | compare(status = error)", "`{`"),
    ] {
        let e = parse(q).expect_err(q).to_string();
        assert!(e.contains(says), "{q}: {e}");
    }
}

fn s_meta(group: &str) -> Value {
    Value::Str(group.into())
}

/// Arithmetic between metrics queries (Tempo's metrics math): the failing share of spans
/// per step, overall and per service; series paired by labels, an unlabelled side paired
/// with every series, division by 0 left out.
#[tokio::test]
async fn arithmetic_between_metrics_queries() {
    let c = Corpus::new();
    // Spans per step: [0, 1, 5, 5, 3, 4, 0]; failing ones (a3, a4; c1; c2): [0, 0, 2, 1, 1, 0, 0].
    let share = c
        .metrics("({ status = error } | count_over_time()) / ({ } | count_over_time())")
        .await;
    assert_eq!(share.len(), 1, "{share:?}");
    assert_eq!(
        share[0].labels,
        vec![(
            "__name__".to_owned(),
            Value::Str("(count_over_time / count_over_time)".into())
        )]
    );
    let t = times();
    assert_eq!(
        share[0].points,
        vec![
            (t[1], 0.0),
            (t[2], 0.4),
            (t[3], 0.2),
            (t[4], 1.0 / 3.0),
            (t[5], 0.0)
        ]
    );
    // Per service over the total; the names go (one side has none).
    let per = sorted(
        c.metrics(
            "({ status = error } | count_over_time() by (resource.service.name)) \
             / ({ } | count_over_time())",
        )
        .await,
    );
    let labels: Vec<_> = per.iter().map(|s| s.labels.clone()).collect();
    assert_eq!(
        labels,
        vec![vec![svc_owned("cart")], vec![svc_owned("checkout")]],
        "{per:?}"
    );
    assert_eq!(per[0].points[1], (t[2], 0.4));
    // Sums, differences and products; parentheses nest; `*` before `-`.
    let diff = c
        .metrics(
            "({ } | count_over_time()) - ({ status = error } | count_over_time()) \
             * (({ } | count_over_time()) / ({ } | count_over_time()))",
        )
        .await;
    let values: Vec<f64> = diff[0].points.iter().map(|p| p.1).collect();
    assert_eq!(values, vec![0.0, 1.0, 3.0, 4.0, 2.0, 4.0, 0.0], "{diff:?}");
    // Only +, -, * and / between metrics queries.
    for (q, says) in [
        (
            "({ } | rate()) % ({ } | rate())",
            "unsupported math operation",
        ),
        ("({ } | rate()) / ({ })", "between metrics queries"),
        ("({ } | rate()) / ", "`(`"),
    ] {
        let e = parse(q).expect_err(q).to_string();
        assert!(e.contains(says), "{q}: {e}");
    }
    // A parenthesized pipeline is still a spanset, not arithmetic.
    assert!(
        !parse("({ } | count() > 1) && { }")
            .expect("parse")
            .is_metrics()
    );
}

fn svc_owned(s: &str) -> (String, Value) {
    ("resource.service.name".to_owned(), Value::Str(s.into()))
}
