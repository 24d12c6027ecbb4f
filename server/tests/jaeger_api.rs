//! The Jaeger query API and the log search of the real binary, over spans and logs sent as
//! OTLP/HTTP protobuf: services, operations (with span kinds), trace by id (references,
//! typed tags, the instrumentation scope's attributes as tags, logs, processes), trace
//! search by service, operation, tags (a scope attribute's too) and durations,
//! Jaeger's error envelope; log search by service, severity, text and trace id. Every
//! answer is checked twice: with the data in memory, and after a restart flushed it to
//! Parquet.

mod common;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde_json::Value as Json;
use strata_tests::server::Server;

const PROTOBUF: (&str, &str) = ("Content-Type", "application/x-protobuf");

fn kv(key: &str, v: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

fn resource(service: &str) -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            kv("service.name", Value::StringValue(service.into())),
            kv("host.name", Value::StringValue("h1".into())),
        ],
        ..Default::default()
    })
}

/// A span of trace `t` (all bytes `t`), id `s`, child of `parent`.
#[allow(clippy::too_many_arguments)]
fn span(
    t: u8,
    s: u8,
    parent: Option<u8>,
    name: &str,
    kind: i32,
    start_ns: u64,
    dur_ms: u64,
    error: bool,
) -> Span {
    Span {
        trace_id: vec![t; 16],
        span_id: vec![s; 8],
        parent_span_id: parent.map_or(Vec::new(), |p| vec![p; 8]),
        name: name.into(),
        kind,
        start_time_unix_nano: start_ns,
        end_time_unix_nano: start_ns + dur_ms * 1_000_000,
        attributes: vec![
            kv("http.route", Value::StringValue("/cart".into())),
            kv("retries", Value::IntValue(i64::from(s))),
        ],
        events: vec![Event {
            time_unix_nano: start_ns + 1_000,
            name: "cache miss".into(),
            attributes: vec![kv("key", Value::StringValue("k1".into()))],
            ..Default::default()
        }],
        status: error.then(|| Status {
            code: StatusCode::Error as i32,
            message: "boom".into(),
        }),
        ..Default::default()
    }
}

fn spans_request(service: &str, spans: Vec<Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(service),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "jaeger-test".into(),
                    attributes: vec![kv("team", Value::StringValue(format!("team-{service}")))],
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn logs_request(service: &str, logs: Vec<LogRecord>) -> Vec<u8> {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(service),
            scope_logs: vec![ScopeLogs {
                log_records: logs,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn log(t_ns: u64, severity: i32, body: &str, trace: Option<u8>) -> LogRecord {
    LogRecord {
        time_unix_nano: t_ns,
        severity_number: severity,
        severity_text: if severity >= 17 { "ERROR" } else { "INFO" }.into(),
        body: Some(AnyValue {
            value: Some(Value::StringValue(body.into())),
        }),
        trace_id: trace.map_or(Vec::new(), |t| vec![t; 16]),
        span_id: trace.map_or(Vec::new(), |_| vec![1; 8]),
        ..Default::default()
    }
}

fn get_json(server: &Server, path: &str) -> (u16, Json) {
    let r = server.get(path, &[]).expect("GET");
    let body = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {}", r.text()));
    (r.status, body)
}

fn hex(b: u8, n: usize) -> String {
    format!("{b:02x}").repeat(n)
}

/// Every check, against whatever the server holds (memory or files).
fn check(server: &Server, t0_ns: u64) {
    let us = |ns: u64| ns / 1_000;
    let window = format!(
        "start={}&end={}",
        us(t0_ns) - 60_000_000,
        us(t0_ns) + 60_000_000
    );

    let (status, body) = get_json(server, "/jaeger/api/services");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], serde_json::json!(["db", "shop"]));
    assert_eq!(body["total"], 2);
    assert_eq!(body["errors"], Json::Null);

    let (_, body) = get_json(server, "/jaeger/api/services/shop/operations");
    assert_eq!(body["data"], serde_json::json!(["GET /cart", "render"]));
    let (_, body) = get_json(
        server,
        "/jaeger/api/operations?service=shop&spanKind=server",
    );
    assert_eq!(
        body["data"],
        serde_json::json!([{"name": "GET /cart", "spanKind": "server"}])
    );

    // Trace 0xaa by id: three spans over two services.
    let (status, body) = get_json(server, &format!("/jaeger/api/traces/{}", hex(0xaa, 16)));
    assert_eq!(status, 200, "{body}");
    let trace = &body["data"][0];
    assert_eq!(trace["traceID"], hex(0xaa, 16));
    let spans = trace["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 3);
    let root = &spans[0];
    assert_eq!(root["operationName"], "GET /cart");
    assert_eq!(root["references"], serde_json::json!([]));
    assert_eq!(root["startTime"], us(t0_ns));
    assert_eq!(root["duration"], 50_000);
    let child = spans
        .iter()
        .find(|s| s["operationName"] == "SELECT")
        .expect("db span");
    assert_eq!(
        child["references"],
        serde_json::json!([{"refType": "CHILD_OF", "traceID": hex(0xaa, 16), "spanID": hex(1, 8)}])
    );
    let tags = root["tags"].as_array().expect("tags");
    assert!(
        tags.contains(&serde_json::json!({"key": "retries", "type": "int64", "value": 1})),
        "{tags:?}"
    );
    assert!(
        tags.contains(
            &serde_json::json!({"key": "span.kind", "type": "string", "value": "server"})
        )
    );
    for (key, value) in [
        ("otel.scope.name", "jaeger-test"),
        ("otel.scope.attributes.team", "team-shop"),
    ] {
        let tag = serde_json::json!({"key": key, "type": "string", "value": value});
        assert!(tags.contains(&tag), "{key}: {tags:?}");
    }
    assert_eq!(root["logs"][0]["fields"][0]["value"], "cache miss");
    let process = &trace["processes"][root["processID"].as_str().expect("process id")];
    assert_eq!(process["serviceName"], "shop");
    assert_eq!(
        process["tags"],
        serde_json::json!([{"key": "host.name", "type": "string", "value": "h1"}])
    );
    assert_eq!(trace["processes"].as_object().expect("processes").len(), 2);

    // Search: both shop traces; by tag error=true only 0xbb; by duration only 0xaa.
    let ids = |q: &str| -> Vec<String> {
        let (status, body) = get_json(server, &format!("/jaeger/api/traces?{q}&{window}"));
        assert_eq!(status, 200, "{q}: {body}");
        body["data"]
            .as_array()
            .expect("traces")
            .iter()
            .map(|t| t["traceID"].as_str().expect("id").to_owned())
            .collect()
    };
    assert_eq!(
        ids("service=shop"),
        vec![hex(0xbb, 16), hex(0xaa, 16)],
        "newest first"
    );
    assert_eq!(
        ids("service=shop&tags=%7B%22error%22%3A%22true%22%7D"),
        vec![hex(0xbb, 16)]
    );
    assert_eq!(
        ids("service=shop&tags=error%3Dtrue"),
        vec![hex(0xbb, 16)],
        "logfmt"
    );
    assert_eq!(
        ids("service=shop&operation=GET%20%2Fcart&minDuration=40ms"),
        vec![hex(0xaa, 16)]
    );
    assert_eq!(ids("service=shop&maxDuration=1ms"), Vec::<String>::new());
    assert_eq!(ids("service=shop&limit=1"), vec![hex(0xbb, 16)]);
    assert_eq!(
        ids("service=db&tags=http.route%3D%2Fcart"),
        vec![hex(0xaa, 16)]
    );
    // A scope attribute's tag, as the trace's tags name it.
    assert_eq!(
        ids("service=db&tags=otel.scope.attributes.team%3Dteam-db"),
        vec![hex(0xaa, 16)]
    );
    assert_eq!(
        ids("service=shop&tags=otel.scope.attributes.team%3Dteam-db"),
        Vec::<String>::new()
    );
    // A found trace comes whole: the db span too.
    let (_, body) = get_json(server, &format!("/jaeger/api/traces?service=db&{window}"));
    assert_eq!(body["data"][0]["spans"].as_array().map(Vec::len), Some(3));

    // Errors in Jaeger's envelope.
    let (status, body) = get_json(server, "/jaeger/api/traces?limit=3");
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["code"], 400);
    assert!(
        body["errors"][0]["msg"]
            .as_str()
            .is_some_and(|m| m.contains("service"))
    );
    let (status, body) = get_json(server, &format!("/jaeger/api/traces/{}", hex(0xcc, 16)));
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["errors"][0]["msg"], "trace not found");
    let (status, _) = get_json(server, "/jaeger/api/traces/not-hex");
    assert_eq!(status, 400);
    check_log_search(server, t0_ns);
}

/// The log search, against whatever the server holds.
fn check_log_search(server: &Server, t0_ns: u64) {
    let log_window = format!(
        "start={}&end={}",
        t0_ns / 1_000_000_000 - 60,
        t0_ns / 1_000_000_000 + 60
    );
    let logs = |q: &str| -> Vec<Json> {
        let (status, body) = get_json(server, &format!("/api/v1/logs?{q}&{log_window}"));
        assert_eq!(status, 200, "{q}: {body}");
        assert_eq!(body["status"], "success");
        body["data"].as_array().expect("rows").clone()
    };
    assert_eq!(logs("service=shop").len(), 3);
    let errors = logs("service=shop&severity=error");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["body"], "payment timeout");
    assert_eq!(errors[0]["trace_id"], hex(0xbb, 16));
    assert_eq!(logs("contains=timeout").len(), 1);
    assert_eq!(logs("regex=%5Ecart%20.*ok%24").len(), 1);
    let by_trace = logs(&format!("trace_id={}", hex(0xaa, 16)));
    assert_eq!(by_trace.len(), 1);
    assert_eq!(by_trace[0]["body"], "cart 1 ok");
    let r = server.get("/api/v1/logs?severity=loud", &[]).expect("GET");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("invalid severity"), "{}", r.text());
}

#[test]
fn jaeger_api_and_log_search_from_memory_and_from_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    let t0 = u64::try_from(common::now_ms()).expect("now") * 1_000_000 - 120_000_000_000;

    // Trace 0xaa: shop GET /cart (server, 50 ms) -> shop render -> db SELECT.
    // Trace 0xbb, 10 s later: shop GET /cart (server, 5 ms), failed.
    let shop = spans_request(
        "shop",
        vec![
            span(0xaa, 1, None, "GET /cart", 2, t0, 50, false),
            span(0xaa, 2, Some(1), "render", 1, t0 + 1_000_000, 10, false),
            span(0xbb, 3, None, "GET /cart", 2, t0 + 10_000_000_000, 5, true),
        ],
    );
    let db = spans_request(
        "db",
        vec![span(
            0xaa,
            4,
            Some(1),
            "SELECT",
            3,
            t0 + 2_000_000,
            20,
            false,
        )],
    );
    for body in [shop, db] {
        let r = server
            .post("/v1/traces", &[PROTOBUF], &body)
            .expect("spans");
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let logs = logs_request(
        "shop",
        vec![
            log(t0 + 1_000, 9, "cart 1 ok", Some(0xaa)),
            log(t0 + 10_000_000_000, 17, "payment timeout", Some(0xbb)),
            log(t0 + 11_000_000_000, 9, "idle", None),
        ],
    );
    let r = server.post("/v1/logs", &[PROTOBUF], &logs).expect("logs");
    assert_eq!(r.status, 200, "{}", r.text());

    check(&server, t0);
    assert!(server.terminate().success());

    // After a restart: the shutdown flushed everything to Parquet.
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    check(&server, t0);
    assert!(server.terminate().success());
}
