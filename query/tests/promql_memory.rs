//! PromQL under a memory budget, over the real engine: a query's selectors stop reading
//! once what they gathered would put the query over its share, and the query is refused
//! with the error naming the limit; a query within its share answers as it would with no
//! budget, step by step when a range function's table would not fit.

use std::time::Duration;

use strata_engine::{Engine, EngineConfig, Limits, Sample, SeriesSamples, TenantId};
use strata_query::memory::{QueryBudget, QueryMemory};
use strata_query::promql::{EngineSource, Error, PromqlEngine, QueryOptions, Result, Value};

const HOUR: i64 = 3_600_000;
/// 2025-11-21T00:00:00Z
const DAY: i64 = 1_763_683_200_000;

/// An engine holding 200 counters, one sample every 15 s for 6 h: five hours flushed hour
/// by hour to Parquet (five file sets), the last one in memory.
fn engine(dir: &std::path::Path) -> (Engine, TenantId) {
    let config = EngineConfig {
        limits: Limits {
            ingest_rate: 1e9,
            ingest_burst: 1e9,
            metrics_retention: Duration::from_secs(3650 * 86_400),
            ..Limits::default()
        },
        page_cache_bytes: 256 << 20,
        ..EngineConfig::default()
    };
    let engine = Engine::open(dir, config).expect("open");
    let t = TenantId::new("acme").expect("tenant");
    for h in 0..6i64 {
        let batch: Vec<SeriesSamples> = (0..200i64)
            .map(|s| SeriesSamples {
                labels: vec![
                    ("__name__".into(), "req_total".into()),
                    ("instance".into(), format!("host-{s:03}")),
                    ("job".into(), format!("job-{}", s % 3)),
                ],
                samples: (0..240)
                    .map(|i| Sample {
                        ts: DAY + h * HOUR + i * 15_000,
                        value: ((h * 240 + i) * (s + 1)) as f64,
                    })
                    .collect(),
            })
            .collect();
        assert_eq!(engine.write(&t, &batch).expect("write").accepted, 48_000);
        if h < 5 {
            engine.flush().expect("flush");
        }
    }
    (engine, t)
}

fn range(promql: &PromqlEngine, engine: &Engine, t: &TenantId, q: &str) -> Result<Value> {
    let src = EngineSource::new(engine, t);
    promql
        .range(&src, q, DAY + HOUR, DAY + 6 * HOUR - 15_000, 60_000)
        .map(|r| r.value)
}

#[test]
fn a_query_within_its_share_answers_as_without_a_budget() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, t) = engine(dir.path());
    for q in [
        "sum by (job) (rate(req_total[5m]))",
        "req_total",
        "max_over_time(req_total[3h])",
        "quantile_over_time(0.9, req_total[10m])",
    ] {
        let plain = range(&PromqlEngine::new(QueryOptions::default()), &engine, &t, q).expect(q);
        // 256 MiB: everything fits, range functions use their tables. 8 MiB: the samples
        // (200 x 1,440 x 16 bytes, 4.6 MB) fit, a table (200 x 300 steps x 32 bytes) does
        // not fit in half of what is left: those calls run step by step.
        for share in [256 << 20, 8 << 20] {
            let budget = QueryBudget::standalone(share);
            let promql = PromqlEngine::new(QueryOptions::default()).with_memory(budget.clone());
            assert_eq!(
                range(&promql, &engine, &t, q).expect(q),
                plain,
                "{q} at {share}"
            );
            assert_eq!(budget.used(), 0, "{q}: everything given back");
        }
    }
}

#[test]
fn a_query_over_its_share_is_refused_having_read_about_its_share() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (engine, t) = engine(dir.path());
    let q = "sum(rate(req_total[5m]))";
    let pool = QueryMemory::new(512 << 10, 512 << 10);
    let promql = PromqlEngine::new(QueryOptions::default()).with_memory(pool.query());
    let err = range(&promql, &engine, &t, q).expect_err("over 512 KiB");
    assert!(matches!(err, Error::OverMemory(_)), "{err}");
    assert!(err.to_string().contains("server.memory_limit"), "{err}");
    assert_eq!(pool.used(), 0, "everything given back");
    assert_eq!(pool.refused(), 1);
    // The read stopped about 512 KiB in, within the first of the four file sets the window
    // meets: the pages it decoded are a small part of those a whole read decodes (the page
    // cache keeps both).
    let after_refusal = engine.page_cache_used();
    range(&PromqlEngine::new(QueryOptions::default()), &engine, &t, q).expect(q);
    let after_all = engine.page_cache_used();
    assert!(
        after_refusal * 3 < after_all,
        "{after_refusal} bytes of pages decoded before the refusal, {after_all} by a whole read"
    );
}
