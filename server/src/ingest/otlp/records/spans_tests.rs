use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue as OtlpValue, ArrayValue, InstrumentationScope, KeyValue,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Status};
use prost::Message;
use strata_engine::{AnyValue, Scope};

use super::super::batch::UNKNOWN_SERVICE;
use super::*;
use crate::ingest::otlp::decode::{Encoding, decode_traces};

const TRACE_JSON: &[u8] = include_bytes!("../testdata/trace.json");

fn kv(key: &str, v: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(OtlpValue { value: Some(v) }),
        ..Default::default()
    }
}

fn request(resource: Option<Resource>, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource,
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "lib".into(),
                    version: "2.1".into(),
                    attributes: vec![
                        kv("team", Value::BoolValue(true)),
                        KeyValue {
                            key: "empty".into(),
                            value: None,
                            ..Default::default()
                        },
                    ],
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn span(trace_id: &[u8], span_id: &[u8]) -> Span {
    Span {
        trace_id: trace_id.to_vec(),
        span_id: span_id.to_vec(),
        name: "op".into(),
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_500_000_000,
        ..Default::default()
    }
}

#[test]
fn the_spec_example_translates_field_by_field() {
    let req = decode_traces(TRACE_JSON, Encoding::Json).expect("spec example");
    let batch = translate_spans(req.clone());
    assert_eq!(batch.rejected.rejected_total(), 0);
    assert_eq!(batch.empty_values, 0);
    let expected = SpanRecord {
        trace_id: [
            0x5B, 0x8E, 0xFF, 0xF7, 0x98, 0x03, 0x81, 0x03, 0xD2, 0x69, 0xB6, 0x33, 0x81, 0x3F,
            0xC6, 0x0C,
        ],
        span_id: [0xEE, 0xE1, 0x9B, 0x7E, 0xC3, 0xC1, 0xB1, 0x74],
        parent_span_id: Some([0xEE, 0xE1, 0x9B, 0x7E, 0xC3, 0xC1, 0xB1, 0x73]),
        service_name: "my.service".into(),
        name: "I'm a server span".into(),
        kind: 2,
        start_ns: 1_544_712_660_000_000_000,
        end_ns: 1_544_712_661_000_000_000,
        attributes: vec![("my.span.attr".into(), AnyValue::String("some value".into()))],
        resource_attributes: vec![("service.name".into(), AnyValue::String("my.service".into()))]
            .into(),
        scope: Scope {
            name: "my.library".into(),
            version: "1.0.0".into(),
            attributes: vec![(
                "my.scope.attribute".into(),
                AnyValue::String("some scope attribute".into()),
            )],
        }
        .into(),
        ..Default::default()
    };
    assert_eq!(batch.records, vec![expected]);
    // The same request as protobuf translates the same.
    let pb = decode_traces(&req.encode_to_vec(), Encoding::Protobuf).expect("protobuf");
    assert_eq!(translate_spans(pb), batch);
}

#[test]
fn every_field_is_carried() {
    let mut s = span(&[1; 16], &[2; 8]);
    s.parent_span_id = vec![3; 8];
    s.trace_state = "k=v".into();
    s.flags = 0x301;
    s.kind = 3;
    s.attributes = vec![
        kv(
            "arr",
            Value::ArrayValue(ArrayValue {
                values: vec![OtlpValue {
                    value: Some(Value::IntValue(4)),
                }],
            }),
        ),
        kv("d", Value::DoubleValue(f64::INFINITY)),
    ];
    s.dropped_attributes_count = 2;
    s.events = vec![span::Event {
        time_unix_nano: 1_700_000_000_100_000_000,
        name: "retry".into(),
        attributes: vec![kv("n", Value::IntValue(1))],
        dropped_attributes_count: 1,
    }];
    s.dropped_events_count = 3;
    s.links = vec![span::Link {
        trace_id: vec![5; 16],
        span_id: vec![6; 8],
        trace_state: "x=y".into(),
        attributes: vec![kv("b", Value::BytesValue(vec![7]))],
        dropped_attributes_count: 4,
        flags: 1,
    }];
    s.dropped_links_count = 5;
    s.status = Some(Status {
        code: 2,
        message: "boom".into(),
    });
    let resource = Resource {
        attributes: vec![kv("host.name", Value::StringValue("n1".into()))],
        ..Default::default()
    };
    let batch = translate_spans(request(Some(resource), vec![s]));
    let got = &batch.records[0];
    assert_eq!(got.parent_span_id, Some([3; 8]));
    assert_eq!(
        (got.trace_state.as_str(), got.flags, got.kind),
        ("k=v", 0x301, 3)
    );
    assert_eq!(
        got.attributes,
        vec![
            ("arr".into(), AnyValue::Array(vec![AnyValue::Int(4)])),
            ("d".into(), AnyValue::Double(f64::INFINITY)),
        ]
    );
    assert_eq!(got.dropped_attributes_count, 2);
    assert_eq!(
        got.events,
        vec![SpanEvent {
            time_ns: 1_700_000_000_100_000_000,
            name: "retry".into(),
            attributes: vec![("n".into(), AnyValue::Int(1))],
            dropped_attributes_count: 1,
        }]
    );
    assert_eq!(
        got.links,
        vec![SpanLink {
            trace_id: [5; 16],
            span_id: [6; 8],
            trace_state: "x=y".into(),
            attributes: vec![("b".into(), AnyValue::Bytes(vec![7]))],
            dropped_attributes_count: 4,
        }]
    );
    assert_eq!((got.dropped_events_count, got.dropped_links_count), (3, 5));
    assert_eq!((got.status_code, got.status_message.as_str()), (2, "boom"));
    // No service.name on the resource: OTLP's default.
    assert_eq!(got.service_name, UNKNOWN_SERVICE);
    assert_eq!(
        *got.scope,
        Scope {
            name: "lib".into(),
            version: "2.1".into(),
            // Kept as sent, the attribute without a value dropped (and counted).
            attributes: vec![("team".into(), AnyValue::Bool(true))],
        }
    );
}

#[test]
fn bad_ids_refuse_their_span_only_and_are_counted_by_reason() {
    let mut zero_parent = span(&[1; 16], &[2; 8]);
    zero_parent.parent_span_id = vec![0; 8];
    let mut short_parent = span(&[1; 16], &[3; 8]);
    short_parent.parent_span_id = vec![1; 4];
    let mut bad_link = span(&[1; 16], &[4; 8]);
    bad_link.links = vec![span::Link {
        trace_id: vec![0; 16],
        span_id: vec![1; 8],
        ..Default::default()
    }];
    let spans = vec![
        zero_parent,
        span(&[1; 8], &[2; 8]),
        span(&[0; 16], &[2; 8]),
        span(&[], &[2; 8]),
        span(&[1; 16], &[0; 8]),
        span(&[1; 16], &[1; 9]),
        short_parent,
        bad_link,
        span(&[9; 16], &[9; 8]),
    ];
    let batch = translate_spans(request(None, spans));
    // The all-zero parent is a root span, as the engine stores it.
    assert_eq!(batch.records.len(), 2);
    assert_eq!(batch.records[0].parent_span_id, None);
    let r = &batch.rejected;
    assert_eq!(r.rejected.get(&SignalReject::InvalidTraceId), Some(&4));
    assert_eq!(r.rejected.get(&SignalReject::InvalidSpanId), Some(&3));
    assert_eq!(
        r.messages
            .get(&SignalReject::InvalidTraceId)
            .map(String::as_str),
        Some(
            "span \"op\" of service \"unknown_service\": trace id: id has 8 bytes, expected 16 \
             (0101010101010101)"
        )
    );
    assert_eq!(
        r.messages
            .get(&SignalReject::InvalidSpanId)
            .map(String::as_str),
        Some(
            "span \"op\" of service \"unknown_service\": span id: id is all zeros \
             (0000000000000000)"
        )
    );
}

#[test]
fn the_spans_of_one_resource_and_scope_share_them() {
    let resource = Resource {
        attributes: vec![kv("service.name", Value::StringValue("api".into()))],
        ..Default::default()
    };
    let mut req = request(
        Some(resource),
        vec![span(&[1; 16], &[2; 8]), span(&[1; 16], &[3; 8])],
    );
    let mut other = req.resource_spans[0].clone();
    other.scope_spans[0].spans = vec![span(&[1; 16], &[4; 8])];
    req.resource_spans.push(other);
    let batch = translate_spans(req);
    let r = &batch.records;
    assert_eq!(r.len(), 3);
    assert!(std::sync::Arc::ptr_eq(
        &r[0].resource_attributes,
        &r[1].resource_attributes
    ));
    assert!(std::sync::Arc::ptr_eq(&r[0].scope, &r[1].scope));
    // Another ResourceSpans is another resource, even with equal attributes.
    assert!(!std::sync::Arc::ptr_eq(
        &r[1].resource_attributes,
        &r[2].resource_attributes
    ));
    assert_eq!(r[1].resource_attributes, r[2].resource_attributes);
    assert_eq!(r[2].service_name, "api");
}
