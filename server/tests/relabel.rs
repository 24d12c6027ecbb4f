//! `[relabel]` in the real `strata` binary, with the two examples of docs/relabeling.md:
//! a per-peer label dropped from every metric series (over remote-write and OTLP, both its
//! protobuf fast path and JSON), which keeps a series cap from tripping, and client IP
//! attributes of spans and log records hashed (the same IP, the same hash). What rules
//! dropped or changed is counted per rule in `/metrics`.

mod common;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue as OtlpValue, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord as OtlpLog, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use strata_engine::{AnyValue, EngineConfig};
use strata_tests::remote_write::{HEADERS, TestSeries, encode};
use strata_tests::server::{Server, data_dir};

const PROTOBUF: (&str, &str) = ("Content-Type", "application/x-protobuf");
const JSON: (&str, &str) = ("Content-Type", "application/json");

const CONFIG: &str = r#"
[limits]
max_active_series = 5

[[relabel.metrics]]
name = "no peer_id"
action = "labeldrop"
regex = "peer_id"

[[relabel.metrics]]
name = "no debug metrics"
action = "drop"
source_labels = ["__name__"]
regex = "debug_.*"

[[relabel.traces]]
name = "hash client IPs"
action = "hash"
attributes = ["client.address", "net.peer.ip"]

[[relabel.logs]]
name = "hash client IPs"
action = "hash"
attributes = ["client.address"]
"#;

fn attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(OtlpValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn self_metric(server: &Server, series: &str) -> f64 {
    let text = server.get("/metrics", &[]).expect("metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

fn series_count(server: &Server, q: &str) -> usize {
    let v: serde_json::Value =
        serde_json::from_str(&server.instant_query(q, common::now_ms(), &[]).text()).expect("json");
    v["data"]["result"].as_array().map_or(0, Vec::len)
}

/// One gauge point per peer, each its own series until the rule drops `peer_id`.
fn otlp_peers(name: &str, peers: usize, t_ms: i64) -> ExportMetricsServiceRequest {
    let points = (0..peers)
        .map(|i| NumberDataPoint {
            time_unix_nano: (t_ms as u64 + i as u64) * 1_000_000,
            value: Some(Value::AsDouble(i as f64)),
            attributes: vec![attr("peer_id", &format!("12D3Koo{i:04}"))],
            ..Default::default()
        })
        .collect();
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![attr("service.name", "node")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: name.into(),
                    data: Some(Data::Gauge(Gauge {
                        data_points: points,
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[test]
fn a_per_peer_label_is_dropped_before_the_series_cap() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), CONFIG);
    server.wait_ready(common::READY);
    let now = common::now_ms();
    // 20 peers: 20 series over a cap of 5, one series once peer_id is gone (each sample
    // at its own millisecond, so the merged series has no two at one timestamp).
    let peers: Vec<_> = (0..20)
        .map(|i| {
            TestSeries {
                labels: vec![
                    ("__name__".into(), "gossip_messages".into()),
                    ("peer_id".into(), format!("12D3Koo{i:04}")),
                ],
                samples: vec![(now + i, i as f64)],
            }
            .to_proto()
        })
        .collect();
    let debug: Vec<_> = (0..7)
        .map(|i| {
            TestSeries {
                labels: vec![("__name__".into(), format!("debug_thing_{i}"))],
                samples: vec![(now, 1.0), (now + 1, 2.0)],
            }
            .to_proto()
        })
        .collect();
    for _ in 0..2 {
        // Twice: the second time the series are known by their raw bytes.
        let r = server
            .post("/api/v1/write", &HEADERS, &encode(&peers))
            .expect("write");
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let r = server
        .post("/api/v1/write", &HEADERS, &encode(&debug))
        .expect("write");
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(series_count(&server, "gossip_messages"), 1);
    assert_eq!(series_count(&server, r#"{__name__=~"debug_.*"}"#), 0);
    assert_eq!(series_count(&server, r#"{peer_id!=""}"#), 0);
    assert_eq!(
        self_metric(
            &server,
            r#"strata_relabel_total{tenant="default",signal="metrics",rule="no debug metrics"}"#
        ),
        14.0
    );
    assert_eq!(
        self_metric(
            &server,
            r#"strata_rejected_samples_total{tenant="default",signal="metrics",reason="series_limit"}"#
        ),
        0.0
    );

    // OTLP, protobuf (the fast path) and JSON (the general one): the same rules.
    let req = otlp_peers("peer_latency", 20, now);
    let r = server
        .post("/v1/metrics", &[PROTOBUF], &req.encode_to_vec())
        .expect("otlp");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(series_count(&server, "peer_latency"), 1);
    let json = serde_json::json!({"resourceMetrics": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "node"}}]},
    "scopeMetrics": [{"metrics": [{"name": "peer_bytes", "gauge": {"dataPoints": [
        {"timeUnixNano": ((now as u64) * 1_000_000).to_string(), "asDouble": 1.0, "attributes": [{"key": "peer_id", "value": {"stringValue": "a"}}]},
        {"timeUnixNano": ((now as u64 + 1) * 1_000_000).to_string(), "asDouble": 2.0, "attributes": [{"key": "peer_id", "value": {"stringValue": "b"}}]}
    ]}}]}]}]});
    let r = server
        .post("/v1/metrics", &[JSON], json.to_string().as_bytes())
        .expect("otlp json");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(series_count(&server, "peer_bytes"), 1);
    assert!(server.terminate().success());
}

#[test]
fn without_the_rule_the_cap_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        common::bin(),
        dir.path(),
        "[limits]\nmax_active_series = 5\n",
    );
    server.wait_ready(common::READY);
    let now = common::now_ms();
    let peers: Vec<_> = (0..20)
        .map(|i| {
            TestSeries {
                labels: vec![
                    ("__name__".into(), "gossip_messages".into()),
                    ("peer_id".into(), format!("12D3Koo{i:04}")),
                ],
                samples: vec![(now, 1.0)],
            }
            .to_proto()
        })
        .collect();
    let r = server
        .post("/api/v1/write", &HEADERS, &encode(&peers))
        .expect("write");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("series_limit"), "{}", r.text());
    assert!(server.terminate().success());
}

#[test]
fn client_ips_of_spans_and_logs_are_hashed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), CONFIG);
    server.wait_ready(common::READY);
    let now_ns = common::now_ms() as u64 * 1_000_000;
    let span = |id: u8, ip: &str| Span {
        trace_id: vec![7; 16],
        span_id: vec![id; 8],
        name: "GET /".into(),
        kind: 2,
        start_time_unix_nano: now_ns - 5_000_000,
        end_time_unix_nano: now_ns,
        attributes: vec![attr("client.address", ip), attr("http.route", "/")],
        ..Default::default()
    };
    let traces = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    attr("service.name", "api"),
                    attr("net.peer.ip", "192.0.2.9"),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans: vec![
                    span(1, "198.51.100.7"),
                    span(2, "198.51.100.7"),
                    span(3, "203.0.113.5"),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let r = server
        .post("/v1/traces", &[PROTOBUF], &traces.encode_to_vec())
        .expect("traces");
    assert_eq!(r.status, 200, "{}", r.text());
    let logs = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![OtlpLog {
                    time_unix_nano: now_ns,
                    body: Some(OtlpValue {
                        value: Some(any_value::Value::StringValue("login".into())),
                    }),
                    attributes: vec![attr("client.address", "198.51.100.7")],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let r = server
        .post("/v1/logs", &[PROTOBUF], &logs.encode_to_vec())
        .expect("logs");
    assert_eq!(r.status, 200, "{}", r.text());
    // Two spans' IPs and the resource's, one log record's.
    assert_eq!(
        self_metric(
            &server,
            r#"strata_relabel_total{tenant="default",signal="traces",rule="hash client IPs"}"#
        ),
        4.0
    );
    assert_eq!(
        self_metric(
            &server,
            r#"strata_relabel_total{tenant="default",signal="logs",rule="hash client IPs"}"#
        ),
        1.0
    );
    assert!(server.terminate().success());

    let get = |attrs: &[(String, AnyValue)], key: &str| -> String {
        match attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v) {
            Some(AnyValue::String(s)) => s.clone(),
            other => panic!("{key}: {other:?}"),
        }
    };
    let data = data_dir(dir.path());
    let mut spans = common::read_spans(&data, &EngineConfig::default(), "default");
    spans.sort_by_key(|s| s.span_id);
    assert_eq!(spans.len(), 3);
    let hashes: Vec<String> = spans
        .iter()
        .map(|s| get(&s.attributes, "client.address"))
        .collect();
    assert!(
        hashes
            .iter()
            .all(|h| h.len() == 32 && h.bytes().all(|b| b.is_ascii_hexdigit())),
        "{hashes:?}"
    );
    assert_eq!(hashes[0], hashes[1], "one IP, one hash");
    assert_ne!(hashes[0], hashes[2]);
    assert!(!hashes[0].contains("198.51"));
    assert_eq!(
        get(&spans[0].attributes, "http.route"),
        "/",
        "other attributes untouched"
    );
    let resource_ip = get(&spans[0].resource_attributes, "net.peer.ip");
    assert_eq!(resource_ip.len(), 32);
    let logs = common::read_logs(&data, &EngineConfig::default(), "default");
    assert_eq!(
        get(&logs[0].attributes, "client.address"),
        hashes[0],
        "the same key for logs"
    );
    // The key is kept under the data directory, owner-only.
    let key = std::fs::metadata(data.join("relabel/hash.key")).expect("key file");
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(key.permissions().mode() & 0o777, 0o600);
}
