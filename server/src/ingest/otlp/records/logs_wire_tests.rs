//! The in-place reader against the general path (prost, then `translate_logs`): on random
//! requests with every value type (in bodies and attributes), empty values and bad ids it
//! must give the same batch, and on damaged or unusual bodies either the same batch or
//! none at all.

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::AnyValue as OtlpValue;
use opentelemetry_proto::tonic::logs::v1::{LogRecord as OtlpLogRecord, ResourceLogs, ScopeLogs};
use prost::Message;
use strata_engine::SignalReject;

use super::super::random::{
    attrs, damaged_requests, each_declined, framed, id, len_field, nested, random_requests,
    resource, scope, text, two_field_attribute, value,
};
use super::translate;
use crate::ingest::otlp::decode::{Encoding, decode_logs_request};
use crate::ingest::otlp::translate_logs;
use crate::ingest::test_rng::Rng;

/// An id of `n` bytes, but often none (log records need not belong to a span).
fn optional_id(rng: &mut Rng, n: usize) -> Vec<u8> {
    if rng.one_in(3) {
        Vec::new()
    } else {
        id(rng, n)
    }
}

fn log_record(rng: &mut Rng) -> OtlpLogRecord {
    OtlpLogRecord {
        time_unix_nano: if rng.one_in(30) {
            u64::MAX
        } else {
            rng.next() >> 2
        },
        observed_time_unix_nano: rng.next() >> 2,
        severity_number: rng.below(26) as i32 - 1,
        severity_text: text(rng),
        // Any value, an empty one, or none at all.
        body: match rng.below(8) {
            0 => None,
            1 => Some(OtlpValue::default()),
            _ => value(rng, 0),
        },
        attributes: attrs(rng, 0, 10),
        dropped_attributes_count: [0, 3, u32::MAX][rng.index(3)],
        flags: rng.next() as u32,
        trace_id: optional_id(rng, 16),
        span_id: optional_id(rng, 8),
        event_name: if rng.one_in(3) {
            text(rng)
        } else {
            String::new()
        },
    }
}

fn request(rng: &mut Rng) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: (0..1 + rng.below(3))
            .map(|_| ResourceLogs {
                resource: resource(rng),
                scope_logs: (0..1 + rng.below(2))
                    .map(|_| ScopeLogs {
                        scope: scope(rng),
                        log_records: (0..rng.below(6)).map(|_| log_record(rng)).collect(),
                        schema_url: text(rng),
                    })
                    .collect(),
                schema_url: text(rng),
            })
            .collect(),
    }
}

fn body(rng: &mut Rng) -> Vec<u8> {
    request(rng).encode_to_vec()
}

/// What the general path makes of `body`, as text (doubles' NaNs compare equal so).
fn general(body: &[u8]) -> Option<String> {
    decode_logs_request(body, Encoding::Protobuf)
        .ok()
        .map(|req| format!("{:?}", translate_logs(req)))
}

#[test]
fn random_requests_translate_as_the_general_path_translates_them() {
    random_requests(
        0x5EED_0101,
        body,
        translate,
        general,
        |r| &r.attributes,
        [500, 20, 100],
    );
}

#[test]
fn damaged_bodies_are_refused_or_read_as_the_general_path_reads_them() {
    damaged_requests(0x5EED_0102, body, translate, general);
}

/// A plain record with `extra` appended to its bytes, framed as a request.
fn with_record_field(extra: &[u8]) -> Vec<u8> {
    let record = OtlpLogRecord {
        time_unix_nano: 5,
        severity_text: "INFO".into(),
        ..Default::default()
    };
    framed(&[record.encode_to_vec(), extra.to_vec()].concat())
}

#[test]
fn ids_bodies_and_counts_as_the_general_path_gives_them() {
    let cases: [(&str, Vec<u8>, Option<SignalReject>); 6] = [
        ("no ids", vec![], None),
        (
            "a trace id of 15 bytes",
            len_field(0x4A, &[1; 15]),
            Some(SignalReject::InvalidTraceId),
        ),
        (
            "an all-zero span id",
            len_field(0x52, &[0; 8]),
            Some(SignalReject::InvalidSpanId),
        ),
        (
            "both ids bad: the trace id decides",
            [len_field(0x4A, &[0; 16]), len_field(0x52, &[1; 3])].concat(),
            Some(SignalReject::InvalidTraceId),
        ),
        (
            "an empty body and an attribute without a value",
            [len_field(0x2A, &[]), len_field(0x32, &[0x0A, 1, b'k'])].concat(),
            None,
        ),
        (
            "the event name, read and not kept",
            len_field(0x62, b"app.start"),
            None,
        ),
    ];
    for (what, extra, refused) in cases {
        let body = with_record_field(&extra);
        let fast = translate(&body).expect(what);
        assert_eq!(Some(format!("{fast:?}")), general(&body), "{what}");
        let reasons: Vec<_> = fast.rejected.rejected.keys().copied().collect();
        assert_eq!(reasons, Vec::from_iter(refused), "{what}");
        assert_eq!(fast.records.len(), usize::from(refused.is_none()), "{what}");
    }
    // The empty body and the empty attribute are both counted, the attribute as dropped.
    let fast = translate(&with_record_field(
        &[len_field(0x2A, &[]), len_field(0x32, &[0x0A, 1, b'k'])].concat(),
    ))
    .expect("plain");
    assert_eq!(fast.empty_values, 2);
    assert_eq!(fast.records[0].body, None);
    assert_eq!(fast.records[0].dropped_attributes_count, 1);
}

#[test]
fn what_prost_would_merge_skip_or_refuse_is_left_to_it() {
    let body_field = len_field(0x2A, &[0x18, 1]);
    let cases: [(&str, Vec<u8>); 6] = [
        ("an unknown field (skipped by prost)", vec![0xA0, 0x06, 1]),
        (
            "the body twice (merged by prost)",
            [body_field.clone(), body_field].concat(),
        ),
        (
            "an AnyValue with two fields",
            len_field(0x32, &two_field_attribute()),
        ),
        (
            "a string-table reference (profiles only)",
            len_field(0x2A, &[0x40, 3]),
        ),
        ("invalid UTF-8 in the event name", vec![0x62, 2, 0xC3, 0x28]),
        (
            "a known field of the wrong wire type",
            vec![0x10 | 5, 0, 0, 0, 0],
        ),
    ];
    each_declined(&cases, with_record_field, translate, general);
}

#[test]
fn bodies_nested_past_the_readers_depth_are_left_to_prost() {
    let req = ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: vec![OtlpLogRecord {
                    body: Some(nested(40)),
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
    // Just within the depth, it is read in place.
    let mut shallow = req;
    shallow.resource_logs[0].scope_logs[0].log_records[0].body = Some(nested(30));
    let body = shallow.encode_to_vec();
    let fast = translate(&body).expect("within the depth");
    assert_eq!(Some(format!("{fast:?}")), general(&body));
}
