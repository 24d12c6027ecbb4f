//! The PromQL fuzz harness: parse and evaluate any input on a small fixed dataset.
//!
//! Shared by the cargo-fuzz target `fuzz/fuzz_targets/promql_eval.rs` and the corpus replay
//! test `query/tests/fuzz_promql.rs` (both include this file with `#[path]`), so CI runs
//! exactly what the fuzzer runs. The contract: no input panics, and every query either
//! errors or returns within its limits (a small sample budget and timeout, so absurd
//! queries such as `x[100y:1ms]` fail with Prometheus's limit error instead of exhausting
//! memory).

use std::time::Duration;

use strata_engine::Matcher;
use strata_query::promql::Labels;
use strata_query::promql::{
    LabelMatcher, PromqlEngine, QueryOptions, Result, SeriesSource, SourceSeries, Value,
};

/// An in-memory [`SeriesSource`]: a fixed set of series, filtered with the engine's own
/// matchers (the storage side is fuzzed separately; this target is about the evaluator).
pub(crate) struct FixedSource {
    series: Vec<SourceSeries>,
}

impl FixedSource {
    /// Counters, gauges, classic histogram buckets, a staleness marker, NaN and ±Inf, one
    /// sample a minute for two hours.
    pub(crate) fn new() -> Self {
        let stale = f64::from_bits(0x7ff0_0000_0000_0002);
        let mut series = Vec::new();
        let mut add = |pairs: &[(&str, &str)], f: &dyn Fn(i64) -> f64| {
            let samples = (0..=120).map(|i| (i * 60_000, f(i))).collect();
            series.push(SourceSeries {
                block: None,
                intervals: Vec::new(),
                labels: Labels::from_pairs(pairs.iter().copied()),
                samples,
                histograms: Vec::new(),
            });
        };
        for (job, k) in [("api", 1.0), ("db", 3.0)] {
            for inst in ["a", "b"] {
                let pairs = [
                    ("__name__", "http_requests_total"),
                    ("job", job),
                    ("instance", inst),
                ];
                // A counter with a reset half way.
                add(&pairs, &|i| {
                    if i < 60 {
                        k * i as f64
                    } else {
                        k * (i - 60) as f64
                    }
                });
                let pairs = [
                    ("__name__", "temperature"),
                    ("job", job),
                    ("instance", inst),
                ];
                add(&pairs, &|i| (i as f64 / 7.0).sin() * k);
            }
            for le in ["0.1", "0.5", "1", "+Inf"] {
                let bound: f64 = if le == "+Inf" {
                    1.5
                } else {
                    le.parse().unwrap_or(1.0)
                };
                let pairs = [
                    ("__name__", "latency_seconds_bucket"),
                    ("job", job),
                    ("le", le),
                ];
                add(&pairs, &|i| (i as f64 * bound * k).floor());
            }
        }
        add(&[("__name__", "odd"), ("kind", "nan")], &|_| f64::NAN);
        add(&[("__name__", "odd"), ("kind", "inf")], &|i| {
            if i % 2 == 0 {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            }
        });
        add(&[("__name__", "odd"), ("kind", "stale")], &|i| {
            if i % 10 == 9 { stale } else { i as f64 }
        });
        add(&[("__name__", "odd"), ("kind", "π\n\"quoted\"")], &|i| {
            -(i as f64)
        });
        Self { series }
    }
}

impl Default for FixedSource {
    fn default() -> Self {
        Self::new()
    }
}

impl SeriesSource for FixedSource {
    fn select(
        &self,
        matchers: &[LabelMatcher],
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Vec<SourceSeries>> {
        let mut ms = Vec::with_capacity(matchers.len());
        for m in matchers {
            match Matcher::new(&m.name, m.op, &m.value) {
                Ok(m) => ms.push(m),
                Err(e) => return Err(strata_query::promql::Error::Execution(e.to_string())),
            }
        }
        let mut out = Vec::new();
        for s in &self.series {
            if ms.iter().all(|m| m.matches_value(s.labels.get(m.name()))) {
                let samples: Vec<_> = s
                    .samples
                    .iter()
                    .copied()
                    .filter(|(t, _)| (start_ms..=end_ms).contains(t))
                    .collect();
                if !samples.is_empty() {
                    out.push(SourceSeries {
                        block: None,
                        intervals: Vec::new(),
                        labels: s.labels.clone(),
                        samples,
                        histograms: Vec::new(),
                    });
                }
            }
        }
        Ok(out)
    }
}

/// Limits small enough that a fuzz iteration stays fast and small.
pub(crate) fn engine() -> PromqlEngine {
    PromqlEngine::new(QueryOptions {
        max_samples: 200_000,
        timeout: Duration::from_millis(250),
        ..QueryOptions::default()
    })
}

/// Runs one input: as an instant query at three times and as a range query over the
/// dataset. Panics (the fuzzer's signal) only when the evaluator breaks its contract.
pub(crate) fn check(promql: &PromqlEngine, source: &FixedSource, data: &[u8]) {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    if query.len() > 4096 {
        return;
    }
    for t in [0, 3_600_000, 7_200_000] {
        if let Ok(res) = promql.instant(source, query, t) {
            check_value(&res.value);
        }
    }
    if let Ok(res) = promql.range(source, query, 0, 7_200_000, 60_000) {
        match &res.value {
            Value::Matrix(m) => {
                for s in m {
                    assert!(
                        s.points.len() <= 121,
                        "a range query returned more steps than it has"
                    );
                    assert!(
                        s.points.windows(2).all(|w| w[0].0 < w[1].0),
                        "range query points out of order"
                    );
                }
            }
            other => panic!("a range query returned a {other:?}, not a matrix"),
        }
    }
}

fn check_value(v: &Value) {
    if let Value::Vector(samples) = v {
        let mut seen = std::collections::HashSet::new();
        for s in samples {
            assert!(
                seen.insert(&s.labels),
                "an instant vector repeats a label set"
            );
        }
    }
}
