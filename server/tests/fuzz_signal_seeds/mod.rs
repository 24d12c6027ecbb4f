//! The real requests the `otlp_spans` and `otlp_logs` fuzz seeds are made of (see
//! `fuzz_decoders.rs`): spans with events, links and a refused id; log records with text,
//! structured and empty bodies and a refused id; attributes of every value type.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};

use super::kv;

/// Attributes of every value type: nested, empty, an empty value (dropped and counted).
fn every_value() -> Vec<KeyValue> {
    use any_value::Value as V;
    let nested = V::KvlistValue(KeyValueList {
        values: vec![
            kv("b", V::BytesValue(vec![0, 255])),
            kv(
                "a",
                V::ArrayValue(ArrayValue {
                    values: vec![
                        AnyValue {
                            value: Some(V::DoubleValue(-1e300)),
                        },
                        AnyValue { value: None },
                    ],
                }),
            ),
        ],
    });
    vec![
        kv("s", V::StringValue("GET /x".into())),
        kv("t", V::BoolValue(true)),
        kv("i", V::IntValue(-7)),
        kv("d", V::DoubleValue(0.25)),
        kv("m", nested),
        KeyValue {
            key: "empty".into(),
            value: Some(AnyValue { value: None }),
            ..Default::default()
        },
    ]
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![kv(
            "service.name",
            any_value::Value::StringValue("api".into()),
        )],
        ..Default::default()
    })
}

fn scope() -> Option<InstrumentationScope> {
    Some(InstrumentationScope {
        name: "fuzz".into(),
        version: "1".into(),
        ..Default::default()
    })
}

/// Three spans (a root with events, a child with a link, one with a bad span id that
/// translation refuses).
pub(crate) fn trace_request() -> ExportTraceServiceRequest {
    let t = 1_700_000_000_000_000_000;
    let span = |id: u8, parent: Vec<u8>| Span {
        trace_id: vec![7; 16],
        span_id: vec![id; 8],
        parent_span_id: parent,
        name: format!("op{id}"),
        kind: 2,
        start_time_unix_nano: t,
        end_time_unix_nano: t + 1_000,
        attributes: every_value(),
        status: Some(Status {
            message: "ok".into(),
            code: 1,
        }),
        ..Default::default()
    };
    let mut root = span(1, vec![0; 8]);
    root.events = vec![Event {
        time_unix_nano: t + 10,
        name: "retry".into(),
        attributes: every_value(),
        dropped_attributes_count: 1,
    }];
    let mut child = span(2, vec![1; 8]);
    child.links = vec![Link {
        trace_id: vec![9; 16],
        span_id: vec![3; 8],
        trace_state: "k=v".into(),
        ..Default::default()
    }];
    let refused = span(0, Vec::new());
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                scope: scope(),
                spans: vec![root, child, refused],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

/// Four log records: a text body with ids, a structured body, an empty body and no ids,
/// and one with an all-zero trace id that translation refuses.
pub(crate) fn logs_request() -> ExportLogsServiceRequest {
    use any_value::Value as V;
    let record = |body: Option<V>, trace_id: Vec<u8>, span_id: Vec<u8>| LogRecord {
        time_unix_nano: 1_700_000_000_000_000_000,
        observed_time_unix_nano: 1_700_000_000_000_000_001,
        severity_number: 17,
        severity_text: "ERROR".into(),
        body: Some(AnyValue { value: body }),
        attributes: every_value(),
        flags: 1,
        trace_id,
        span_id,
        event_name: "app.event".into(),
        ..Default::default()
    };
    let structured = V::KvlistValue(KeyValueList {
        values: every_value(),
    });
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                scope: scope(),
                log_records: vec![
                    record(
                        Some(V::StringValue("disk full".into())),
                        vec![7; 16],
                        vec![1; 8],
                    ),
                    record(Some(structured), Vec::new(), Vec::new()),
                    record(None, Vec::new(), Vec::new()),
                    record(Some(V::IntValue(1)), vec![0; 16], vec![1; 8]),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
