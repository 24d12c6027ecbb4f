//! Spans and log records of the shared dataset: two traces of acme in files (hours 0 and
//! 1), one in memory (hour 2), logs correlated with them, and one span and log of beta.

use std::sync::Arc;

use strata_engine::{AnyValue, Engine, LogRecord, Scope, SpanEvent, SpanLink, SpanRecord};

use super::{MINUTE, T0, acme, beta};

const MS_NS: i64 = 1_000_000;

/// The W3C trace-context example ids: trace A (hour 0) and its spans.
pub const TRACE_A: &str = "0af7651916cd43dd8448eb211c80319c";
pub const TRACE_B: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
pub const TRACE_C: &str = "5b8efff798038103d269b633813fc60c";
const SPAN_ROOT: &str = "b7ad6b7169203331";
const SPAN_DB: &str = "00f067aa0ba902b7";
const SPAN_HEALTH: &str = "53995c3f42cd8ad8";
const SPAN_ORDER: &str = "eee19b7ec3c1b174";

/// Bytes of a hex id.
pub fn id<const N: usize>(hex: &str) -> [u8; N] {
    let mut out = [0; N];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex id");
    }
    out
}

fn at(minute: i64, ms: i64) -> i64 {
    (T0 + minute * MINUTE + ms) * MS_NS
}

fn s(v: &str) -> AnyValue {
    AnyValue::String(v.into())
}

fn attrs(pairs: &[(&str, AnyValue)]) -> Vec<(String, AnyValue)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

fn resource(service: &str) -> Arc<Vec<(String, AnyValue)>> {
    Arc::new(attrs(&[
        ("service.name", s(service)),
        ("host.name", s("h1")),
    ]))
}

fn scope() -> Arc<Scope> {
    Arc::new(Scope {
        name: "strata-test".into(),
        version: "1.0".into(),
        attributes: attrs(&[("team", s("core")), ("tier", AnyValue::Int(2))]),
    })
}

fn span(trace: &str, span: &str, service: &str, name: &str, minute: i64, ms: i64) -> SpanRecord {
    SpanRecord {
        trace_id: id(trace),
        span_id: id(span),
        service_name: service.into(),
        name: name.into(),
        kind: 2,
        start_ns: at(minute, 0),
        end_ns: at(minute, ms),
        resource_attributes: resource(service),
        scope: scope(),
        ..SpanRecord::default()
    }
}

/// Trace A at minute 10: `GET /users` on api (every attribute type, an event, a link to
/// trace B) and its failing child `SELECT users` on db. Trace B at minute 70:
/// `GET /health` on api.
fn flushed_spans() -> Vec<SpanRecord> {
    let root = SpanRecord {
        attributes: attrs(&[
            ("http.request.method", s("GET")),
            ("http.route", s("/users")),
            ("http.response.status_code", AnyValue::Int(200)),
            ("cache.hit", AnyValue::Bool(false)),
            ("sample.ratio", AnyValue::Double(0.25)),
            ("payload", AnyValue::Bytes(vec![1, 2, 3])),
            ("tags", AnyValue::Array(vec![s("a"), AnyValue::Int(1)])),
            (
                "user",
                AnyValue::KvList(vec![("id".into(), AnyValue::Int(7))]),
            ),
        ]),
        events: vec![SpanEvent {
            time_ns: at(10, 3),
            name: "cache miss".into(),
            attributes: attrs(&[("key", s("users:all"))]),
            dropped_attributes_count: 0,
        }],
        links: vec![SpanLink {
            trace_id: id(TRACE_B),
            span_id: id(SPAN_HEALTH),
            trace_state: "vendor=x".into(),
            attributes: attrs(&[("link.kind", s("follows"))]),
            dropped_attributes_count: 0,
        }],
        ..span(TRACE_A, SPAN_ROOT, "api", "GET /users", 10, 120)
    };
    let child = SpanRecord {
        parent_span_id: Some(id(SPAN_ROOT)),
        kind: 3,
        status_code: 2,
        status_message: "timeout".into(),
        attributes: attrs(&[("db.system", s("postgresql")), ("error.type", s("timeout"))]),
        start_ns: at(10, 20),
        ..span(TRACE_A, SPAN_DB, "db", "SELECT users", 10, 100)
    };
    let health = SpanRecord {
        attributes: attrs(&[
            ("http.request.method", s("GET")),
            ("http.route", s("/health")),
            ("http.response.status_code", AnyValue::Int(200)),
        ]),
        ..span(TRACE_B, SPAN_HEALTH, "api", "GET /health", 70, 5)
    };
    vec![root, child, health]
}

fn log(minute: i64, ms: i64, service: &str, severity: i32, text: &str) -> LogRecord {
    LogRecord {
        time_ns: at(minute, ms),
        observed_time_ns: at(minute, ms + 1),
        severity_number: severity,
        severity_text: text.into(),
        service_name: service.into(),
        resource_attributes: resource(service),
        scope: scope(),
        ..LogRecord::default()
    }
}

fn flushed_logs() -> Vec<LogRecord> {
    vec![
        LogRecord {
            body: Some(s("fetching users")),
            trace_id: Some(id(TRACE_A)),
            span_id: Some(id(SPAN_ROOT)),
            ..log(10, 5, "api", 9, "INFO")
        },
        LogRecord {
            body: Some(s("query timeout")),
            trace_id: Some(id(TRACE_A)),
            span_id: Some(id(SPAN_DB)),
            attributes: attrs(&[("attempt", AnyValue::Int(3))]),
            ..log(10, 90, "db", 17, "ERROR")
        },
        LogRecord {
            body: Some(AnyValue::KvList(vec![("msg".into(), s("health ok"))])),
            ..log(70, 2, "api", 9, "INFO")
        },
    ]
}

/// Writes the spans and logs that go to files (before the dataset's first flush).
pub fn write_flushed(engine: &Engine) {
    let out = engine
        .write_spans(&acme(), &flushed_spans())
        .expect("write spans");
    assert_eq!(out.accepted, 3, "{out:?}");
    let out = engine
        .write_logs(&acme(), &flushed_logs())
        .expect("write logs");
    assert_eq!(out.accepted, 3, "{out:?}");
    let secret = span(TRACE_A, SPAN_ROOT, "secret", "beta only", 10, 1);
    let out = engine.write_spans(&beta(), &[secret]).expect("write beta");
    assert_eq!(out.accepted, 1, "{out:?}");
    let secret = LogRecord {
        body: Some(s("beta only")),
        ..log(10, 0, "secret", 9, "INFO")
    };
    let out = engine.write_logs(&beta(), &[secret]).expect("write beta");
    assert_eq!(out.accepted, 1, "{out:?}");
}

/// Writes the spans and logs that stay in memory: trace C at minute 160, `POST /orders`
/// on api with its status code sent as a string, and its log.
pub fn write_in_memory(engine: &Engine) {
    let order = SpanRecord {
        kind: 2,
        attributes: attrs(&[
            ("http.request.method", s("POST")),
            ("http.route", s("/orders")),
            ("http.response.status_code", s("201")),
        ]),
        ..span(TRACE_C, SPAN_ORDER, "api", "POST /orders", 160, 40)
    };
    let out = engine.write_spans(&acme(), &[order]).expect("write spans");
    assert_eq!(out.accepted, 1, "{out:?}");
    let created = LogRecord {
        body: Some(s("order created")),
        trace_id: Some(id(TRACE_C)),
        span_id: Some(id(SPAN_ORDER)),
        ..log(160, 30, "api", 9, "INFO")
    };
    let out = engine.write_logs(&acme(), &[created]).expect("write logs");
    assert_eq!(out.accepted, 1, "{out:?}");
}
