//! PromQL over downsampled tiers, against the same data kept raw: `rate`, `increase` and
//! the `*_over_time` aggregations over windows aligned to the resolution give the raw
//! answers (1h and 5m tiers, counters with resets); short windows and instant selectors
//! still answer where raw data did; the response says the data was downsampled.

use std::sync::Arc;
use std::time::Duration;

use strata_engine::{
    Downsampling, Engine, EngineConfig, Limits, ManualClock, Sample, SeriesSamples, TenantId,
};
use strata_query::promql::{EngineSource, PromqlEngine, QueryOptions, QueryResult, Value};

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const D: i64 = 86_400_000;
/// 2025-11-21T00:00:00Z
const DAY0: i64 = 1_763_683_200_000;

fn config(tiers: bool) -> EngineConfig {
    let tier = |days: u64, secs: u64| Downsampling {
        matchers: Vec::new(),
        after: Duration::from_secs(days * 86_400),
        resolution: Duration::from_secs(secs),
    };
    EngineConfig {
        limits: Limits {
            ingest_rate: 1e9,
            ingest_burst: 1e9,
            metrics_retention: Duration::from_secs(30 * 86_400),
            downsampling: if tiers {
                vec![tier(2, 300), tier(3, 3_600)]
            } else {
                Vec::new()
            },
            ..Limits::default()
        },
        ..EngineConfig::default()
    }
}

/// A day of 6 counters (15 s, offsets 0-5 s, resets every 701 samples, uneven increments)
/// and 6 gauges.
fn day(d: i64) -> Vec<SeriesSamples> {
    let mut out = Vec::new();
    for s in 0..6i64 {
        let ts: Vec<i64> = (0..5760)
            .map(|k| DAY0 + d * D + s * 1000 + k * 15_000)
            .collect();
        let k = |t: i64| (t - DAY0) / 15_000;
        let counter = |t: i64| {
            let n = k(t) % 701;
            (n * (s + 2) + (n * n * 7919 % 13)) as f64
        };
        out.push(SeriesSamples {
            labels: vec![
                ("__name__".into(), "req_total".into()),
                ("s".into(), s.to_string()),
            ],
            samples: ts
                .iter()
                .map(|&t| Sample {
                    ts: t,
                    value: counter(t),
                })
                .collect(),
        });
        out.push(SeriesSamples {
            labels: vec![
                ("__name__".into(), "temp".into()),
                ("s".into(), s.to_string()),
            ],
            samples: ts
                .iter()
                .map(|&t| Sample {
                    ts: t,
                    value: 20.0 + ((k(t) * 31 + s) % 17) as f64 * 0.25,
                })
                .collect(),
        });
    }
    out
}

fn run(
    promql: &PromqlEngine,
    e: &Engine,
    t: &TenantId,
    q: &str,
    (start, end, step): (i64, i64, i64),
) -> QueryResult {
    promql
        .range(&EngineSource::new(e, t), q, start, end, step)
        .unwrap()
}

fn matrix(r: &QueryResult) -> Vec<(String, Vec<(i64, f64)>)> {
    match &r.value {
        Value::Matrix(m) => m
            .iter()
            .map(|s| (s.labels.to_string(), s.points.clone()))
            .collect(),
        other => panic!("not a matrix: {other:?}"),
    }
}

/// The largest relative difference between two answers of the same shape.
fn worst(raw: &QueryResult, tiered: &QueryResult, q: &str) -> f64 {
    let (a, b) = (matrix(raw), matrix(tiered));
    assert_eq!(a.len(), b.len(), "{q}: series");
    let mut worst = 0.0f64;
    for ((la, pa), (lb, pb)) in a.iter().zip(&b) {
        assert_eq!(la, lb, "{q}");
        let ta: Vec<i64> = pa.iter().map(|p| p.0).collect();
        let tb: Vec<i64> = pb.iter().map(|p| p.0).collect();
        assert_eq!(ta, tb, "{q} {la}: the same steps answer");
        for (x, y) in pa.iter().zip(pb) {
            worst = worst.max((x.1 - y.1).abs() / x.1.abs().max(1e-12));
        }
    }
    worst
}

#[test]
fn aligned_windows_over_tiers_answer_as_the_raw_data() {
    let (dir, refdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let t = TenantId::new("acme").unwrap();
    let clock = Arc::new(ManualClock::new(DAY0 + 3 * D));
    let tiered = Engine::open_with_clock(dir.path(), config(true), clock.clone()).unwrap();
    let raw = Engine::open_with_clock(refdir.path(), config(false), clock.clone()).unwrap();
    for d in 0..3 {
        let batch = day(d);
        for e in [&tiered, &raw] {
            e.write(&t, &batch).unwrap();
            e.flush().unwrap();
        }
    }
    // Day 0 into 1h, day 1 into 5m, day 2 stays raw.
    clock.set(DAY0 + 4 * D);
    tiered.downsample().unwrap();
    let promql = PromqlEngine::new(QueryOptions::default());
    let h1 = (DAY0 + 4 * HOUR, DAY0 + 23 * HOUR, HOUR);
    let m5 = (DAY0 + D + HOUR, DAY0 + 2 * D - HOUR, 5 * MIN);
    let mut cases = Vec::new();
    for (grid, windows) in [(h1, ["4h", "12h"]), (m5, ["20m", "1h"])] {
        for w in windows {
            for f in ["rate", "increase"] {
                cases.push((format!("{f}(req_total[{w}])"), grid));
            }
            for f in ["sum", "count", "avg", "min", "max", "last"] {
                cases.push((format!("{f}_over_time(temp[{w}])"), grid));
                cases.push((format!("{f}_over_time(req_total[{w}])"), grid));
            }
            cases.push((format!("sum(rate(req_total[{w}]))"), grid));
        }
    }
    for (q, grid) in &cases {
        let (a, b) = (
            run(&promql, &raw, &t, q, *grid),
            run(&promql, &tiered, &t, q, *grid),
        );
        let w = worst(&a, &b, q);
        assert!(w < 1e-9, "{q}: off by {w}");
        assert!(
            b.infos.iter().any(|i| i.contains("downsampled")),
            "{q}: {:?}",
            b.infos
        );
        assert!(a.infos.is_empty(), "{q}: raw data is not downsampled");
    }
    // Shorter windows and instant selectors still answer at every step raw data did,
    // from the first step on, on grids aligned with the resolution or not.
    let odd = (
        DAY0 + 4 * HOUR + 7 * MIN + 13_000,
        DAY0 + 23 * HOUR,
        7 * MIN,
    );
    for q in [
        "rate(req_total[1m])",
        "req_total",
        "max_over_time(temp[30s])",
    ] {
        for grid in [h1, m5, odd] {
            let (a, b) = (
                run(&promql, &raw, &t, q, grid),
                run(&promql, &tiered, &t, q, grid),
            );
            let (a, b) = (matrix(&a), matrix(&b));
            assert_eq!(a.len(), b.len(), "{q}");
            for ((la, pa), (_, pb)) in a.iter().zip(&b) {
                assert_eq!(pa.len(), pb.len(), "{q} {la}: no step left empty");
            }
        }
    }
}
