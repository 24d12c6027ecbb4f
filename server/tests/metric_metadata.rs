//! Metric metadata into the real `strata` binary and back out of `/api/v1/metadata`:
//! remote-write 1.0's `metadata` field, remote-write 2.0's per-series metadata, OTLP
//! (protobuf: the in-place path for sums and gauges, the general one for histograms),
//! bad entries refused and counted, `metric`/`limit`/`limit_per_metric`, tenants apart,
//! and the metadata kept across a SIGKILL and a clean restart (which flushes).

mod common;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as PointValue;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum,
};
use prost::Message;
use serde_json::{Value, json};
use strata_server::remote_write::proto::{Label, MetricMetadata, Sample, TimeSeries, WriteRequest};
use strata_server::remote_write::v2::proto as v2;
use strata_tests::server::Server;

const V1: [(&str, &str); 2] = [
    ("Content-Type", "application/x-protobuf"),
    ("Content-Encoding", "snappy"),
];
const V2: [(&str, &str); 3] = [
    (
        "Content-Type",
        "application/x-protobuf;proto=io.prometheus.write.v2.Request",
    ),
    ("Content-Encoding", "snappy"),
    ("X-Prometheus-Remote-Write-Version", "2.0.0"),
];

fn snappy(raw: &[u8]) -> Vec<u8> {
    snap::raw::Encoder::new().compress_vec(raw).expect("snappy")
}

fn start(dir: &std::path::Path) -> Server {
    let server = Server::start(common::bin(), dir, "");
    server.wait_ready(common::READY);
    server
}

fn tenant(t: &str) -> (&'static str, String) {
    ("X-Scope-OrgID", t.to_owned())
}

/// `/api/v1/metadata` with `query` for tenant `t`: its `data` (asserted 200, success).
fn metadata(server: &Server, t: &str, query: &str) -> Value {
    let (h, v) = tenant(t);
    let r = server
        .get(&format!("/api/v1/metadata{query}"), &[(h, v.as_str())])
        .expect("metadata");
    assert_eq!(r.status, 200, "{}", r.text());
    let v: Value = serde_json::from_slice(&r.body).expect("JSON");
    assert_eq!(v["status"], "success", "{v}");
    v["data"].clone()
}

fn mm(t: i32, family: &str, help: &str, unit: &str) -> MetricMetadata {
    MetricMetadata {
        r#type: t,
        metric_family_name: family.into(),
        help: help.into(),
        unit: unit.into(),
    }
}

fn entry(t: &str, help: &str, unit: &str) -> Value {
    json!({"type": t, "help": help, "unit": unit})
}

/// A remote-write 1.0 request: one sample of `up`, and `metadata`.
fn rw1(now: i64, metadata: Vec<MetricMetadata>) -> Vec<u8> {
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![Label {
                name: b"__name__".to_vec(),
                value: b"up".to_vec(),
            }],
            samples: vec![Sample {
                value: 1.0,
                timestamp: now,
            }],
            ..Default::default()
        }],
        metadata,
    };
    snappy(&req.encode_to_vec())
}

fn post(server: &Server, t: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let (h, v) = tenant(t);
    let mut all = headers.to_vec();
    all.push((h, v.as_str()));
    let r = server.post("/api/v1/write", &all, body).expect("write");
    (r.status, r.text())
}

fn metric_value(server: &Server, series: &str) -> Option<f64> {
    let text = server.get("/metrics", &[]).expect("metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// A remote-write 2.0 request: `http_requests_total` (two series, the same metadata) and
/// `queue_bytes` with a gauge's metadata; a series without metadata; one with a type
/// outside the enum.
fn rw2(now: i64) -> Vec<u8> {
    let syms = [
        "",
        "__name__",
        "http_requests_total",
        "code",
        "200",
        "500",
        "Requests served.",
        "queue_bytes",
        "Queue size.",
        "bytes",
        "plain",
        "odd",
    ];
    let series = |refs: Vec<u32>, metadata: Option<v2::Metadata>| v2::TimeSeries {
        labels_refs: refs,
        samples: vec![v2::Sample {
            value: 1.0,
            timestamp: now,
            start_timestamp: 0,
        }],
        metadata,
        ..Default::default()
    };
    let meta = |t: i32, help_ref: u32, unit_ref: u32| {
        Some(v2::Metadata {
            r#type: t,
            help_ref,
            unit_ref,
        })
    };
    let req = v2::Request {
        symbols: syms.iter().map(|s| (*s).to_owned()).collect(),
        timeseries: vec![
            series(vec![1, 2, 3, 4], meta(1, 6, 0)),
            series(vec![1, 2, 3, 5], meta(1, 6, 0)),
            series(vec![1, 7], meta(2, 8, 9)),
            // Metadata that says nothing (unspecified, no help or unit): no entry.
            series(vec![1, 10], meta(0, 0, 0)),
            // A type number outside the enum: the entry refused, the sample stored.
            series(vec![1, 11], meta(12, 0, 0)),
        ],
    };
    snappy(&req.encode_to_vec())
}

/// An OTLP request: a cumulative sum and a gauge (the in-place path) and a histogram (the
/// general path), with descriptions and units.
fn otlp(now: i64) -> Vec<u8> {
    let ns = (now as u64) * 1_000_000;
    let point = NumberDataPoint {
        time_unix_nano: ns,
        value: Some(PointValue::AsDouble(3.0)),
        ..Default::default()
    };
    let metrics = vec![
        Metric {
            name: "http.server.requests".into(),
            description: "Requests handled.".into(),
            unit: "{request}".into(),
            data: Some(Data::Sum(Sum {
                data_points: vec![point.clone()],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            })),
            ..Default::default()
        },
        Metric {
            name: "memory.used".into(),
            description: "Memory in use.".into(),
            unit: "By".into(),
            data: Some(Data::Gauge(Gauge {
                data_points: vec![point],
            })),
            ..Default::default()
        },
        Metric {
            name: "rpc.duration".into(),
            description: "RPC latency.".into(),
            unit: "s".into(),
            data: Some(Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    time_unix_nano: ns,
                    count: 2,
                    sum: Some(0.3),
                    bucket_counts: vec![1, 1],
                    explicit_bounds: vec![0.1],
                    ..Default::default()
                }],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            })),
            ..Default::default()
        },
    ];
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

#[test]
fn metadata_from_remote_write_and_otlp_is_served_per_tenant_and_survives_restarts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let now = common::now_ms();
    assert_eq!(metadata(&server, "acme", ""), json!({}));

    // Remote-write 1.0: entries as sent; two for one metric (different senders); a
    // re-sent one is not repeated; a type outside the enum is refused (400 naming it,
    // the sample and the other entries stored).
    let body = rw1(
        now,
        vec![
            mm(1, "jobs_total", "Jobs run.", ""),
            mm(2, "temperature", "Room temperature.", "celsius"),
            mm(1, "jobs_total", "Jobs run.", ""),
        ],
    );
    assert_eq!(post(&server, "acme", &V1, &body).0, 204);
    let body = rw1(
        now + 1,
        vec![mm(0, "jobs_total", "Jobs.", ""), mm(9, "bad", "", "")],
    );
    let (status, text) = post(&server, "acme", &V1, &body);
    assert_eq!(status, 400, "{text}");
    assert!(
        text.contains("rejected 1 metadata entries: invalid 1 (first: metadata[1]: metric \"bad\": unknown metric type 9 (0 to 7))"),
        "{text}"
    );
    assert!(text.contains("stored 1 of 1 samples"), "{text}");

    // Remote-write 2.0, for tenant globex.
    let (status, text) = post(&server, "globex", &V2, &rw2(now));
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("unknown metric type 12"), "{text}");

    // OTLP, for acme.
    let r = server
        .post(
            "/v1/metrics",
            &[
                ("Content-Type", "application/x-protobuf"),
                ("X-Scope-OrgID", "acme"),
            ],
            &otlp(now),
        )
        .expect("otlp");
    assert_eq!(r.status, 200, "{}", r.text());

    let acme = json!({
        "http_server_requests_total": [entry("counter", "Requests handled.", "")],
        "jobs_total": [entry("counter", "Jobs run.", ""), entry("unknown", "Jobs.", "")],
        "memory_used_bytes": [entry("gauge", "Memory in use.", "bytes")],
        "rpc_duration_seconds": [entry("histogram", "RPC latency.", "seconds")],
        "temperature": [entry("gauge", "Room temperature.", "celsius")],
    });
    let globex = json!({
        "http_requests_total": [entry("counter", "Requests served.", "")],
        "queue_bytes": [entry("gauge", "Queue size.", "bytes")],
    });
    assert_eq!(metadata(&server, "acme", ""), acme);
    assert_eq!(metadata(&server, "globex", ""), globex);
    assert_eq!(metadata(&server, "default", ""), json!({}));
    assert_eq!(
        metadata(&server, "acme", "?metric=jobs_total"),
        json!({"jobs_total": acme["jobs_total"]})
    );
    assert_eq!(
        metadata(&server, "acme", "?metric=queue_bytes"),
        json!({}),
        "globex's metric"
    );
    assert_eq!(
        metadata(&server, "acme", "?limit=2&limit_per_metric=1"),
        json!({
            "http_server_requests_total": [entry("counter", "Requests handled.", "")],
            "jobs_total": [entry("counter", "Jobs run.", "")],
        })
    );
    assert_eq!(metadata(&server, "acme", "?limit=0"), json!({}));
    let r = server
        .get("/api/v1/metadata?limit=x", &[("X-Scope-OrgID", "acme")])
        .expect("metadata");
    assert_eq!(r.status, 400, "{}", r.text());

    // Self-metrics: stored and refused entries, by tenant and reason.
    assert_eq!(
        metric_value(&server, "strata_metadata_stored_total{tenant=\"acme\"}"),
        Some(6.0)
    );
    assert_eq!(
        metric_value(&server, "strata_metadata_stored_total{tenant=\"globex\"}"),
        Some(2.0)
    );
    for t in ["acme", "globex"] {
        assert_eq!(
            metric_value(
                &server,
                &format!("strata_metadata_rejected_total{{tenant=\"{t}\",reason=\"invalid\"}}")
            ),
            Some(1.0),
            "{t}"
        );
    }
    let text = server.get("/metrics", &[]).expect("metrics").text();
    assert!(!text.contains("metadata_not_stored"), "{text}");

    // A SIGKILL: the WAL brings the metadata back.
    server.kill();
    let server = start(dir.path());
    assert_eq!(metadata(&server, "acme", ""), acme);
    assert_eq!(metadata(&server, "globex", ""), globex);
    // A clean stop flushes (the WAL below the flush is dropped); the metadata is kept.
    assert!(server.terminate().success());
    let server = start(dir.path());
    assert_eq!(metadata(&server, "acme", ""), acme);
    assert_eq!(metadata(&server, "globex", ""), globex);
    // A re-send after the restart adds nothing.
    let body = rw1(now + 2, vec![mm(1, "jobs_total", "Jobs run.", "")]);
    assert_eq!(post(&server, "acme", &V1, &body).0, 204);
    assert_eq!(metadata(&server, "acme", ""), acme);
    assert!(server.terminate().success());
}
