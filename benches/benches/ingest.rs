//! Criterion benchmark of ingest through the embedded API with durable acks: `Engine::write`
//! with the default WAL durability (`Fsync`: a write returns after the fdatasync covering it),
//! scrape-like batches of 1,000 series × 1 sample, from 1 to 16 concurrent writers, each
//! writer its own 1,000 series. Default flush thresholds, so the background flusher writes
//! Parquet during the run as it would in service; tenant limits are raised out of the way.
//! Results in `docs/benchmarks.md`. Run with
//! `cargo bench -p strata-benches --bench ingest`.

use std::sync::Arc;
use std::time::Duration;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use strata_benches::{BASE_TS, bench_config, ingest};
use strata_engine::{Engine, TenantId};

/// Series per batch (and per writer).
const SERIES: usize = 1_000;

fn ingest_fsync(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine_ingest/fsync");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(8))
        .sampling_mode(SamplingMode::Flat);
    let tenant = TenantId::new("bench").expect("valid tenant");
    for writers in [1usize, 2, 4, 8, 16] {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = Arc::new(Engine::open(dir.path(), bench_config()).expect("open engine"));
        // Each writer's series advance 10 ms per batch, across all of criterion's calls.
        let mut next_batch = 0u64;
        g.throughput(Throughput::Elements((writers * SERIES) as u64));
        g.bench_function(
            BenchmarkId::new(format!("{writers}x{SERIES}"), "1sample"),
            |b| {
                b.iter_custom(|iters| {
                    let ts0 = BASE_TS + next_batch as i64 * 10;
                    next_batch += iters;
                    let run = ingest(&engine, &tenant, writers, 0, SERIES, iters, ts0, 10);
                    assert_eq!(run.accepted, iters * (writers * SERIES) as u64);
                    run.elapsed
                });
            },
        );
        drop(Arc::try_unwrap(engine).map(Engine::close));
    }
    g.finish();
}

criterion_group!(benches, ingest_fsync);
criterion_main!(benches);
