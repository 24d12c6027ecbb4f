//! Native histograms through the PromQL evaluator: instant and range selection, staleness,
//! the histogram functions, and the drop of histograms by float-only functions.

use std::sync::Arc;

use strata_query::promql::native::{FloatHistogram, Span};
use strata_query::promql::{
    LabelMatcher, Labels, MatchOp, PromqlEngine, QueryOptions, Result, STALE_NAN_BITS,
    SeriesSource, SourceSeries, Value,
};

struct Fixed(Vec<SourceSeries>);

impl SeriesSource for Fixed {
    fn select(&self, m: &[LabelMatcher], _: i64, _: i64) -> Result<Vec<SourceSeries>> {
        let name = m
            .iter()
            .find(|m| m.name == "__name__" && m.op == MatchOp::Equal)
            .map(|m| m.value.clone());
        Ok(self
            .0
            .iter()
            .filter(|s| name.as_deref().is_none_or(|n| s.labels.name() == n))
            .cloned()
            .collect())
    }
}

/// A histogram of `count` observations, all in the bucket (1, 2].
fn h(count: f64, sum: f64) -> Arc<FloatHistogram> {
    Arc::new(FloatHistogram {
        count,
        sum,
        positive_spans: vec![Span {
            offset: 1,
            length: 1,
        }],
        positive: vec![count],
        ..FloatHistogram::default()
    })
}

fn source() -> Fixed {
    let labels = |n: &str| Labels::from_pairs([("__name__", n)]);
    Fixed(vec![
        // Histograms every 10 s from 0 to 60 s, counting up by 10.
        SourceSeries {
            block: None,
            intervals: Vec::new(),
            labels: labels("hist"),
            samples: Vec::new(),
            histograms: (0..=6)
                .map(|i| (i * 10_000, h(i as f64 * 10.0, i as f64 * 15.0)))
                .collect(),
        },
        // A float at 0 s, a histogram at 10 s, a stale histogram at 20 s.
        SourceSeries {
            block: None,
            intervals: Vec::new(),
            labels: labels("mixed"),
            samples: vec![(0, 5.0)],
            histograms: vec![
                (10_000, h(3.0, 4.0)),
                (
                    20_000,
                    Arc::new(FloatHistogram {
                        sum: f64::from_bits(STALE_NAN_BITS),
                        ..FloatHistogram::default()
                    }),
                ),
            ],
        },
    ])
}

fn instant(q: &str, t: i64) -> Value {
    PromqlEngine::new(QueryOptions::default())
        .instant(&source(), q, t)
        .unwrap_or_else(|e| panic!("{q}: {e}"))
        .value
}

fn floats(v: Value) -> Vec<f64> {
    match v {
        Value::Vector(v) => v.iter().map(|s| s.value).collect(),
        other => panic!("not a vector: {other:?}"),
    }
}

#[test]
fn selectors_pick_the_newest_sample_of_either_kind() {
    // At 5 s the float is the newest sample; at 15 s the histogram.
    let Value::Vector(v) = instant("mixed", 5_000) else {
        panic!()
    };
    assert_eq!((v[0].value, v[0].h.is_none()), (5.0, true));
    let Value::Vector(v) = instant("mixed", 15_000) else {
        panic!()
    };
    assert_eq!(v[0].h.as_ref().map(|h| h.count), Some(3.0));
    // The stale histogram at 20 s ends the series.
    assert!(floats(instant("mixed", 25_000)).is_empty());
    // A range window carries both kinds, stale markers left out.
    let Value::Matrix(m) = instant("mixed[1m]", 30_000) else {
        panic!()
    };
    assert_eq!(m[0].points, vec![(0, 5.0)]);
    assert_eq!(m[0].hpoints.len(), 1);
    assert_eq!(
        floats(instant("count_over_time(mixed[1m])", 30_000)),
        vec![2.0]
    );
}

#[test]
fn histogram_functions_read_native_histograms() {
    // At 60 s: 60 observations summing to 90, all in (1, 2].
    assert_eq!(floats(instant("histogram_count(hist)", 60_000)), vec![60.0]);
    assert_eq!(floats(instant("histogram_sum(hist)", 60_000)), vec![90.0]);
    assert_eq!(floats(instant("histogram_avg(hist)", 60_000)), vec![1.5]);
    assert_eq!(
        floats(instant("histogram_fraction(0, 2, hist)", 60_000)),
        vec![1.0]
    );
    // The median of observations spread evenly on a log scale over (1, 2]: sqrt(2).
    let q = floats(instant("histogram_quantile(0.5, hist)", 60_000))[0];
    assert!((q - 2f64.sqrt()).abs() < 1e-12, "{q}");
    // Float-only functions leave histograms out; `timestamp` keeps them.
    assert!(floats(instant("abs(hist)", 60_000)).is_empty());
    assert_eq!(floats(instant("timestamp(hist)", 60_000)), vec![60.0]);
}

#[test]
fn rates_and_sums_of_histograms_are_histograms() {
    // 10 observations per 10 s: a rate of 1/s over a window covering the whole range.
    let Value::Vector(v) = instant("rate(hist[1m])", 60_000) else {
        panic!()
    };
    let r = v[0].h.as_ref().expect("a histogram");
    assert!((r.count - 1.0).abs() < 1e-9, "{}", r.count);
    assert_eq!(
        floats(instant("histogram_count(sum(hist) * 2)", 60_000)),
        vec![120.0]
    );
    // A float and a histogram in one aggregation: a warning and no result.
    let res = PromqlEngine::new(QueryOptions::default())
        .instant(&source(), "sum({__name__=~\".+\"})", 5_000)
        .unwrap();
    assert_eq!(res.value, Value::Vector(Vec::new()));
    assert_eq!(
        res.warnings,
        vec!["PromQL warning: encountered a mix of histograms and floats for aggregation (1:5)"]
    );
}
