//! Criterion benchmark of reading an OTLP/HTTP protobuf body into the engine's records,
//! per record: the general path (prost decode, then translation: `decoders::otlp_spans`,
//! `otlp_logs`) against the in-place readers the server tries first
//! (`otlp_spans_in_place`, `otlp_logs_in_place`). The bodies are one request of
//! `bench-spans load` (57 traces, ~1,000 spans, `strata_benches::span_gen`) and a logs
//! request with one log record per span of it (severity, a text body, the span's
//! attributes and ids, the same resources). Uncompressed, as the readers take them after
//! any gzip. Results in `docs/benchmarks.md`. Run with
//! `cargo bench -p strata-benches --bench otlp_decode`.

use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use strata_benches::span_gen::{Rng, logs_request, request, trace};
use strata_server::decoders::{
    OtlpBody, otlp_logs, otlp_logs_in_place, otlp_spans, otlp_spans_in_place,
};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Traces per request, as `bench-spans load` sends them.
const TRACES_PER_REQUEST: usize = 57;
const PROTOBUF: OtlpBody<'static> = OtlpBody {
    content_type: "application/x-protobuf",
    content_encoding: None,
};

fn traces() -> ExportTraceServiceRequest {
    let mut rng = Rng::new(11);
    let start = 1_795_000_000_000_000_000i64;
    request(
        (0..TRACES_PER_REQUEST)
            .map(|i| trace(&mut rng, start + i as i64 * 17_000_000))
            .collect(),
    )
}

fn otlp_decode(c: &mut Criterion) {
    let traces = traces();
    let spans_body = traces.encode_to_vec();
    let logs_body = logs_request(&traces).encode_to_vec();
    let limit = 64 << 20;
    let spans = otlp_spans(&spans_body, PROTOBUF, limit)
        .expect("spans decode")
        .records
        .len();
    let records = otlp_logs(&logs_body, PROTOBUF, limit)
        .expect("logs decode")
        .records
        .len();
    // The in-place readers must take these bodies, or the comparison is void.
    assert_eq!(
        otlp_spans_in_place(&spans_body).map(|b| b.records.len()),
        Some(spans)
    );
    assert_eq!(
        otlp_logs_in_place(&logs_body).map(|b| b.records.len()),
        Some(records)
    );

    let mut g = c.benchmark_group("otlp_decode");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(5));
    g.throughput(Throughput::Elements(spans as u64));
    g.bench_function("spans/general", |b| {
        b.iter(|| otlp_spans(&spans_body, PROTOBUF, limit).expect("decode"))
    });
    g.bench_function("spans/in_place", |b| {
        b.iter(|| otlp_spans_in_place(&spans_body).expect("read in place"))
    });
    g.throughput(Throughput::Elements(records as u64));
    g.bench_function("logs/general", |b| {
        b.iter(|| otlp_logs(&logs_body, PROTOBUF, limit).expect("decode"))
    });
    g.bench_function("logs/in_place", |b| {
        b.iter(|| otlp_logs_in_place(&logs_body).expect("read in place"))
    });
    g.finish();
}

criterion_group!(benches, otlp_decode);
criterion_main!(benches);
