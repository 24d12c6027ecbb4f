//! The in-place reader against the general path (prost, then `translate_spans`): on random
//! requests with every value type, empty values and bad ids it must give the same batch,
//! and on damaged or unusual bodies either the same batch or none at all.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

use super::super::random::{
    attrs, damaged_requests, each_declined, framed, id, len_field, nested, random_requests,
    resource, scope, text, two_field_attribute,
};
use super::translate;
use crate::ingest::otlp::decode::{Encoding, decode_traces};
use crate::ingest::otlp::translate_spans;
use crate::ingest::test_rng::Rng;

fn span(rng: &mut Rng) -> Span {
    let parent = match rng.below(4) {
        0 => vec![0; 8],
        1 => Vec::new(),
        _ => id(rng, 8),
    };
    Span {
        trace_id: id(rng, 16),
        span_id: id(rng, 8),
        trace_state: if rng.one_in(4) {
            "k=v".into()
        } else {
            String::new()
        },
        parent_span_id: parent,
        flags: rng.next() as u32,
        name: text(rng),
        kind: rng.below(7) as i32 - 1,
        start_time_unix_nano: rng.next() >> 2,
        end_time_unix_nano: if rng.one_in(30) {
            u64::MAX
        } else {
            rng.next() >> 2
        },
        attributes: attrs(rng, 0, 12),
        dropped_attributes_count: [0, 3, u32::MAX][rng.below(3) as usize],
        events: (0..rng.below(3))
            .map(|_| Event {
                time_unix_nano: rng.next(),
                name: text(rng),
                attributes: attrs(rng, 0, 3),
                dropped_attributes_count: rng.below(2) as u32,
            })
            .collect(),
        dropped_events_count: rng.below(2) as u32,
        links: (0..rng.below(3))
            .map(|_| Link {
                trace_id: id(rng, 16),
                span_id: id(rng, 8),
                trace_state: text(rng),
                attributes: attrs(rng, 0, 3),
                dropped_attributes_count: rng.below(2) as u32,
                flags: rng.next() as u32,
            })
            .collect(),
        dropped_links_count: rng.below(2) as u32,
        status: match rng.below(3) {
            0 => None,
            _ => Some(Status {
                message: text(rng),
                code: rng.below(4) as i32,
            }),
        },
    }
}

fn request(rng: &mut Rng) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: (0..1 + rng.below(3))
            .map(|_| ResourceSpans {
                resource: resource(rng),
                scope_spans: (0..1 + rng.below(2))
                    .map(|_| ScopeSpans {
                        scope: scope(rng),
                        spans: (0..rng.below(6)).map(|_| span(rng)).collect(),
                        schema_url: text(rng),
                    })
                    .collect(),
                schema_url: String::new(),
            })
            .collect(),
    }
}

/// What the general path makes of `body`, as text (doubles' NaNs compare equal so).
fn general(body: &[u8]) -> Option<String> {
    decode_traces(body, Encoding::Protobuf)
        .ok()
        .map(|req| format!("{:?}", translate_spans(req)))
}

fn body(rng: &mut Rng) -> Vec<u8> {
    request(rng).encode_to_vec()
}

#[test]
fn random_requests_translate_as_the_general_path_translates_them() {
    random_requests(
        0x5EED_0001,
        body,
        translate,
        general,
        |r| &r.attributes,
        [500, 50, 100],
    );
}

#[test]
fn damaged_bodies_are_refused_or_read_as_the_general_path_reads_them() {
    damaged_requests(0x5EED_0002, body, translate, general);
}

/// A body with one more field appended to the first span's bytes, lengths fixed up.
fn with_span_field(extra: &[u8]) -> Vec<u8> {
    let span = Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: "op".into(),
        ..Default::default()
    };
    framed(&[span.encode_to_vec(), extra.to_vec()].concat())
}

#[test]
fn what_prost_would_merge_skip_or_refuse_is_left_to_it() {
    let status_field = len_field(
        0x7A,
        &Status {
            message: "m".into(),
            code: 2,
        }
        .encode_to_vec(),
    );
    let cases: [(&str, Vec<u8>); 5] = [
        ("an unknown field (skipped by prost)", vec![0xA0, 0x06, 1]),
        (
            "status twice (merged by prost)",
            [status_field.clone(), status_field].concat(),
        ),
        (
            "an AnyValue with two fields",
            len_field(0x4A, &two_field_attribute()),
        ),
        ("invalid UTF-8 in the name", vec![0x2A, 2, 0xC3, 0x28]),
        ("a known field of the wrong wire type", vec![0x28, 1]),
    ];
    each_declined(&cases, with_span_field, translate, general);
}

#[test]
fn values_nested_past_the_readers_depth_are_left_to_prost() {
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    attributes: vec![KeyValue {
                        key: "deep".into(),
                        value: Some(nested(40)),
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let body = req.encode_to_vec();
    assert!(translate(&body).is_none());
    assert!(
        general(&body).is_some(),
        "prost reads it (the engine's depth cap decides)"
    );
}
