//! Replays the ingest-decoder fuzz corpora through the harness the cargo-fuzz targets run
//! (`fuzz/harness/decoders.rs`): seeds built here from real requests (remote-write protobuf,
//! OTLP protobuf and JSON with every metric type, spans and log records with every value
//! type), any crashers saved in `fuzz/regressions/<target>/`, then 3,000 deterministic
//! mutations of each. `STRATA_FUZZ_WRITE_SEEDS=1` also writes the seeds to
//! `fuzz/seeds/<target>/` for a libFuzzer run (`fuzz/README.md`).

mod fuzz_signal_seeds;
#[path = "../../fuzz/harness/decoders.rs"]
mod harness;
#[path = "../../fuzz/harness/mutate.rs"]
mod mutate;

use std::path::{Path, PathBuf};

use mutate::{Rng, inputs, mutate};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use strata_server::decoders::{self, OtlpBody};
use strata_server::remote_write::proto::{Label, Sample, TimeSeries, WriteRequest};

const MUTATIONS: usize = 3_000;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn label(name: &str, value: &str) -> Label {
    Label {
        name: name.into(),
        value: value.into(),
    }
}

/// A remote-write request shaped like Prometheus's: a few series, NaN and ±Inf included.
fn write_request() -> WriteRequest {
    let values = [1.0, f64::NAN, f64::INFINITY, -0.5, 1e300];
    WriteRequest {
        metadata: Vec::new(),
        timeseries: (0..4)
            .map(|i| TimeSeries {
                labels: vec![
                    label("__name__", "http_requests_total"),
                    label("code", &format!("{}", 200 + i)),
                    label("job", "api"),
                ],
                samples: values
                    .iter()
                    .enumerate()
                    .map(|(j, &value)| Sample {
                        value,
                        timestamp: 1_700_000_000_000 + 15_000 * j as i64,
                    })
                    .collect(),
                histograms: vec![],
                exemplars: vec![],
            })
            .collect(),
    }
}

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn number(ts_s: u64, v: f64) -> NumberDataPoint {
    NumberDataPoint {
        time_unix_nano: ts_s * 1_000_000_000,
        value: Some(number_data_point::Value::AsDouble(v)),
        attributes: vec![kv("host.name", any_value::Value::StringValue("h1".into()))],
        ..Default::default()
    }
}

fn metric(name: &str, unit: &str, data: Data) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(data),
        ..Default::default()
    }
}

/// An OTLP request with a gauge, a monotonic sum, a histogram and a summary, a resource with
/// service.name / service.instance.id and a scope.
fn export_request() -> ExportMetricsServiceRequest {
    let t = 1_700_000_000;
    let metrics = vec![
        metric(
            "queue.depth",
            "1",
            Data::Gauge(Gauge {
                data_points: vec![number(t, 3.0), number(t + 15, 4.0)],
            }),
        ),
        metric(
            "http.server.requests",
            "",
            Data::Sum(Sum {
                data_points: vec![number(t, 10.0)],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            }),
        ),
        metric(
            "http.server.duration",
            "ms",
            Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    time_unix_nano: t * 1_000_000_000,
                    count: 6,
                    sum: Some(120.0),
                    bucket_counts: vec![1, 2, 3],
                    explicit_bounds: vec![10.0, 100.0],
                    ..Default::default()
                }],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            }),
        ),
        metric(
            "rpc.latency",
            "s",
            Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: t * 1_000_000_000,
                    count: 4,
                    sum: 2.0,
                    quantile_values: vec![ValueAtQuantile {
                        quantile: 0.5,
                        value: 0.4,
                    }],
                    ..Default::default()
                }],
            }),
        ),
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", any_value::Value::StringValue("api".into())),
                    kv(
                        "service.instance.id",
                        any_value::Value::StringValue("i-1".into()),
                    ),
                    kv("region", any_value::Value::StringValue("eu".into())),
                    kv("cores", any_value::Value::IntValue(8)),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "fuzz".into(),
                    version: "1".into(),
                    ..Default::default()
                }),
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn with_mode(mode: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![mode];
    v.extend_from_slice(body);
    v
}

/// Checks every seed and saved crasher, then the mutation run; writes the seeds out when
/// asked to.
fn replay(target: &str, seeds: Vec<Vec<u8>>, tokens: &[&[u8]], check: fn(&[u8])) {
    let dir = fuzz_dir();
    if std::env::var_os("STRATA_FUZZ_WRITE_SEEDS").is_some() {
        let out = dir.join("seeds").join(target);
        std::fs::create_dir_all(&out).expect("create the seed directory");
        for (i, s) in seeds.iter().enumerate() {
            std::fs::write(out.join(format!("seed-{i:02}")), s).expect("write a seed");
        }
    }
    let regressions = inputs(&dir.join("regressions").join(target));
    for input in seeds.iter().chain(&regressions) {
        check(input);
    }
    let mut rng = Rng(0x5eed ^ target.len() as u64);
    for _ in 0..MUTATIONS {
        check(&mutate(&mut rng, &seeds, tokens));
    }
}

#[test]
fn remote_write_corpus_and_short_mutation_run() {
    let raw = write_request().encode_to_vec();
    let snappy = snap::raw::Encoder::new()
        .compress_vec(&raw)
        .expect("compress the seed");

    // The seeds are real requests: they must decode whole.
    let batch = decoders::remote_write(&snappy, harness::MAX_LEN as u64).expect("seed decodes");
    assert_eq!((batch.series.len(), batch.samples), (4, 20));

    let seeds = vec![with_mode(0, &snappy), with_mode(1, &raw)];
    // Protobuf framing bytes: tags of WriteRequest/TimeSeries/Label/Sample and long varints.
    let tokens: &[&[u8]] = &[
        b"\x0a",
        b"\x12",
        b"\x09",
        b"\x10",
        b"\x22",
        b"\xff\xff\xff\xff\x0f",
        b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01",
    ];
    replay("remote_write", seeds, tokens, harness::check_remote_write);
}

#[test]
fn otlp_metrics_corpus_and_short_mutation_run() {
    let req = export_request();
    let proto = req.encode_to_vec();
    let json = serde_json::to_vec(&req).expect("OTLP/JSON of the seed");

    for (body, content_type) in [
        (&proto, "application/x-protobuf"),
        (&json, "application/json"),
    ] {
        let framing = OtlpBody {
            content_type,
            content_encoding: None,
        };
        let batch = decoders::otlp_metrics(body, framing, harness::MAX_LEN).expect("seed decodes");
        // 2 gauge + 1 sum + 1 histogram + 1 summary points, all mapped.
        assert_eq!(
            (batch.points, batch.rejected_points),
            (5, 0),
            "{content_type}"
        );
        let names: std::collections::BTreeSet<&str> = batch
            .series
            .iter()
            .flat_map(|s| s.labels.iter())
            .filter(|(n, _)| n == "__name__")
            .map(|(_, v)| v.as_str())
            .collect();
        assert!(
            names.contains("http_server_duration_milliseconds_bucket"),
            "{names:?}"
        );
        assert!(names.contains("queue_depth_ratio"), "{names:?}");
    }

    let seeds = vec![
        with_mode(0, &proto),
        with_mode(1, &json),
        with_mode(2, &proto),
        with_mode(3, &json),
    ];
    let tokens: &[&[u8]] = &[
        b"\x0a",
        b"\x12",
        b"\x1a",
        b"\xff\xff\xff\xff\x0f",
        br#"{"asDouble":"NaN"}"#,
        br#""timeUnixNano":"18446744073709551615""#,
        br#""bucketCounts":["1","2"]"#,
        br#""explicitBounds":[1e308,-1e308]"#,
        br#""quantileValues":[{"quantile":2}]"#,
        b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
        b"\"\\ud800\"",
        b",",
        b"}",
    ];
    replay("otlp_metrics", seeds, tokens, harness::check_otlp);
}

/// Protobuf framing of spans and logs, ids and values that translation refuses or drops,
/// and deep nesting.
const SIGNAL_TOKENS: &[&[u8]] = &[
    b"\x0a",
    b"\x12",
    b"\x2a",
    b"\x4a",
    b"\x0a\x00",
    b"\xff\xff\xff\xff\x0f",
    br#""traceId":"00000000000000000000000000000000""#,
    br#""spanId":"0102""#,
    br#""parentSpanId":"""#,
    br#""body":{}"#,
    br#"{"doubleValue":"NaN"}"#,
    br#""endTimeUnixNano":"18446744073709551615""#,
    br#"{"kvlistValue":{"values":[{"key":"k"}]}}"#,
    b"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
    b",",
    b"}",
];

/// Protobuf and JSON of a real request, decoded alike, read in place, with `kept` records
/// kept and one refused; then its seeds through the harness and the mutation run.
fn signal_corpus<R: std::fmt::Debug>(
    target: &str,
    req: &(impl Message + serde::Serialize),
    general: harness::General<R>,
    in_place: fn(&[u8]) -> Option<decoders::SignalBatch<R>>,
    kept: usize,
    check: fn(&[u8]),
) {
    let proto = req.encode_to_vec();
    let json = serde_json::to_vec(req).expect("OTLP/JSON of the seed");
    let framing = |content_type| OtlpBody {
        content_type,
        content_encoding: None,
    };
    let from_proto = general(&proto, framing("application/x-protobuf"), harness::MAX_LEN)
        .expect("the protobuf seed decodes");
    let from_json = general(&json, framing("application/json"), harness::MAX_LEN)
        .expect("the JSON seed decodes");
    assert_eq!(format!("{from_proto:?}"), format!("{from_json:?}"));
    assert_eq!(
        (
            from_proto.records.len(),
            from_proto.rejected.rejected_total()
        ),
        (kept, 1)
    );
    assert!(from_proto.empty_values > 0, "the seed has empty values");
    let fast = in_place(&proto).expect("the seed is read in place");
    assert_eq!(format!("{fast:?}"), format!("{from_proto:?}"));

    let seeds = vec![
        with_mode(0, &proto),
        with_mode(1, &json),
        with_mode(2, &proto),
        with_mode(3, &json),
    ];
    replay(target, seeds, SIGNAL_TOKENS, check);
}

#[test]
fn otlp_spans_corpus_and_short_mutation_run() {
    signal_corpus(
        "otlp_spans",
        &fuzz_signal_seeds::trace_request(),
        decoders::otlp_spans,
        decoders::otlp_spans_in_place,
        2,
        harness::check_otlp_spans,
    );
}

#[test]
fn otlp_logs_corpus_and_short_mutation_run() {
    signal_corpus(
        "otlp_logs",
        &fuzz_signal_seeds::logs_request(),
        decoders::otlp_logs,
        decoders::otlp_logs_in_place,
        3,
        harness::check_otlp_logs,
    );
}
