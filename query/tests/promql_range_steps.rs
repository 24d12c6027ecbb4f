//! A range query answers at each step what an instant query at that time answers, also
//! where the evaluator reuses work between steps (an aggregation's grouping, a range
//! function's table, settled names) and the series present change from step to step.

use strata_query::promql::{
    LabelMatcher, Labels, PromqlEngine, QueryOptions, Result, SeriesSource, SourceSeries, Value,
};

const MIN: i64 = 60_000;

/// `x{job, i}` for `i` in 0..8: series `i` has a sample every 15 s from `10·i` to
/// `10·i + 30` minutes, so series come and go along the range; `job` is `a` for even `i`.
struct Churn;

impl SeriesSource for Churn {
    fn select(&self, matchers: &[LabelMatcher], start: i64, end: i64) -> Result<Vec<SourceSeries>> {
        let all = (0..8i64).map(|i| {
            let job = if i % 2 == 0 { "a" } else { "b" };
            SourceSeries {
                block: None,
                intervals: Vec::new(),
                labels: Labels::from_pairs([
                    ("__name__", "x_total".to_owned()),
                    ("i", i.to_string()),
                    ("job", job.to_owned()),
                ]),
                samples: (0..=120)
                    .map(|k| (10 * i * MIN + k * 15_000, (1_000 * i + k) as f64))
                    .filter(|(t, _)| *t >= start && *t <= end)
                    .collect(),
                histograms: Vec::new(),
            }
        });
        Ok(all
            .filter(|s| matchers.iter().all(|m| s.labels.get(&m.name) == m.value))
            .collect())
    }
}

#[test]
fn every_step_of_a_range_query_equals_the_instant_query_there() {
    let promql = PromqlEngine::new(QueryOptions::default());
    let queries = [
        "sum by (job) (x_total)",
        "count by (job) (x_total)",
        "max(x_total)",
        "avg by (job) (rate(x_total[5m]))",
        "sum without (i) (rate(x_total[5m])) * 2",
        "count(count by (job) (x_total))",
        "max_over_time(sum by (job) (x_total)[10m:1m])",
    ];
    for q in queries {
        let range = promql.range(&Churn, q, 0, 130 * MIN, MIN).unwrap();
        let Value::Matrix(series) = range.value else {
            panic!("{q}: not a matrix");
        };
        let mut steps = 0;
        for t in (0..=130 * MIN).step_by(MIN as usize) {
            let instant = promql.instant(&Churn, q, t).unwrap();
            let Value::Vector(mut want) = instant.value else {
                panic!("{q}: not a vector");
            };
            want.sort_by(|a, b| a.labels.cmp(&b.labels));
            let mut got: Vec<(Labels, f64)> = series
                .iter()
                .filter_map(|s| {
                    let p = s.points.iter().find(|p| p.0 == t)?;
                    Some((s.labels.clone(), p.1))
                })
                .collect();
            got.sort_by(|a, b| a.0.cmp(&b.0));
            let want: Vec<(Labels, f64)> = want.into_iter().map(|s| (s.labels, s.value)).collect();
            assert_eq!(got, want, "{q} at {t}");
            steps += usize::from(!got.is_empty());
        }
        assert!(steps > 60, "{q}: only {steps} steps with output");
    }
}
