//! Criterion benchmark of building a log flush's Arrow batches, per record: one full row
//! group (65,536 records) of the logs load of `otlp_decode` (one record per span of
//! `bench-spans load`: a text body, the span's attributes and ids, 11 resource
//! attributes), read by the server's own decoder, sorted into file order (service, time),
//! then built in batches of 8,192 rows (`strata_engine::flush_stages::logs_batch`). Run
//! with `cargo bench -p strata-benches --bench log_flush`; results in `docs/benchmarks.md`.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use prost::Message;
use strata_benches::span_gen::{Rng, logs_request, request, trace};
use strata_engine::LogRecord;
use strata_engine::flush_stages::{logs_batch, sort_logs};
use strata_server::decoders::otlp_logs_in_place;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Records per measured build: one full row group of a logs file.
const RECORDS: usize = 65_536;
/// Rows per Arrow batch the flush builds (`signal_flush::FLUSH_BATCH_ROWS`).
const BATCH_ROWS: usize = 8_192;
/// Traces per generated request, as `bench-spans load` sends them.
const TRACES_PER_REQUEST: usize = 57;

/// `RECORDS` log records in arrival order, request after request.
fn records() -> Vec<LogRecord> {
    let mut rng = Rng::new(5);
    let (mut out, mut t) = (Vec::with_capacity(RECORDS + 2_000), 0i64);
    let start = 1_795_000_000_000_000_000i64;
    while out.len() < RECORDS {
        let traces = (0..TRACES_PER_REQUEST)
            .map(|_| {
                t += 1;
                trace(&mut rng, start + t * 17_000_000)
            })
            .collect();
        let body = logs_request(&request(traces)).encode_to_vec();
        let batch = otlp_logs_in_place(&body).expect("the in-place reader takes the body");
        out.extend(batch.records);
    }
    out.truncate(RECORDS);
    out
}

fn log_flush(c: &mut Criterion) {
    let records = records();
    let mut rows: Vec<&LogRecord> = records.iter().collect();
    sort_logs(&mut rows);
    let mut g = c.benchmark_group("log_flush");
    g.throughput(Throughput::Elements(RECORDS as u64))
        .sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10));
    g.bench_function("build", |b| {
        b.iter(|| {
            rows.chunks(BATCH_ROWS)
                .map(|chunk| logs_batch(chunk).expect("build").num_rows())
                .sum::<usize>()
        })
    });
    g.finish();
}

criterion_group!(benches, log_flush);
criterion_main!(benches);
