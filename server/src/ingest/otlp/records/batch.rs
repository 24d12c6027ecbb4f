//! What the spans and logs translations share: OTLP values to the engine's [`AnyValue`],
//! `service.name` from the resource, ids through the engine's [`parse_id`], and
//! [`Batch`], the records of one request with what translation rejected.
//!
//! Translation takes the decoded request by value: strings and bytes move into the
//! records, and each resource's attributes and each scope are built once, shared by their
//! records.

use std::sync::Arc;

use opentelemetry_proto::tonic::common::v1::{
    AnyValue as OtlpValue, InstrumentationScope, KeyValue, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use strata_engine::{AnyValue, Attributes, Scope, SignalOutcome, SignalReject, parse_id};

use super::super::semconv::SERVICE_NAME;

/// The `service.name` OTLP's resource semantic conventions prescribe when a resource has
/// none.
pub(crate) const UNKNOWN_SERVICE: &str = "unknown_service";

/// The records of one OTLP request and what translation refused before the engine saw them.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Batch<R> {
    /// Records to write, in request order.
    pub(crate) records: Vec<R>,
    /// Records refused by translation (wrong-length or all-zero ids), by reason, with the
    /// first message of each; `accepted` is 0.
    pub(crate) rejected: SignalOutcome,
    /// Attributes, array elements and kvlist entries without a value (OTLP's empty
    /// `AnyValue`), dropped; an attribute dropped so is in its record's
    /// `dropped_attributes_count` too.
    pub(crate) empty_values: u64,
}

impl<R> Batch<R> {
    /// Refuses one record for `reason`.
    pub(crate) fn reject(&mut self, reason: SignalReject, message: impl FnOnce() -> String) {
        *self.rejected.rejected.entry(reason).or_default() += 1;
        self.rejected.messages.entry(reason).or_insert_with(message);
    }

    /// The request's whole outcome: translation's rejections added to what the engine did
    /// with [`Batch::records`] (translation's message first for a reason both report).
    pub(crate) fn outcome(&self, engine: SignalOutcome) -> SignalOutcome {
        let mut out = engine;
        for (reason, n) in &self.rejected.rejected {
            *out.rejected.entry(*reason).or_default() += n;
        }
        for (reason, m) in &self.rejected.messages {
            out.messages.insert(*reason, m.clone());
        }
        out
    }
}

/// Converts values, counting the empty ones it drops.
#[derive(Debug, Default)]
pub(crate) struct Values {
    /// Empty values dropped so far.
    pub(crate) empty: u64,
    /// The list the protobuf readers collect a record's attributes in, reused from record
    /// to record ([`Values::take_list`], [`Values::exact`]).
    list: Attributes,
}

impl Values {
    /// The (empty) list to collect a record's attributes in.
    pub(crate) fn take_list(&mut self) -> Attributes {
        std::mem::take(&mut self.list)
    }

    /// The attributes collected in `list` (from [`Values::take_list`]), in a vector of their
    /// exact size; `list` is kept, emptied, for the next record. A vector grown push by
    /// push costs a span's usual 5-8 attributes an allocation, a reallocation with a copy,
    /// and up to half its capacity unused while the record waits in memory: ~9% of the
    /// span reader's instructions (`docs/benchmarks-history.md`, "UTF-8 checks").
    pub(crate) fn exact(&mut self, mut list: Attributes) -> Attributes {
        let mut exact = Vec::with_capacity(list.len());
        exact.append(&mut list);
        self.list = list;
        exact
    }

    /// The engine's value for an OTLP value; `None` for an empty one (no value set, or a
    /// profiles-only string table reference), which is counted. Empty array elements and
    /// kvlist entries are dropped and counted the same way.
    pub(crate) fn value(&mut self, v: Option<OtlpValue>) -> Option<AnyValue> {
        use any_value::Value as V;
        let value = match v.and_then(|v| v.value) {
            None | Some(V::StringValueStrindex(_)) => {
                self.empty += 1;
                return None;
            }
            Some(V::StringValue(s)) => AnyValue::String(s),
            Some(V::BoolValue(b)) => AnyValue::Bool(b),
            Some(V::IntValue(i)) => AnyValue::Int(i),
            Some(V::DoubleValue(d)) => AnyValue::Double(d),
            Some(V::BytesValue(b)) => AnyValue::Bytes(b),
            Some(V::ArrayValue(a)) => AnyValue::Array(
                a.values
                    .into_iter()
                    .filter_map(|v| self.value(Some(v)))
                    .collect(),
            ),
            Some(V::KvlistValue(kvs)) => AnyValue::KvList(self.pairs(kvs.values)),
        };
        Some(value)
    }

    /// Key-value pairs, in order, without the empty ones.
    fn pairs(&mut self, kvs: Vec<KeyValue>) -> Attributes {
        let mut out = Vec::with_capacity(kvs.len());
        for kv in kvs {
            if let Some(v) = self.value(kv.value) {
                out.push((kv.key, v));
            }
        }
        out
    }

    /// Attributes of a span, event, link or log record: those without a value are dropped,
    /// counted, and added to `dropped` (the record's `dropped_attributes_count`).
    pub(crate) fn attributes(&mut self, kvs: Vec<KeyValue>, dropped: &mut u32) -> Attributes {
        let sent = kvs.len();
        let out = self.pairs(kvs);
        let top_level = sent - out.len();
        *dropped = dropped.saturating_add(u32::try_from(top_level).unwrap_or(u32::MAX));
        out
    }

    /// The resource's attributes (as sent, without empty values), to be shared by its
    /// records, and its `service.name`: the attribute's text form, or [`UNKNOWN_SERVICE`]
    /// when it is absent or empty.
    pub(crate) fn resource(&mut self, resource: Option<Resource>) -> (Arc<Attributes>, String) {
        let attrs = resource.map_or_else(Vec::new, |r| self.pairs(r.attributes));
        let service = attrs
            .iter()
            .find(|(k, _)| k == SERVICE_NAME)
            .map(|(_, v)| v.to_text())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| UNKNOWN_SERVICE.to_owned());
        (Arc::new(attrs), service)
    }

    /// The scope's name, version and, if `attributes` keeps them, attributes (as sent,
    /// without empty values), to be shared by its records. Its dropped attribute count is
    /// not stored.
    pub(crate) fn scope(
        &mut self,
        s: Option<InstrumentationScope>,
        attributes: ScopeAttributes,
    ) -> Arc<Scope> {
        Arc::new(s.map_or_else(Scope::default, |s| Scope {
            name: s.name,
            version: s.version,
            attributes: match attributes {
                ScopeAttributes::Kept => self.pairs(s.attributes),
                ScopeAttributes::Dropped => Attributes::new(),
            },
        }))
    }
}

/// Whether a signal stores its scopes' attributes: spans do; logs keep a scope's name and
/// version only (`docs/formats/spans-logs.md`), so their scopes' attributes are not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScopeAttributes {
    /// Converted and stored.
    Kept,
    /// Left out (not converted, not counted).
    Dropped,
}

/// Nanoseconds from the wire as the engine's `i64` (past year 2262: `i64::MAX`).
pub(crate) fn nanos(ns: u64) -> i64 {
    i64::try_from(ns).unwrap_or(i64::MAX)
}

/// A required id: exactly `N` bytes, not all zeros.
pub(crate) fn required_id<const N: usize>(bytes: &[u8], what: &str) -> Result<[u8; N], String> {
    parse_id::<N>(bytes).map_err(|e| format!("{what}: {e} ({})", hex(bytes)))
}

/// An optional id: empty is `None`, otherwise as [`required_id`].
pub(crate) fn optional_id<const N: usize>(
    bytes: &[u8],
    what: &str,
) -> Result<Option<[u8; N]>, String> {
    if bytes.is_empty() {
        Ok(None)
    } else {
        required_id(bytes, what).map(Some)
    }
}

/// Lowercase hex of at most 32 bytes (an id in a message).
fn hex(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(32)];
    let mut s: String = shown.iter().map(|b| format!("{b:02x}")).collect();
    if bytes.len() > shown.len() {
        s.push_str("...");
    }
    if s.is_empty() {
        s.push_str("empty");
    }
    s
}

/// What every span or log record of one scope shares.
pub(crate) struct Context<'a> {
    pub(crate) service_name: &'a str,
    pub(crate) resource_attributes: &'a Arc<Attributes>,
    pub(crate) scope: &'a Arc<Scope>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, v: Option<any_value::Value>) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(OtlpValue { value: v }),
            ..Default::default()
        }
    }

    #[test]
    fn every_value_type_and_empty_values_dropped_and_counted() {
        use any_value::Value as V;
        use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
        let nested = V::KvlistValue(KeyValueList {
            values: vec![
                kv("b", Some(V::BytesValue(vec![0, 255]))),
                kv("gone", None),
                kv(
                    "arr",
                    Some(V::ArrayValue(ArrayValue {
                        values: vec![
                            OtlpValue {
                                value: Some(V::DoubleValue(-0.5)),
                            },
                            OtlpValue { value: None },
                        ],
                    })),
                ),
            ],
        });
        let kvs = vec![
            kv("s", Some(V::StringValue("x".into()))),
            kv("t", Some(V::BoolValue(true))),
            kv("i", Some(V::IntValue(i64::MIN))),
            kv("empty", None),
            kv("strindex", Some(V::StringValueStrindex(3))),
            kv("m", Some(nested)),
        ];
        let mut values = Values::default();
        let mut dropped = 5;
        let got = values.attributes(kvs, &mut dropped);
        assert_eq!(
            got,
            vec![
                ("s".into(), AnyValue::String("x".into())),
                ("t".into(), AnyValue::Bool(true)),
                ("i".into(), AnyValue::Int(i64::MIN)),
                (
                    "m".into(),
                    AnyValue::KvList(vec![
                        ("b".into(), AnyValue::Bytes(vec![0, 255])),
                        ("arr".into(), AnyValue::Array(vec![AnyValue::Double(-0.5)])),
                    ])
                ),
            ]
        );
        // Two top-level attributes dropped; four empty values in all.
        assert_eq!(dropped, 7);
        assert_eq!(values.empty, 4);
    }

    #[test]
    fn service_name_from_the_resource_or_unknown_service() {
        let mut values = Values::default();
        let r = Resource {
            attributes: vec![kv("service.name", Some(any_value::Value::IntValue(7)))],
            ..Default::default()
        };
        assert_eq!(values.resource(Some(r)).1, "7");
        assert_eq!(values.resource(None).1, UNKNOWN_SERVICE);
        let r = Resource {
            attributes: vec![kv(
                "service.name",
                Some(any_value::Value::StringValue("".into())),
            )],
            ..Default::default()
        };
        assert_eq!(values.resource(Some(r)).1, UNKNOWN_SERVICE);
    }

    #[test]
    fn ids_must_have_their_length_and_not_be_zero() {
        assert_eq!(required_id::<8>(&[1; 8], "span id"), Ok([1; 8]));
        let e = required_id::<8>(&[1; 7], "span id").unwrap_err();
        assert_eq!(e, "span id: id has 7 bytes, expected 8 (01010101010101)");
        let e = required_id::<16>(&[0; 16], "trace id").unwrap_err();
        assert!(e.contains("all zeros"), "{e}");
        assert!(
            required_id::<16>(&[], "trace id")
                .unwrap_err()
                .contains("(empty)")
        );
        assert_eq!(optional_id::<8>(&[], "parent"), Ok(None));
        assert!(optional_id::<8>(&[0; 8], "parent").is_err());
        assert!(
            required_id::<8>(&[9; 40], "x")
                .unwrap_err()
                .ends_with("...)")
        );
    }
}
