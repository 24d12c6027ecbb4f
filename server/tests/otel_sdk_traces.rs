//! The OpenTelemetry Rust SDK (`opentelemetry_sdk` + `opentelemetry-otlp` 0.33) exporting
//! spans and log records to the real `strata` binary over OTLP/gRPC, OTLP/HTTP protobuf and
//! OTLP/HTTP JSON: a three-level trace (server, internal, client spans) with events, a link
//! to another trace, statuses and attributes of every type, an instrumentation scope with
//! attributes, and log records emitted inside the innermost span (so the SDK correlates
//! them by trace and span id) and outside any span. The server is stopped with SIGTERM and
//! its data directory opened with `strata_engine::Engine`: every field reads back as the
//! SDK sent it (the scope's attributes with the spans; log records keep its name and
//! version only).
//!
//! Logs go through the SDK's `Logger` API directly (the `opentelemetry-appender-tracing`
//! bridge produces the same records through `tracing`, and is not needed to test the wire).
//! As in `otel_sdk.rs`, the batch processors run on a tokio runtime (an async HTTP client
//! needs one) and `force_flush` exports at once.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::logs::{
    AnyValue as LogValue, LogRecord as _, Logger as _, LoggerProvider as _, Severity,
};
use opentelemetry::trace::{
    Link, Span as _, SpanContext, SpanKind, Status, TraceContextExt as _, Tracer as _,
    TracerProvider as _,
};
use opentelemetry::{Array, Context, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_otlp::{LogExporter, Protocol, SpanExporter, WithExportConfig};
use opentelemetry_proto::tonic::trace::v1::SpanFlags;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::logs::log_processor_with_async_runtime::BatchLogProcessor;
use opentelemetry_sdk::logs::{SdkLogger, SdkLoggerProvider};
use opentelemetry_sdk::runtime::Tokio;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use strata_engine::{AnyValue, LogRecord, Scope, SpanEvent, SpanLink, SpanRecord, TraceId};
use strata_tests::server::{Server, data_dir};

const SERVICE: &str = "checkout";

#[derive(Debug, Clone, Copy)]
enum Transport {
    Grpc,
    HttpProtobuf,
    HttpJson,
}

fn exporters(server: &Server, transport: Transport) -> (SpanExporter, LogExporter) {
    let timeout = Duration::from_secs(10);
    let grpc = format!("http://{}", server.grpc);
    let http = |path: &str| format!("http://{}{path}", server.http);
    let protocol = match transport {
        Transport::HttpJson => Protocol::HttpJson,
        _ => Protocol::HttpBinary,
    };
    let spans = match transport {
        Transport::Grpc => SpanExporter::builder()
            .with_tonic()
            .with_endpoint(grpc.clone())
            .with_timeout(timeout)
            .build(),
        _ => SpanExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_endpoint(http("/v1/traces"))
            .with_timeout(timeout)
            .build(),
    };
    let logs = match transport {
        Transport::Grpc => LogExporter::builder()
            .with_tonic()
            .with_endpoint(grpc)
            .with_timeout(timeout)
            .build(),
        _ => LogExporter::builder()
            .with_http()
            .with_protocol(protocol)
            .with_endpoint(http("/v1/logs"))
            .with_timeout(timeout)
            .build(),
    };
    (
        spans.unwrap_or_else(|e| panic!("{transport:?} span exporter: {e}")),
        logs.unwrap_or_else(|e| panic!("{transport:?} log exporter: {e}")),
    )
}

/// An API attribute value as the engine stores it.
fn stored(v: &Value) -> AnyValue {
    fn list<T>(items: &[T], f: impl Fn(&T) -> AnyValue) -> AnyValue {
        AnyValue::Array(items.iter().map(f).collect())
    }
    match v {
        Value::Bool(b) => AnyValue::Bool(*b),
        Value::I64(i) => AnyValue::Int(*i),
        Value::F64(d) => AnyValue::Double(*d),
        Value::String(s) => AnyValue::String(s.as_str().to_owned()),
        Value::Array(Array::Bool(a)) => list(a, |b| AnyValue::Bool(*b)),
        Value::Array(Array::I64(a)) => list(a, |i| AnyValue::Int(*i)),
        Value::Array(Array::F64(a)) => list(a, |d| AnyValue::Double(*d)),
        Value::Array(Array::String(a)) => list(a, |s| AnyValue::String(s.as_str().to_owned())),
        other => panic!("no test value of this type: {other:?}"),
    }
}

fn stored_attrs(kvs: &[KeyValue]) -> Vec<(String, AnyValue)> {
    kvs.iter()
        .map(|kv| (kv.key.as_str().to_owned(), stored(&kv.value)))
        .collect()
}

/// A log API value as the engine stores it (maps become kvlists, in any order).
fn stored_log_value(v: &LogValue) -> AnyValue {
    match v {
        LogValue::Int(i) => AnyValue::Int(*i),
        LogValue::Double(d) => AnyValue::Double(*d),
        LogValue::String(s) => AnyValue::String(s.as_str().to_owned()),
        LogValue::Boolean(b) => AnyValue::Bool(*b),
        LogValue::Bytes(b) => AnyValue::Bytes(b.to_vec()),
        LogValue::ListAny(l) => AnyValue::Array(l.iter().map(stored_log_value).collect()),
        LogValue::Map(m) => AnyValue::KvList(
            m.iter()
                .map(|(k, v)| (k.as_str().to_owned(), stored_log_value(v)))
                .collect(),
        ),
        other => panic!("no test value of this type: {other:?}"),
    }
}

/// Kvlists sorted by key, recursively (an SDK map has no order).
fn normalized(v: &AnyValue) -> AnyValue {
    match v {
        AnyValue::Array(a) => AnyValue::Array(a.iter().map(normalized).collect()),
        AnyValue::KvList(kvs) => {
            let mut kvs: Vec<_> = kvs
                .iter()
                .map(|(k, v)| (k.clone(), normalized(v)))
                .collect();
            kvs.sort_by(|a, b| a.0.cmp(&b.0));
            AnyValue::KvList(kvs)
        }
        other => other.clone(),
    }
}

fn nanos(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .expect("after 1970")
}

/// The attributes of the instrumentation scope the tracer and the logger are made with.
fn scope_attributes() -> Vec<KeyValue> {
    vec![
        KeyValue::new("team", "payments"),
        KeyValue::new("scope.level", 2_i64),
    ]
}

/// OTLP span flags as the SDK sets them: the W3C trace flags, and "the parent is known
/// not to be remote".
fn span_flags(sc: &SpanContext) -> u32 {
    u32::from(sc.trace_flags().to_u8()) | SpanFlags::ContextHasIsRemoteMask as u32
}

/// What the test sent: the spans (by trace, in start order) and the log records, as the
/// engine should store them.
struct Sent {
    traces: BTreeMap<TraceId, Vec<SpanRecord>>,
    logs: Vec<LogRecord>,
}

/// Records the trace and the logs through the SDK (see the module docs), building the
/// expected records from the same inputs and from the ids the SDK assigned.
fn record(tracer: &SdkTracer, logger: &SdkLogger, resource: &[(String, AnyValue)]) -> Sent {
    // Spans keep the scope's attributes; log records its name and version only.
    let log_scope = Arc::new(Scope {
        name: "strata-e2e".into(),
        version: "1.2.3".into(),
        ..Scope::default()
    });
    let scope = Arc::new(Scope {
        attributes: stored_attrs(&scope_attributes()),
        ..(*log_scope).clone()
    });
    let resource = Arc::new(resource.to_vec());
    let t0 = SystemTime::now() - Duration::from_secs(30);
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let base = |sc: &SpanContext, name: &str, kind: i32, start: u64, end: u64| SpanRecord {
        trace_id: sc.trace_id().to_bytes(),
        span_id: sc.span_id().to_bytes(),
        flags: span_flags(sc),
        service_name: SERVICE.into(),
        name: name.into(),
        kind,
        start_ns: nanos(at(start)),
        end_ns: nanos(at(end)),
        resource_attributes: resource.clone(),
        scope: scope.clone(),
        ..SpanRecord::default()
    };

    // Another trace's span, for a link.
    let mut upstream = tracer
        .span_builder("enqueue")
        .with_kind(SpanKind::Producer)
        .with_start_time(at(0))
        .start(tracer);
    let upstream_sc = upstream.span_context().clone();
    upstream.end_with_timestamp(at(5));
    let upstream_rec = base(&upstream_sc, "enqueue", 4, 0, 5);

    let every_type = vec![
        KeyValue::new("http.route", "/cart"),
        KeyValue::new("cart.premium", true),
        KeyValue::new("cart.items", 3_i64),
        KeyValue::new("cart.min", i64::MIN),
        KeyValue::new("cart.total", 42.5),
        KeyValue::new("cart.ratio", 0.1),
        KeyValue::new("cart.tiny", 5e-324),
        KeyValue::new(
            "cart.skus",
            Value::Array(Array::String(vec![StringValue::from("a-1"), "b-2".into()])),
        ),
        KeyValue::new("cart.flags", Value::Array(Array::Bool(vec![true, false]))),
        KeyValue::new("cart.qty", Value::Array(Array::I64(vec![1, -2, i64::MAX]))),
        KeyValue::new(
            "cart.prices",
            Value::Array(Array::F64(vec![1.5, 0.1, -0.0])),
        ),
    ];
    let root_event = vec![
        KeyValue::new("items", 3_i64),
        KeyValue::new("coupon", false),
    ];
    let mut root = tracer
        .span_builder("POST /checkout")
        .with_kind(SpanKind::Server)
        .with_start_time(at(10))
        .with_attributes(every_type.clone())
        .start(tracer);
    root.add_event_with_timestamp("cart.loaded", at(11), root_event.clone());
    root.set_status(Status::Ok);
    let root_sc = root.span_context().clone();
    let root_cx = Context::current_with_span(root);

    let link_attrs = vec![KeyValue::new("link.reason", "follows")];
    let child = tracer
        .span_builder("reserve-stock")
        .with_kind(SpanKind::Internal)
        .with_start_time(at(12))
        .with_links(vec![Link::new(upstream_sc.clone(), link_attrs.clone(), 0)])
        .start_with_context(tracer, &root_cx);
    let child_sc = child.span_context().clone();
    let child_cx = root_cx.with_span(child);

    let grandchild = tracer
        .span_builder("SELECT stock")
        .with_kind(SpanKind::Client)
        .with_start_time(at(13))
        .with_attributes(vec![KeyValue::new("db.system", "postgresql")])
        .start_with_context(tracer, &child_cx);
    let grandchild_sc = grandchild.span_context().clone();
    let grandchild_cx = child_cx.with_span(grandchild);
    let retry = vec![KeyValue::new("attempt", 2_i64)];
    grandchild_cx
        .span()
        .add_event_with_timestamp("retry", at(14), retry.clone());
    grandchild_cx
        .span()
        .set_status(Status::error("deadlock detected"));

    let logs = emit_logs(logger, &grandchild_cx, t0, &resource, &log_scope);

    grandchild_cx.span().end_with_timestamp(at(20));
    child_cx.span().end_with_timestamp(at(25));
    root_cx.span().end_with_timestamp(at(30));

    let root_rec = SpanRecord {
        attributes: stored_attrs(&every_type),
        events: vec![SpanEvent {
            time_ns: nanos(at(11)),
            name: "cart.loaded".into(),
            attributes: stored_attrs(&root_event),
            dropped_attributes_count: 0,
        }],
        status_code: 1,
        ..base(&root_sc, "POST /checkout", 2, 10, 30)
    };
    let child_rec = SpanRecord {
        parent_span_id: Some(root_sc.span_id().to_bytes()),
        links: vec![SpanLink {
            trace_id: upstream_sc.trace_id().to_bytes(),
            span_id: upstream_sc.span_id().to_bytes(),
            trace_state: String::new(),
            attributes: stored_attrs(&link_attrs),
            dropped_attributes_count: 0,
        }],
        ..base(&child_sc, "reserve-stock", 1, 12, 25)
    };
    let grandchild_rec = SpanRecord {
        parent_span_id: Some(child_sc.span_id().to_bytes()),
        attributes: vec![("db.system".into(), AnyValue::String("postgresql".into()))],
        events: vec![SpanEvent {
            time_ns: nanos(at(14)),
            name: "retry".into(),
            attributes: stored_attrs(&retry),
            dropped_attributes_count: 0,
        }],
        status_code: 2,
        status_message: "deadlock detected".into(),
        ..base(&grandchild_sc, "SELECT stock", 3, 13, 20)
    };
    let mut traces = BTreeMap::new();
    traces.insert(
        root_sc.trace_id().to_bytes(),
        vec![root_rec, child_rec, grandchild_rec],
    );
    traces.insert(upstream_sc.trace_id().to_bytes(), vec![upstream_rec]);
    Sent { traces, logs }
}

/// Emits two log records through the SDK, one inside `span_cx` (so the SDK takes its trace
/// context) and one outside any span, and returns them as the engine should store them.
fn emit_logs(
    logger: &SdkLogger,
    span_cx: &Context,
    t0: SystemTime,
    resource: &Arc<Vec<(String, AnyValue)>>,
    scope: &Arc<Scope>,
) -> Vec<LogRecord> {
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    // A log inside the span: the SDK takes its trace context.
    let body: LogValue = [
        ("sku", LogValue::from("a-1")),
        (
            "counts",
            [LogValue::Int(1), LogValue::Double(2.5)]
                .into_iter()
                .collect(),
        ),
        ("raw", LogValue::Bytes(Box::new(vec![0, 159, 255]))),
    ]
    .into_iter()
    .collect();
    let log_attrs: Vec<(&'static str, LogValue)> = vec![
        ("retry", LogValue::Boolean(true)),
        ("wait_ms", LogValue::Int(25)),
        ("load", LogValue::Double(0.75)),
        ("note", LogValue::from("lock held")),
    ];
    {
        let _active = span_cx.clone().attach();
        let mut r = logger.create_log_record();
        r.set_timestamp(at(15));
        r.set_observed_timestamp(at(16));
        r.set_severity_number(Severity::Error);
        r.set_severity_text("ERROR");
        r.set_body(body.clone());
        for (k, v) in &log_attrs {
            r.add_attribute(*k, v.clone());
        }
        logger.emit(r);
    }
    // And one outside any span: no trace context.
    let mut r = logger.create_log_record();
    r.set_timestamp(at(40));
    r.set_observed_timestamp(at(41));
    r.set_severity_number(Severity::Info);
    r.set_severity_text("INFO");
    r.set_body("checkout done".into());
    logger.emit(r);

    let span_sc = span_cx.span().span_context().clone();
    let log_base = |t: u64, observed: u64, number: i32, text: &str, body: &LogValue| LogRecord {
        time_ns: nanos(at(t)),
        observed_time_ns: nanos(at(observed)),
        severity_number: number,
        severity_text: text.into(),
        body: Some(normalized(&stored_log_value(body))),
        service_name: SERVICE.into(),
        resource_attributes: resource.clone(),
        scope: scope.clone(),
        ..LogRecord::default()
    };
    let in_span = LogRecord {
        trace_id: Some(span_sc.trace_id().to_bytes()),
        span_id: Some(span_sc.span_id().to_bytes()),
        flags: u32::from(span_sc.trace_flags().to_u8()),
        attributes: log_attrs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), stored_log_value(v)))
            .collect(),
        ..log_base(15, 16, Severity::Error as i32, "ERROR", &body)
    };
    let outside = log_base(
        40,
        41,
        Severity::Info as i32,
        "INFO",
        &"checkout done".into(),
    );

    vec![in_span, outside]
}

/// A span or log record with its resource attributes sorted (an SDK resource is a map).
fn sorted_resource(mut attrs: Vec<(String, AnyValue)>) -> Vec<(String, AnyValue)> {
    attrs.sort_by(|a, b| a.0.cmp(&b.0));
    attrs
}

fn sdk_traces_and_logs_read_back(transport: Transport) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");

    let resource = Resource::builder()
        .with_service_name(SERVICE)
        .with_attribute(KeyValue::new("service.instance.id", "pod-1"))
        .with_attribute(KeyValue::new("host.cpus", 8_i64))
        .build();
    let resource_attrs = sorted_resource(
        resource
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), stored(v)))
            .collect(),
    );
    let (tracer_provider, logger_provider) = {
        let _guard = rt.enter();
        let (spans, logs) = exporters(&server, transport);
        let tp = SdkTracerProvider::builder()
            .with_resource(resource.clone())
            .with_span_processor(BatchSpanProcessor::builder(spans, Tokio).build())
            .build();
        let lp = SdkLoggerProvider::builder()
            .with_resource(resource.clone())
            .with_log_processor(BatchLogProcessor::builder(logs, Tokio).build())
            .build();
        (tp, lp)
    };
    let scope = InstrumentationScope::builder("strata-e2e")
        .with_version("1.2.3")
        .with_attributes(scope_attributes())
        .build();
    let tracer = tracer_provider.tracer_with_scope(scope.clone());
    let logger = logger_provider.logger_with_scope(scope);
    let sent = record(&tracer, &logger, &resource_attrs);

    tracer_provider
        .force_flush()
        .unwrap_or_else(|e| panic!("{transport:?}: span export failed: {e}"));
    logger_provider
        .force_flush()
        .unwrap_or_else(|e| panic!("{transport:?}: log export failed: {e}"));
    tracer_provider
        .shutdown()
        .unwrap_or_else(|e| panic!("{transport:?}: shutdown: {e}"));
    logger_provider
        .shutdown()
        .unwrap_or_else(|e| panic!("{transport:?}: shutdown: {e}"));
    drop(rt);
    let status = server.terminate();
    assert!(status.success(), "{status}");

    // Read back with the engine: each trace by id, and every span and log record.
    let data = data_dir(dir.path());
    let engine = strata_engine::Engine::open(&data, strata_engine::EngineConfig::default())
        .expect("open the data directory");
    let tenant = strata_engine::TenantId::new("default").expect("tenant");
    for (trace_id, want) in &sent.traces {
        let mut got = engine
            .find_trace(&tenant, *trace_id, 0, i64::MAX)
            .expect("find_trace");
        for s in &mut got {
            s.resource_attributes = Arc::new(sorted_resource(s.resource_attributes.to_vec()));
        }
        assert_eq!(&got, want, "{transport:?}: trace {trace_id:02x?}");
    }
    engine.close().expect("close");
    let all = common::read_spans(&data, &strata_engine::EngineConfig::default(), "default");
    assert_eq!(all.len(), 4, "{transport:?}: {all:?}");

    let mut logs = common::read_logs(&data, &strata_engine::EngineConfig::default(), "default");
    logs.sort_by_key(|r| r.time_ns);
    for r in &mut logs {
        r.resource_attributes = Arc::new(sorted_resource(r.resource_attributes.to_vec()));
        r.body = r.body.as_ref().map(normalized);
    }
    assert_eq!(logs, sent.logs, "{transport:?}");
    // The log emitted in the innermost span is found through its trace.
    let trace = &sent.traces[&logs[0].trace_id.expect("correlated")];
    assert_eq!(logs[0].span_id, Some(trace[2].span_id));
}

#[test]
fn sdk_spans_and_logs_over_grpc() {
    sdk_traces_and_logs_read_back(Transport::Grpc);
}

#[test]
fn sdk_spans_and_logs_over_http_protobuf() {
    sdk_traces_and_logs_read_back(Transport::HttpProtobuf);
}

#[test]
fn sdk_spans_and_logs_over_http_json() {
    sdk_traces_and_logs_read_back(Transport::HttpJson);
}
