//! The in-place reader against the general path (prost, then `translate_spans`): on random
//! requests with every value type, empty values and bad ids it must give the same batch,
//! and on damaged or unusual bodies either the same batch or none at all.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue as OtlpValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;

use super::super::decode::{Encoding, decode_traces};
use super::translate;
use crate::otlp::translate_spans;

/// xorshift64*: the same requests on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }

    fn text(&mut self) -> String {
        const WORDS: [&str; 6] = ["GET", "/api/x", "", "ünïcode", "db", "a b"];
        WORDS[self.below(6) as usize].repeat(1 + self.below(3) as usize)
    }
}

/// An id of `n` bytes, now and then of another length, all zeros or absent.
fn id(rng: &mut Rng, n: usize) -> Vec<u8> {
    match rng.below(40) {
        0 => Vec::new(),
        1 => vec![0; n],
        2 => rng.bytes(n + 1),
        _ => rng.bytes(n),
    }
}

fn value(rng: &mut Rng, depth: u32) -> Option<OtlpValue> {
    let v = match rng.below(if depth > 2 { 5 } else { 8 }) {
        0 => Value::StringValue(rng.text()),
        1 => Value::BoolValue(rng.one_in(2)),
        2 => Value::IntValue(rng.next() as i64),
        3 => Value::DoubleValue(f64::from_bits(rng.next())),
        4 => {
            let n = rng.below(5) as usize;
            Value::BytesValue(rng.bytes(n))
        }
        5 => Value::ArrayValue(ArrayValue {
            values: (0..rng.below(4))
                .map(|_| value(rng, depth + 1).unwrap_or_default())
                .collect(),
        }),
        6 => Value::KvlistValue(KeyValueList {
            values: attrs(rng, depth + 1, 3),
        }),
        _ => return None,
    };
    Some(OtlpValue { value: Some(v) })
}

/// Up to `n` attributes; some without a value, some with an empty one.
fn attrs(rng: &mut Rng, depth: u32, n: u64) -> Vec<KeyValue> {
    (0..rng.below(n + 1))
        .map(|i| KeyValue {
            key: format!("k{i}.{}", rng.text()),
            value: if rng.one_in(12) {
                None
            } else {
                Some(value(rng, depth).unwrap_or_default())
            },
            ..Default::default()
        })
        .collect()
}

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
        name: rng.text(),
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
                name: rng.text(),
                attributes: attrs(rng, 0, 3),
                dropped_attributes_count: rng.below(2) as u32,
            })
            .collect(),
        dropped_events_count: rng.below(2) as u32,
        links: (0..rng.below(3))
            .map(|_| Link {
                trace_id: id(rng, 16),
                span_id: id(rng, 8),
                trace_state: rng.text(),
                attributes: attrs(rng, 0, 3),
                dropped_attributes_count: rng.below(2) as u32,
                flags: rng.next() as u32,
            })
            .collect(),
        dropped_links_count: rng.below(2) as u32,
        status: match rng.below(3) {
            0 => None,
            _ => Some(Status {
                message: rng.text(),
                code: rng.below(4) as i32,
            }),
        },
    }
}

fn request(rng: &mut Rng) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: (0..1 + rng.below(3))
            .map(|_| {
                let mut res = attrs(rng, 0, 4);
                if !rng.one_in(5) {
                    res.push(KeyValue {
                        key: "service.name".into(),
                        value: value(rng, 3).or_else(|| {
                            Some(OtlpValue {
                                value: Some(Value::StringValue("api".into())),
                            })
                        }),
                        ..Default::default()
                    });
                }
                ResourceSpans {
                    resource: (!rng.one_in(6)).then(|| Resource {
                        attributes: res,
                        ..Default::default()
                    }),
                    scope_spans: (0..1 + rng.below(2))
                        .map(|_| ScopeSpans {
                            scope: (!rng.one_in(4)).then(|| InstrumentationScope {
                                name: rng.text(),
                                version: rng.text(),
                                ..Default::default()
                            }),
                            spans: (0..rng.below(6)).map(|_| span(rng)).collect(),
                            schema_url: rng.text(),
                        })
                        .collect(),
                    schema_url: String::new(),
                }
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

#[test]
fn random_requests_translate_as_the_general_path_translates_them() {
    let mut rng = Rng(0x5EED_0001);
    let (mut spans, mut refused, mut empty) = (0, 0, 0);
    for _ in 0..400 {
        let body = request(&mut rng).encode_to_vec();
        let fast = translate(&body).expect("a plain request is read in place");
        assert_eq!(Some(format!("{fast:?}")), general(&body));
        spans += fast.records.len();
        refused += fast.rejected.rejected_total();
        empty += fast.empty_values;
    }
    // The requests did exercise what they are meant to.
    assert!(
        spans > 500 && refused > 50 && empty > 100,
        "{spans} {refused} {empty}"
    );
}

#[test]
fn damaged_bodies_are_refused_or_read_as_the_general_path_reads_them() {
    let mut rng = Rng(0x5EED_0002);
    let (mut read, mut declined) = (0, 0);
    for _ in 0..3_000 {
        let mut body = request(&mut rng).encode_to_vec();
        if body.is_empty() {
            continue;
        }
        for _ in 0..1 + rng.below(3) {
            let i = rng.below(body.len() as u64) as usize;
            match rng.below(3) {
                0 => body[i] ^= 1 << rng.below(8),
                1 => body[i] = rng.next() as u8,
                _ => body.truncate(i),
            }
            if body.is_empty() {
                break;
            }
        }
        match translate(&body) {
            Some(fast) => {
                assert_eq!(Some(format!("{fast:?}")), general(&body));
                read += 1;
            }
            None => declined += 1,
        }
    }
    assert!(
        read > 100 && declined > 100,
        "{read} read, {declined} declined"
    );
}

/// A body with one more field appended to the first span's bytes, lengths fixed up.
fn with_span_field(extra: &[u8]) -> Vec<u8> {
    let span = Span {
        trace_id: vec![1; 16],
        span_id: vec![2; 8],
        name: "op".into(),
        ..Default::default()
    };
    let mut span_bytes = span.encode_to_vec();
    span_bytes.extend_from_slice(extra);
    let scope = [vec![0x12], varint(span_bytes.len()), span_bytes].concat();
    let rs = [vec![0x12], varint(scope.len()), scope].concat();
    [vec![0x0A], varint(rs.len()), rs].concat()
}

fn varint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

#[test]
fn what_prost_would_merge_skip_or_refuse_is_left_to_it() {
    let status = Status {
        message: "m".into(),
        code: 2,
    }
    .encode_to_vec();
    let status_field = [vec![0x7A], varint(status.len()), status].concat();
    let two_values = OtlpValue {
        value: Some(Value::IntValue(1)),
    }
    .encode_to_vec()
    .into_iter()
    .chain(
        OtlpValue {
            value: Some(Value::BoolValue(true)),
        }
        .encode_to_vec(),
    )
    .collect::<Vec<u8>>();
    let kv = [
        vec![0x0A, 1, b'k', 0x12],
        varint(two_values.len()),
        two_values,
    ]
    .concat();
    let attr_field = [vec![0x4A], varint(kv.len()), kv].concat();
    let cases: [(&str, Vec<u8>); 5] = [
        ("an unknown field (skipped by prost)", vec![0xA0, 0x06, 1]),
        (
            "status twice (merged by prost)",
            [status_field.clone(), status_field].concat(),
        ),
        ("an AnyValue with two fields", attr_field),
        ("invalid UTF-8 in the name", vec![0x2A, 2, 0xC3, 0x28]),
        ("a known field of the wrong wire type", vec![0x28, 1]),
    ];
    for (what, extra) in cases {
        let body = with_span_field(&extra);
        assert!(translate(&body).is_none(), "{what}");
    }
    // The same framing with nothing odd is read in place, as the general path reads it.
    let plain = with_span_field(&[]);
    let fast = translate(&plain).expect("plain span");
    assert_eq!(fast.records.len(), 1);
    assert_eq!(Some(format!("{fast:?}")), general(&plain));
}

#[test]
fn values_nested_past_the_readers_depth_are_left_to_prost() {
    let mut v = OtlpValue {
        value: Some(Value::IntValue(7)),
    };
    for _ in 0..40 {
        v = OtlpValue {
            value: Some(Value::ArrayValue(ArrayValue { values: vec![v] })),
        };
    }
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            scope_spans: vec![ScopeSpans {
                spans: vec![Span {
                    trace_id: vec![1; 16],
                    span_id: vec![2; 8],
                    attributes: vec![KeyValue {
                        key: "deep".into(),
                        value: Some(v),
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
