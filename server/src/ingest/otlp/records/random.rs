//! What the differential tests of the in-place readers (`spans_wire_tests.rs`,
//! `logs_wire_tests.rs`) share: random OTLP values, attributes, ids, resources and scopes,
//! hand-made protobuf framing, and the two runs that hold a reader to the general path.

use std::fmt::Debug;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue as OtlpValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;

use super::batch::Batch;
use crate::ingest::test_rng::Rng;

/// Some text, empty or not ASCII now and then.
pub(super) fn text(rng: &mut Rng) -> String {
    const WORDS: [&str; 6] = ["GET", "/api/x", "", "ünïcode", "db", "a b"];
    WORDS[rng.index(WORDS.len())].repeat(1 + rng.index(3))
}

/// An id of `n` bytes, now and then of another length, all zeros or absent.
pub(super) fn id(rng: &mut Rng, n: usize) -> Vec<u8> {
    match rng.below(40) {
        0 => Vec::new(),
        1 => vec![0; n],
        2 => rng.bytes(n + 1),
        _ => rng.bytes(n),
    }
}

/// A value of any type (nested ones above `depth` 2 only), or `None` now and then.
pub(super) fn value(rng: &mut Rng, depth: u32) -> Option<OtlpValue> {
    let v = match rng.below(if depth > 2 { 5 } else { 8 }) {
        0 => Value::StringValue(text(rng)),
        1 => Value::BoolValue(rng.one_in(2)),
        2 => Value::IntValue(rng.next() as i64),
        3 => Value::DoubleValue(f64::from_bits(rng.next())),
        4 => {
            let n = rng.index(5);
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
pub(super) fn attrs(rng: &mut Rng, depth: u32, n: u64) -> Vec<KeyValue> {
    (0..rng.below(n + 1))
        .map(|i| KeyValue {
            key: format!("k{i}.{}", text(rng)),
            value: if rng.one_in(12) {
                None
            } else {
                Some(value(rng, depth).unwrap_or_default())
            },
            ..Default::default()
        })
        .collect()
}

/// A resource, mostly with a `service.name` (of any type), now and then none at all.
pub(super) fn resource(rng: &mut Rng) -> Option<Resource> {
    let mut attributes = attrs(rng, 0, 4);
    if !rng.one_in(5) {
        attributes.push(KeyValue {
            key: "service.name".into(),
            value: value(rng, 3).or_else(|| {
                Some(OtlpValue {
                    value: Some(Value::StringValue("api".into())),
                })
            }),
            ..Default::default()
        });
    }
    (!rng.one_in(6)).then(|| Resource {
        attributes,
        ..Default::default()
    })
}

/// A scope, now and then none, with up to 3 attributes.
pub(super) fn scope(rng: &mut Rng) -> Option<InstrumentationScope> {
    (!rng.one_in(4)).then(|| InstrumentationScope {
        name: text(rng),
        version: text(rng),
        attributes: attrs(rng, 0, 3),
        ..Default::default()
    })
}

/// A value nested in `levels` arrays.
pub(super) fn nested(levels: usize) -> OtlpValue {
    let mut v = OtlpValue {
        value: Some(Value::IntValue(7)),
    };
    for _ in 0..levels {
        v = OtlpValue {
            value: Some(Value::ArrayValue(ArrayValue { values: vec![v] })),
        };
    }
    v
}

/// A protobuf varint.
pub(super) fn varint(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
    out
}

/// A length-delimited field: its key byte, the length, the bytes.
pub(super) fn len_field(key: u8, bytes: &[u8]) -> Vec<u8> {
    [vec![key], varint(bytes.len()), bytes.to_vec()].concat()
}

/// A request of one resource of one scope of one record (spans and logs frame alike).
pub(super) fn framed(record: &[u8]) -> Vec<u8> {
    len_field(0x0A, &len_field(0x12, &len_field(0x12, record)))
}

/// A `KeyValue` whose `AnyValue` has two fields (an int, then a bool).
pub(super) fn two_field_attribute() -> Vec<u8> {
    let two = [
        OtlpValue {
            value: Some(Value::IntValue(1)),
        }
        .encode_to_vec(),
        OtlpValue {
            value: Some(Value::BoolValue(true)),
        }
        .encode_to_vec(),
    ]
    .concat();
    [vec![0x0A, 1, b'k'], len_field(0x12, &two)].concat()
}

/// The reader on 400 random requests: each must be read, as the general path reads it
/// (`general`: its batch as text, where NaNs compare equal), and together they must have
/// given at least `least` records read, records refused and empty values (so that they
/// did exercise what they are meant to).
pub(super) fn random_requests<R: Debug>(
    seed: u64,
    request: impl Fn(&mut Rng) -> Vec<u8>,
    fast: fn(&[u8]) -> Option<Batch<R>>,
    general: fn(&[u8]) -> Option<String>,
    attributes: fn(&R) -> &strata_engine::Attributes,
    least: [u64; 3],
) {
    let mut rng = Rng(seed);
    let mut seen = [0; 3];
    for _ in 0..400 {
        let body = request(&mut rng);
        let batch = fast(&body).expect("a plain request is read in place");
        assert_eq!(Some(format!("{batch:?}")), general(&body));
        for r in &batch.records {
            // Each record's attributes in a vector of their exact size (`Values::exact`).
            let a = attributes(r);
            assert_eq!(a.capacity(), a.len(), "{r:?}");
        }
        seen[0] += batch.records.len() as u64;
        seen[1] += batch.rejected.rejected_total();
        seen[2] += batch.empty_values;
    }
    assert!(
        seen.iter().zip(&least).all(|(s, l)| s > l),
        "records, refused, empty: {seen:?}, want more than {least:?}"
    );
}

/// The reader on 3,000 damaged random requests (bits flipped, bytes changed, cut short):
/// each must be declined or read as the general path reads it, and more than 100 of either.
pub(super) fn damaged_requests<R: Debug>(
    seed: u64,
    request: impl Fn(&mut Rng) -> Vec<u8>,
    fast: fn(&[u8]) -> Option<Batch<R>>,
    general: fn(&[u8]) -> Option<String>,
) {
    let mut rng = Rng(seed);
    let (mut read, mut declined) = (0, 0);
    for _ in 0..3_000 {
        let mut body = request(&mut rng);
        for _ in 0..1 + rng.below(3) {
            if body.is_empty() {
                break;
            }
            let i = rng.index(body.len());
            match rng.below(3) {
                0 => body[i] ^= 1 << rng.below(8),
                1 => body[i] = rng.next() as u8,
                _ => body.truncate(i),
            }
        }
        match fast(&body) {
            Some(batch) => {
                assert_eq!(Some(format!("{batch:?}")), general(&body), "{body:?}");
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

/// Each case (what it is, its bytes), appended to a plain record's bytes by `with_field`,
/// must be declined; the plain record alone is read, as the general path reads it.
pub(super) fn each_declined<R: Debug>(
    cases: &[(&str, Vec<u8>)],
    with_field: fn(&[u8]) -> Vec<u8>,
    fast: fn(&[u8]) -> Option<Batch<R>>,
    general: fn(&[u8]) -> Option<String>,
) {
    for (what, extra) in cases {
        assert!(fast(&with_field(extra)).is_none(), "{what}");
    }
    let plain = with_field(&[]);
    let batch = fast(&plain).expect("a plain record is read in place");
    assert_eq!(batch.records.len(), 1);
    assert_eq!(Some(format!("{batch:?}")), general(&plain));
}
