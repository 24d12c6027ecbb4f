//! Criterion benchmark of a span flush, step by step, per span: what each step of
//! `Engine::flush` costs for the spans of `bench-spans load` (`strata_benches::span_gen`:
//! ~17.5 spans per trace, 6-10 span attributes, 11 resource attributes), one full row group
//! (65,536 spans) at a time. The steps (`strata_engine::flush_stages`):
//!
//! - `sort`: the records into file order (trace id, start time);
//! - `build`: sorted records into Arrow batches of 8,192 rows;
//! - `encode`: those batches into a Parquet file in memory, with the flush's writer
//!   properties (no file, no fsync);
//! - `sort_batch`: the same spans already in one Arrow batch in arrival order, sorted by
//!   the file order (lexsort + take): what a head that kept Arrow batches instead of
//!   records would pay at flush in place of `sort` and `build`;
//! - `file/arrow` and `file/shared`: sorted records into a spans file on disk, `fsync`
//!   included, through `ArrowWriter` alone (every column built into the batches) or as the
//!   flush writes it (the resource attribute maps encoded from the shared lists);
//! - `build/resource_name_only` and `encode/resource_name_only`: the same with each
//!   resource's attributes cut to `service.name`, what a layout storing a resource's
//!   attributes once per resource instead of once per span would leave.
//!
//! Records here are allocated one after another, so `build` reads them with better
//! locality than a server's flush reads a head filled over minutes: it is a lower bound
//! of that step. The allocator is mimalloc, as in the `strata` binary. Results in `docs/benchmarks.md`. Run with
//! `cargo bench -p strata-benches --bench span_flush`.

use std::sync::Arc;
use std::time::Duration;

use arrow::record_batch::RecordBatch;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use strata_benches::span_gen::{Rng, request, trace};
use strata_benches::span_records::Resources;
use strata_engine::flush_stages::{
    sort_spans, sort_spans_batch, spans_batch, write_spans, write_spans_file,
};
use strata_engine::{AnyValue, Attributes, SpanRecord};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Spans per measured flush: one full row group of a spans file.
const SPANS: usize = 65_536;
/// Rows per Arrow batch the flush builds (`signal_flush::FLUSH_BATCH_ROWS`).
const BATCH_ROWS: usize = 8_192;
/// Traces per generated request, as `bench-spans load` sends them.
const TRACES_PER_REQUEST: usize = 57;

/// `SPANS` generated spans in arrival order (requests of 57 traces, resources shared per
/// request as the server's reader shares them).
fn spans() -> Vec<SpanRecord> {
    let mut rng = Rng::new(7);
    let mut resources = Resources::default();
    let (mut out, mut t) = (Vec::with_capacity(SPANS + 1_000), 0i64);
    let start = 1_795_000_000_000_000_000i64;
    while out.len() < SPANS {
        let traces = (0..TRACES_PER_REQUEST)
            .map(|_| {
                t += 1;
                trace(&mut rng, start + t * 17_000_000)
            })
            .collect();
        resources.records(request(traces), &mut out);
    }
    out.truncate(SPANS);
    out
}

/// The same spans with each resource's attributes cut to `service.name` (still one list
/// per resource, shared by its spans).
fn resource_name_only(spans: &[SpanRecord]) -> Vec<SpanRecord> {
    let mut cut: Vec<(*const Attributes, Arc<Attributes>)> = Vec::new();
    spans
        .iter()
        .map(|s| {
            let ptr = Arc::as_ptr(&s.resource_attributes);
            let shared = match cut.iter().find(|(p, _)| *p == ptr) {
                Some((_, a)) => a.clone(),
                None => {
                    let name = vec![(
                        "service.name".to_owned(),
                        AnyValue::String(s.service_name.clone()),
                    )];
                    let a = Arc::new(name);
                    cut.push((ptr, a.clone()));
                    a
                }
            };
            SpanRecord {
                resource_attributes: shared,
                ..s.clone()
            }
        })
        .collect()
}

fn sorted(spans: &[SpanRecord]) -> Vec<&SpanRecord> {
    let mut rows: Vec<&SpanRecord> = spans.iter().collect();
    sort_spans(&mut rows);
    rows
}

fn batches(rows: &[&SpanRecord]) -> Vec<RecordBatch> {
    rows.chunks(BATCH_ROWS)
        .map(|c| spans_batch(c).expect("build spans batch"))
        .collect()
}

fn encode(batches: &[RecordBatch]) -> usize {
    write_spans(Vec::with_capacity(8 << 20), batches)
        .expect("encode spans")
        .len()
}

fn span_flush(c: &mut Criterion) {
    let all = spans();
    let name_only = resource_name_only(&all);
    let mut g = c.benchmark_group("span_flush");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(SPANS as u64));

    g.bench_function("sort", |b| {
        b.iter_batched_ref(
            || all.iter().collect::<Vec<_>>(),
            |rows| sort_spans(rows),
            BatchSize::LargeInput,
        )
    });
    for (name, spans) in [("all", &all), ("resource_name_only", &name_only)] {
        let rows = sorted(spans);
        g.bench_function(format!("build/{name}"), |b| b.iter(|| batches(&rows)));
        let built = batches(&rows);
        g.bench_function(format!("encode/{name}"), |b| b.iter(|| encode(&built)));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let rows = sorted(&all);
    for (name, shared) in [("arrow", false), ("shared", true)] {
        let path = dir.path().join(format!("{name}.parquet"));
        g.bench_function(format!("file/{name}"), |b| {
            b.iter(|| write_spans_file(&path, &rows, shared).expect("write spans file"))
        });
    }
    let arrival: Vec<&SpanRecord> = all.iter().collect();
    let unsorted = spans_batch(&arrival).expect("build spans batch");
    g.bench_function("sort_batch", |b| {
        b.iter(|| sort_spans_batch(&unsorted).expect("sort spans batch"))
    });
    g.finish();
}

criterion_group!(benches, span_flush);
criterion_main!(benches);
