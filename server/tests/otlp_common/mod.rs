//! Shared by the hand-built OTLP request tests (`otlp_traces_logs.rs`,
//! `otlp_ingest_budget.rs`): builders of spans, log records and their export requests, and a
//! reader of one self-metrics series.

#![allow(dead_code, unreachable_pub)]

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue as OtlpValue, KeyValue, KeyValueList, any_value::Value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord as OtlpLog, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use strata_tests::server::Server;

pub const PROTOBUF: (&str, &str) = ("Content-Type", "application/x-protobuf");
pub const JSON: (&str, &str) = ("Content-Type", "application/json");

pub fn kv(key: &str, v: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(OtlpValue { value: Some(v) }),
        ..Default::default()
    }
}

/// A value nested `depth` levels: kvlists around a string (a string alone is 1).
pub fn nested(depth: usize) -> Value {
    let mut v = Value::StringValue("leaf".into());
    for _ in 1..depth {
        v = Value::KvlistValue(KeyValueList {
            values: vec![kv("k", v)],
        });
    }
    v
}

pub fn now_ns() -> u64 {
    u64::try_from(crate::common::now_ms()).expect("after 1970") * 1_000_000
}

pub fn span(trace_id: &[u8], span_id: &[u8], name: &str, attributes: Vec<KeyValue>) -> Span {
    let start = now_ns() - 5_000_000_000;
    Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        name: name.into(),
        kind: 2,
        start_time_unix_nano: start,
        end_time_unix_nano: start + 1_000_000,
        attributes,
        ..Default::default()
    }
}

pub fn traces(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", Value::StringValue("api".into()))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

pub fn logs(records: Vec<OtlpLog>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            // No service.name: stored as OTLP's `unknown_service`.
            resource: None,
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

pub fn log(trace_id: &[u8], body: Value) -> OtlpLog {
    OtlpLog {
        time_unix_nano: now_ns() - 1_000_000_000,
        severity_number: 13,
        severity_text: "WARN".into(),
        trace_id: trace_id.to_vec(),
        body: Some(OtlpValue { value: Some(body) }),
        ..Default::default()
    }
}

/// The value of one self-metrics series, 0 when absent.
pub fn self_metric(server: &Server, series: &str) -> f64 {
    let text = server.get("/metrics", &[]).expect("metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}
