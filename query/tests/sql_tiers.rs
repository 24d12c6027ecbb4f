//! SQL over downsampled tiers: each tier is a table of its own (`samples_5m`, ...) whose
//! rows add up to the raw samples they summarise (the values the files leave out derived
//! again), and joins with `series` by id.

use std::sync::Arc;
use std::time::Duration;

use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int64Type, UInt64Type};
use strata_engine::{
    Downsampling, Engine, EngineConfig, Limits, ManualClock, Sample, SeriesSamples, TenantId,
};
use strata_query::sql::{SqlConfig, run_sql, tenant_session};

const D: i64 = 86_400_000;
/// 2025-11-21T00:00:00Z
const DAY0: i64 = 1_763_683_200_000;

fn config(tiers: bool) -> EngineConfig {
    EngineConfig {
        limits: Limits {
            ingest_rate: 1e9,
            ingest_burst: 1e9,
            downsampling: if tiers {
                vec![Downsampling {
                    matchers: Vec::new(),
                    after: Duration::from_secs(86_400),
                    resolution: Duration::from_secs(300),
                }]
            } else {
                Vec::new()
            },
            ..Limits::default()
        },
        ..EngineConfig::default()
    }
}

fn data() -> Vec<SeriesSamples> {
    (0..5i64)
        .map(|s| SeriesSamples {
            labels: vec![
                ("__name__".into(), if s < 3 { "a" } else { "b" }.into()),
                ("s".into(), s.to_string()),
            ],
            // Day 0 only, starting after its first second: every sample in day 0's tier.
            samples: (1..5760)
                .map(|k| Sample {
                    ts: DAY0 + k * 15_000,
                    value: ((k * 7 + s) % 23) as f64 + 0.5,
                })
                .collect(),
        })
        .collect()
}

async fn sql(engine: &Arc<Engine>, q: &str) -> Vec<RecordBatch> {
    let config = SqlConfig::for_tests();
    let ctx = tenant_session(engine.clone(), &TenantId::new("acme").unwrap(), &config).unwrap();
    run_sql(&ctx, q, &config).await.unwrap()
}

fn f64_at(b: &[RecordBatch], col: usize) -> f64 {
    let c = b[0].column(col);
    match c.as_primitive_opt::<Float64Type>() {
        Some(a) => a.value(0),
        None => match c.as_primitive_opt::<Int64Type>() {
            Some(a) => a.value(0) as f64,
            None => c.as_primitive::<UInt64Type>().value(0) as f64,
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tier_table_adds_up_to_the_raw_samples() {
    let (dir, refdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let t = TenantId::new("acme").unwrap();
    let clock = Arc::new(ManualClock::new(DAY0 + D + 60_000));
    let tiered = Engine::open_with_clock(dir.path(), config(true), clock.clone()).unwrap();
    let raw = Engine::open_with_clock(refdir.path(), config(false), clock.clone()).unwrap();
    for e in [&tiered, &raw] {
        e.write(&t, &data()).unwrap();
        e.flush().unwrap();
    }
    clock.set(DAY0 + 2 * D);
    assert_eq!(tiered.downsample().unwrap().days, 1);
    let (tiered, raw) = (Arc::new(tiered), Arc::new(raw));

    let got = sql(
        &tiered,
        "SELECT count(*), sum(count), sum(sum), min(min), max(max) FROM samples_5m",
    )
    .await;
    let want = sql(
        &raw,
        "SELECT count(*) AS a, count(*) AS b, sum(value), min(value), max(value) FROM samples",
    )
    .await;
    assert_eq!(
        f64_at(&got, 0),
        5.0 * 288.0,
        "one row per series and 5 minutes"
    );
    for c in 1..5 {
        let (g, w) = (f64_at(&got, c), f64_at(&want, c));
        assert!(
            (g - w).abs() <= 1e-9 * w.abs(),
            "column {c}: {g} against {w}"
        );
    }
    // The files leave derivable values out; the table derives them: no row has a null.
    let nulls = sql(
        &tiered,
        "SELECT count(*) FROM samples_5m WHERE first IS NULL OR min IS NULL OR max IS NULL OR sum IS NULL",
    )
    .await;
    assert_eq!(f64_at(&nulls, 0), 0.0);
    // The raw samples are gone from `samples`; the tier keeps the series' labels.
    let left = sql(&tiered, "SELECT count(*) FROM samples").await;
    assert_eq!(f64_at(&left, 0), 0.0);
    let q = "SELECT s.metric, sum(t.count) AS n FROM samples_5m t JOIN series s \
             ON t.series_id = s.series_id GROUP BY s.metric ORDER BY s.metric";
    let by_metric = sql(&tiered, q).await;
    let metric = by_metric[0].column(0);
    let metric =
        datafusion::arrow::compute::cast(metric, &datafusion::arrow::datatypes::DataType::Utf8)
            .unwrap();
    let metric = metric.as_string::<i32>();
    let n = by_metric[0].column(1).as_primitive::<UInt64Type>();
    assert_eq!(metric.len(), 2);
    assert_eq!((metric.value(0), n.value(0)), ("a", 3 * 5759));
    assert_eq!((metric.value(1), n.value(1)), ("b", 2 * 5759));
    // A time filter prunes: rows whose last sample is in the first hour.
    let first_hour = sql(
        &tiered,
        &format!(
            "SELECT count(*) FROM samples_5m WHERE ts <= to_timestamp_millis({})",
            DAY0 + 3_600_000
        ),
    )
    .await;
    assert_eq!(f64_at(&first_hour, 0), 5.0 * 12.0);
}
