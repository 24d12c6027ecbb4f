//! Overlapping file sets (two flushes of one open hour) are deduplicated by a streaming
//! merge: a query over more overlapping data than its whole memory budget runs, and the
//! older flush's value wins every shared (series, ts).

mod common;

use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use strata_engine::{Engine, EngineConfig, ManualClock, Sample, SeriesSamples};
use strata_query::sql::{SqlConfig, tenant_session};

use common::{T0, acme, run_in};

const SERIES: usize = 100;

/// Samples every second, `ks` seconds after T0, all with `value`, for every series.
fn write(engine: &Engine, ks: std::ops::Range<i64>, value: f64) {
    let batch: Vec<SeriesSamples> = (0..SERIES)
        .map(|s| SeriesSamples {
            labels: vec![
                ("__name__".into(), "load".into()),
                ("host".into(), format!("h{s}")),
            ],
            samples: ks
                .clone()
                .map(|k| Sample {
                    ts: T0 + k * 1000,
                    value,
                })
                .collect(),
        })
        .collect();
    let n = batch.iter().map(|s| s.samples.len()).sum::<usize>() as u64;
    let out = engine.write(&acme(), &batch).expect("write");
    assert_eq!(out.accepted, n, "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overlapping_flushes_stream_through_the_dedup_within_a_small_memory_budget() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clock = ManualClock::new(T0 + 3_600_000);
    let mut config = EngineConfig::default();
    config.limits.ingest_rate = 1e9;
    config.limits.ingest_burst = 1e9;
    let engine = Engine::open_with_clock(dir.path(), config, clock).expect("open");
    // Two flushes into the same hour; seconds 1000..2000 are in both.
    write(&engine, 0..2000, 1.0);
    engine.flush().expect("flush 1");
    write(&engine, 1000..3000, 2.0);
    engine.flush().expect("flush 2");
    let engine = std::sync::Arc::new(engine);

    // 400,000 rows of 24 bytes read through the dedup: well over the 2 MiB budget.
    let sql = SqlConfig {
        memory_pool_bytes: 2 << 20,
        ..SqlConfig::for_tests()
    };
    let ctx = tenant_session(engine.clone(), &acme(), &sql).expect("session");
    let (out, text, _) = run_in(&ctx, "SELECT count(*), sum(value) FROM samples").await;
    assert!(text.contains("DedupExec: sources=2"), "{text}");
    let count = out[0].column(0).as_primitive::<Int64Type>().value(0);
    let sum = out[0].column(1).as_primitive::<Float64Type>().value(0);
    let distinct = SERIES as i64 * 3000;
    assert_eq!(count, distinct);
    // Seconds 0..2000 from the first flush (1.0), 2000..3000 from the second (2.0).
    assert_eq!(sum, SERIES as f64 * (2000.0 * 1.0 + 1000.0 * 2.0));

    // Rows come out in (series_id, ts) order, each key once.
    let (out, _, _) = run_in(&ctx, "SELECT series_id, ts FROM samples").await;
    let mut keys = Vec::new();
    for b in &out {
        let ids = b
            .column(0)
            .as_primitive::<datafusion::arrow::datatypes::UInt64Type>();
        let ts = b
            .column(1)
            .as_primitive::<datafusion::arrow::datatypes::TimestampMillisecondType>();
        keys.extend((0..b.num_rows()).map(|i| (ids.value(i), ts.value(i))));
    }
    assert_eq!(keys.len() as i64, distinct);
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len() as i64, distinct, "no (series, ts) twice");
}
