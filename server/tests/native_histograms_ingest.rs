//! Native histograms into the real `strata` binary: remote-write 1.0's `histograms` field
//! and remote-write 2.0 (built here with prost from the published message), with invalid
//! histograms refused per reason (`/metrics`) while the valid series of the same request
//! are stored, the 2.0 `Written` headers, and the version negotiation. (Reading histograms
//! back through PromQL and SQL comes with a later stage.)

mod common;

use prost::Message;
use strata_server::remote_write::proto::{
    BucketSpan, Histogram, Label, Sample, TimeSeries, WriteRequest, histogram::Count,
};
use strata_server::remote_write::v2::proto as v2;
use strata_tests::server::Server;

const V2_HEADERS: [(&str, &str); 3] = [
    (
        "Content-Type",
        "application/x-protobuf;proto=io.prometheus.write.v2.Request",
    ),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Write-Version", "2.0.0"),
];

const V1_HEADERS: [(&str, &str); 2] = [
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
];

fn snappy(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(raw).expect("snappy")
}

/// The value of the series written exactly as `series` in the `/metrics` text.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn rejected(server: &Server, reason: &str) -> f64 {
    let text = server.get("/metrics", &[]).expect("metrics").text();
    value(
        &text,
        &format!(
            "strata_rejected_samples_total{{tenant=\"default\",signal=\"metrics\",reason=\"{reason}\"}}"
        ),
    )
    .unwrap_or(0.0)
}

fn ingested(server: &Server) -> f64 {
    let text = server.get("/metrics", &[]).expect("metrics").text();
    value(
        &text,
        "strata_ingested_samples_total{tenant=\"default\",signal=\"metrics\"}",
    )
    .unwrap_or(0.0)
}

/// An integer histogram at `schema` with `n` consecutive buckets of one observation each
/// from index 0 (count = n), or with spans claiming `claim` buckets when it differs.
fn int_histogram(ts: i64, schema: i32, n: usize, claim: u32) -> Histogram {
    let mut deltas = vec![0; n];
    if n > 0 {
        deltas[0] = 1;
    }
    Histogram {
        count: Some(Count::CountInt(n as u64)),
        sum: n as f64,
        schema,
        zero_threshold: 1e-128,
        positive_spans: vec![BucketSpan {
            offset: 0,
            length: claim,
        }],
        positive_deltas: deltas,
        timestamp: ts,
        ..Default::default()
    }
}

fn labels(name: &str) -> Vec<Label> {
    vec![Label {
        name: b"__name__".to_vec(),
        value: name.as_bytes().to_vec(),
    }]
}

fn start(dir: &std::path::Path) -> Server {
    let server = Server::start(
        common::bin(),
        dir,
        "[limits]\nmax_native_histogram_buckets = 4\n",
    );
    server.wait_ready(common::READY);
    server
}

#[test]
fn remote_write_1_stores_valid_histograms_and_refuses_invalid_ones_by_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let now = common::now_ms();
    let hist = |name: &str, h: Histogram| TimeSeries {
        labels: labels(name),
        histograms: vec![h],
        ..Default::default()
    };
    let req = WriteRequest {
        metadata: Vec::new(),
        timeseries: vec![
            TimeSeries {
                labels: labels("floats"),
                samples: vec![
                    Sample {
                        value: 1.0,
                        timestamp: now - 1000,
                    },
                    Sample {
                        value: 2.0,
                        timestamp: now,
                    },
                ],
                ..Default::default()
            },
            hist("valid", int_histogram(now, 0, 2, 2)),
            // 8 buckets over the limit of 4: stored at a lower resolution.
            hist("reduced", int_histogram(now, 0, 8, 8)),
            // Spans claim 3 buckets, 2 are given.
            hist("inconsistent", int_histogram(now, 0, 2, 3)),
            hist("schema99", int_histogram(now, 99, 1, 1)),
            // 6 buckets at schema -4 cannot be reduced under 4.
            hist("too_many", int_histogram(now, -4, 6, 6)),
            // A reset hint outside the enum: refused while decoding.
            hist(
                "bad_hint",
                Histogram {
                    reset_hint: 7,
                    ..int_histogram(now, 0, 1, 1)
                },
            ),
        ],
    };
    let r = server
        .post("/api/v1/write", &V1_HEADERS, &snappy(&req.encode_to_vec()))
        .expect("remote-write");
    let text = r.text();
    assert_eq!(r.status, 400, "{text}");
    assert!(
        text.starts_with("stored 4 of 8 samples and histograms; rejected 4:"),
        "{text}"
    );
    assert!(text.contains("invalid_histogram"), "{text}");
    assert!(text.contains("too_many_buckets 1"), "{text}");
    assert!(
        text.contains("spans need 3 buckets, have 2 buckets"),
        "{text}"
    );
    // 1.0 answers carry no Written headers.
    assert_eq!(r.header("x-prometheus-remote-write-samples-written"), None);
    // Engine refusals (spans, schema) and the decoder's (reset hint) under one reason.
    assert_eq!(rejected(&server, "invalid_histogram"), 3.0);
    assert_eq!(rejected(&server, "too_many_buckets"), 1.0);
    assert_eq!(rejected(&server, "native_histogram"), 0.0);
    assert_eq!(ingested(&server), 4.0);

    // Sent again: the stored ones are duplicates, the refusals the same.
    let r = server
        .post("/api/v1/write", &V1_HEADERS, &snappy(&req.encode_to_vec()))
        .expect("remote-write");
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(rejected(&server, "invalid_histogram"), 6.0);
}

fn v2_request(now: i64) -> v2::Request {
    let syms = [
        "",
        "__name__",
        "floats",
        "valid",
        "schema99",
        "trace_id",
        "0af7651916cd43dd8448eb211c80319c",
        "odd",
    ];
    let h = |schema, n: usize| {
        let v = int_histogram(now, schema, n, n as u32);
        v2::Histogram {
            count: v.count,
            sum: v.sum,
            schema: v.schema,
            zero_threshold: v.zero_threshold,
            positive_spans: v.positive_spans,
            positive_deltas: v.positive_deltas,
            timestamp: v.timestamp,
            start_timestamp: now - 60_000,
            ..Default::default()
        }
    };
    v2::Request {
        symbols: syms.iter().map(|s| (*s).to_owned()).collect(),
        timeseries: vec![
            v2::TimeSeries {
                labels_refs: vec![1, 2],
                samples: vec![
                    v2::Sample {
                        value: 1.0,
                        timestamp: now - 1000,
                        start_timestamp: 0,
                    },
                    v2::Sample {
                        value: 2.0,
                        timestamp: now,
                        start_timestamp: 0,
                    },
                ],
                exemplars: vec![v2::Exemplar {
                    labels_refs: vec![5, 6],
                    value: 2.0,
                    timestamp: now,
                }],
                metadata: Some(v2::Metadata {
                    r#type: 2,
                    help_ref: 0,
                    unit_ref: 0,
                }),
                ..Default::default()
            },
            v2::TimeSeries {
                labels_refs: vec![1, 3],
                histograms: vec![h(0, 2)],
                ..Default::default()
            },
            v2::TimeSeries {
                labels_refs: vec![1, 4],
                histograms: vec![h(99, 1)],
                ..Default::default()
            },
            // An odd number of references: refused with its sample.
            v2::TimeSeries {
                labels_refs: vec![1, 7, 1],
                samples: vec![v2::Sample {
                    value: 1.0,
                    timestamp: now,
                    start_timestamp: 0,
                }],
                ..Default::default()
            },
        ],
    }
}

fn written(r: &strata_tests::http::Response) -> [Option<&str>; 3] {
    ["samples", "histograms", "exemplars"]
        .map(|k| r.header(&format!("x-prometheus-remote-write-{k}-written")))
}

#[test]
fn remote_write_2_answers_with_written_headers_and_partial_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let now = common::now_ms();
    let body = snappy(&v2_request(now).encode_to_vec());
    let r = server
        .post("/api/v1/write", &V2_HEADERS, &body)
        .expect("remote-write 2.0");
    let text = r.text();
    assert_eq!(r.status, 400, "{text}");
    assert_eq!(written(&r), [Some("2"), Some("1"), Some("1")], "{text}");
    assert!(
        text.contains("invalid_symbol_refs 1 (first: timeseries[3]: invalid labels_refs length 3)"),
        "{text}"
    );
    assert!(text.contains("invalid_histogram 1"), "{text}");
    assert_eq!(rejected(&server, "invalid_symbol_refs"), 1.0);
    assert_eq!(rejected(&server, "invalid_histogram"), 1.0);
    // The 3 samples the headers count, and the empty histogram stored at the valid
    // histogram's start timestamp (a new series: its start is after everything it holds).
    assert_eq!(ingested(&server), 4.0);
    // The refused histogram's start timestamp is counted as not stored (metadata is
    // stored: `metric_metadata.rs`).
    let m = server.get("/metrics", &[]).expect("metrics").text();
    let truncated = |kind: &str| {
        value(
            &m,
            &format!(
                "strata_truncated_total{{tenant=\"default\",signal=\"metrics\",kind=\"{kind}\"}}"
            ),
        )
    };
    assert_eq!(truncated("metadata_not_stored"), None, "{m}");
    assert_eq!(truncated("start_timestamp_not_stored"), Some(1.0), "{m}");

    // Only the valid series, a little later: 204 and the headers.
    let mut ok = v2_request(now + 5000);
    ok.timeseries.truncate(2);
    let body = snappy(&ok.encode_to_vec());
    let r = server
        .post("/api/v1/write", &V2_HEADERS, &body)
        .expect("remote-write 2.0");
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(written(&r), [Some("2"), Some("1"), Some("1")]);
    // Its histogram's start lies before the series' newest histogram: dropped, no zero.
    let m = server.get("/metrics", &[]).expect("metrics").text();
    assert_eq!(
        value(
            &m,
            "strata_truncated_total{tenant=\"default\",signal=\"metrics\",kind=\"start_timestamp_not_stored\"}"
        ),
        Some(2.0),
        "{m}"
    );
    // A retry of it: duplicates count as written (a sender must not see "nothing written").
    let r = server
        .post("/api/v1/write", &V2_HEADERS, &body)
        .expect("remote-write 2.0");
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(written(&r), [Some("3"), Some("0"), Some("1")]);

    // An unknown message: 415, which makes a Prometheus sender fall back to 1.0.
    let mut headers = V2_HEADERS;
    headers[0].1 = "application/x-protobuf;proto=io.prometheus.write.v3.Request";
    let r = server.post("/api/v1/write", &headers, &body).expect("post");
    assert_eq!(r.status, 415, "{}", r.text());
    // 429 and 503 carry zeros: not tested here (no rate limit is configured).
}

/// An OTLP request of one exponential histogram point (OTel bucket 0 with 2, zero count 1)
/// at `t_ns`, cumulative or delta.
fn otlp_json(t_ns: i64, temporality: u8) -> String {
    format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"api"}}}}]}},
        "scopeMetrics":[{{"metrics":[{{"name":"latency","unit":"s","exponentialHistogram":{{
        "aggregationTemporality":{temporality},"dataPoints":[{{"timeUnixNano":"{t_ns}","count":"3",
        "sum":2.5,"scale":0,"zeroCount":"1","positive":{{"offset":0,"bucketCounts":["2"]}}}}]}}}}]}}]}}]}}"#
    )
}

#[test]
fn otlp_exponential_histograms_are_stored_over_json_and_protobuf() {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::{
        ExponentialHistogram, ExponentialHistogramDataPoint, Metric, ResourceMetrics, ScopeMetrics,
        exponential_histogram_data_point::Buckets, metric::Data,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let now_ns = common::now_ms() * 1_000_000;
    let json = [("Content-Type", "application/json")];
    let r = server
        .post("/v1/metrics", &json, otlp_json(now_ns, 2).as_bytes())
        .expect("otlp json");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.text().contains("rejected"), "{}", r.text());
    // The histogram (service.name alone makes no target_info series).
    assert_eq!(ingested(&server), 1.0);
    // The same as protobuf, a second later (the fast path, which hands the point over).
    let point = ExponentialHistogramDataPoint {
        time_unix_nano: (now_ns + 1_000_000_000) as u64,
        count: 3,
        sum: Some(2.5),
        zero_count: 1,
        positive: Some(Buckets {
            offset: 0,
            bucket_counts: vec![2],
        }),
        ..Default::default()
    };
    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "latency".into(),
                    unit: "s".into(),
                    data: Some(Data::ExponentialHistogram(ExponentialHistogram {
                        data_points: vec![point],
                        aggregation_temporality: 2,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let r = server
        .post(
            "/v1/metrics",
            &[("Content-Type", "application/x-protobuf")],
            &req.encode_to_vec(),
        )
        .expect("otlp protobuf");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(ingested(&server), 2.0);
    // Delta temporality: refused, counted, with its reason.
    let r = server
        .post("/v1/metrics", &json, otlp_json(now_ns, 1).as_bytes())
        .expect("otlp json");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        r.text().contains("delta temporality is not supported"),
        "{}",
        r.text()
    );
    assert_eq!(rejected(&server, "otlp_unmapped"), 1.0);
}

#[test]
fn remote_write_2_rate_limited_answers_carry_zero_written_headers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        common::bin(),
        dir.path(),
        "[limits.tenants.slow]\ningest_rate = 1\ningest_burst = 2\n",
    );
    server.wait_ready(common::READY);
    let now = common::now_ms();
    let mut req = v2_request(now);
    req.timeseries.truncate(1);
    req.timeseries[0].samples = (0..10)
        .map(|i| v2::Sample {
            value: 1.0,
            timestamp: now - 10_000 + i * 1000,
            start_timestamp: 0,
        })
        .collect();
    let mut headers = V2_HEADERS.to_vec();
    headers.push(("X-Scope-OrgID", "slow"));
    let r = server
        .post("/api/v1/write", &headers, &snappy(&req.encode_to_vec()))
        .expect("remote-write 2.0");
    assert_eq!(r.status, 429, "{}", r.text());
    assert!(r.text().contains("rate_limited"), "{}", r.text());
    assert_eq!(written(&r), [Some("0"), Some("0"), Some("0")]);
}
