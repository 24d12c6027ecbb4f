//! PromQL query limits fail with Prometheus's messages instead of running away.

use std::time::Duration;

use strata_query::promql::{
    Error, LabelMatcher, Labels, PromqlEngine, QueryOptions, Result, SeriesSource, SourceSeries,
};

/// 100 series with a sample every 10 s for an hour.
struct Grid;

impl SeriesSource for Grid {
    fn select(&self, _: &[LabelMatcher], start: i64, end: i64) -> Result<Vec<SourceSeries>> {
        Ok((0..100)
            .map(|i| SourceSeries {
                block: None,
                intervals: Vec::new(),
                labels: Labels::from_pairs([("__name__", "m".to_string()), ("i", i.to_string())]),
                samples: (0..=360)
                    .map(|k| (k * 10_000, k as f64))
                    .filter(|(t, _)| *t >= start && *t <= end)
                    .collect(),
                histograms: Vec::new(),
            })
            .collect())
    }
}

#[test]
fn too_many_points_per_series() {
    let promql = PromqlEngine::new(QueryOptions::default());
    let err = promql.range(&Grid, "m", 0, 11_001_000, 1_000).unwrap_err();
    assert!(matches!(err, Error::TooManyPoints));
    assert!(
        err.to_string()
            .starts_with("exceeded maximum resolution of 11,000 points")
    );
    // 11,000 steps exactly is allowed.
    assert!(promql.range(&Grid, "m", 0, 11_000_000, 1_000).is_ok());
}

#[test]
fn too_many_samples() {
    let promql = PromqlEngine::new(QueryOptions {
        max_samples: 1_000,
        ..QueryOptions::default()
    });
    // 100 series x 31 samples in a 5 m range = 3,100 samples at once.
    let err = promql
        .instant(&Grid, "sum(rate(m[5m]))", 3_600_000)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "query processing would load too many samples into memory in query execution"
    );
    // 100 samples (one per series) fit.
    assert!(promql.instant(&Grid, "sum(m)", 3_600_000).is_ok());
}

#[test]
fn timeout() {
    let promql = PromqlEngine::new(QueryOptions {
        timeout: Duration::ZERO,
        ..QueryOptions::default()
    });
    std::thread::sleep(Duration::from_millis(2));
    let err = promql.range(&Grid, "m", 0, 3_600_000, 10_000).unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err}");
}

#[test]
fn bad_queries_are_client_errors() {
    let promql = PromqlEngine::new(QueryOptions::default());
    assert!(matches!(
        promql.instant(&Grid, "sum(", 0),
        Err(Error::Parse(_))
    ));
    assert!(matches!(
        promql.range(&Grid, "m[5m]", 0, 60_000, 1_000),
        Err(Error::Parse(_))
    ));
    assert!(matches!(
        promql.range(&Grid, "m", 0, 60_000, 0),
        Err(Error::Parse(_))
    ));
}
