//! Tempo's JSON of its protobuf answers: what gogo's `jsonpb.Marshaler{}` writes, which is
//! what Tempo answers and Grafana's datasource parses (`jsonpb.Unmarshal`, strict about
//! unknown fields in places). Unlike the OTLP/JSON spec:
//!
//! - ids (`traceId`, `spanId`, `parentSpanId`) are **base64**, as every `bytes` field;
//! - enums are their names (`SPAN_KIND_SERVER`, `STATUS_CODE_ERROR`);
//! - 64-bit integers are strings (`"startTimeUnixNano":"1700000000000000000"`,
//!   `"intValue":"42"`), 32-bit ones numbers;
//! - fields holding their zero value are left out, except the one set field of a oneof
//!   (`{"boolValue":false}`);
//! - non-finite doubles are `"NaN"`, `"Infinity"`, `"-Infinity"`.
//!
//! v1 trace by id renames the first `resourceSpans` to `batches` (Tempo's
//! `MarshalToJSONV1`).

use base64::Engine as _;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, Span};
use serde_json::{Map, Value, json};

/// base64 with padding, as jsonpb writes `bytes`.
pub(crate) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A double as jsonpb writes it.
pub(crate) fn double(d: f64) -> Value {
    if d.is_nan() {
        json!("NaN")
    } else if d.is_infinite() {
        json!(if d > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(d)
    }
}

/// Builds a JSON object leaving zero values out, as jsonpb does.
#[derive(Default)]
struct Obj(Map<String, Value>);

impl Obj {
    fn str(mut self, k: &str, v: &str) -> Self {
        if !v.is_empty() {
            self.0.insert(k.into(), json!(v));
        }
        self
    }
    fn bytes(mut self, k: &str, v: &[u8]) -> Self {
        if !v.is_empty() {
            self.0.insert(k.into(), json!(b64(v)));
        }
        self
    }
    fn u32(mut self, k: &str, v: u32) -> Self {
        if v != 0 {
            self.0.insert(k.into(), json!(v));
        }
        self
    }
    fn u64(mut self, k: &str, v: u64) -> Self {
        if v != 0 {
            self.0.insert(k.into(), json!(v.to_string()));
        }
        self
    }
    fn list(mut self, k: &str, v: Vec<Value>) -> Self {
        if !v.is_empty() {
            self.0.insert(k.into(), Value::Array(v));
        }
        self
    }
    fn opt(mut self, k: &str, v: Option<Value>) -> Self {
        if let Some(v) = v {
            self.0.insert(k.into(), v);
        }
        self
    }
    fn enumeration(mut self, k: &str, n: i32, name: Option<&str>) -> Self {
        if n != 0 {
            self.0
                .insert(k.into(), name.map_or_else(|| json!(n), |s| json!(s)));
        }
        self
    }
    fn done(self) -> Value {
        Value::Object(self.0)
    }
}

/// An OTLP value.
pub(crate) fn any_value(v: &AnyValue) -> Value {
    use any_value::Value as V;
    let (k, v) = match &v.value {
        None => return json!({}),
        Some(V::StringValue(s)) => ("stringValue", json!(s)),
        Some(V::BoolValue(b)) => ("boolValue", json!(b)),
        Some(V::IntValue(i)) => ("intValue", json!(i.to_string())),
        Some(V::DoubleValue(d)) => ("doubleValue", double(*d)),
        Some(V::BytesValue(b)) => ("bytesValue", json!(b64(b))),
        Some(V::ArrayValue(a)) => (
            "arrayValue",
            Obj::default()
                .list("values", a.values.iter().map(any_value).collect())
                .done(),
        ),
        Some(V::KvlistValue(l)) => (
            "kvlistValue",
            Obj::default().list("values", key_values(&l.values)).done(),
        ),
        // A string-table index (OTLP profiles only); never built from stored spans.
        Some(V::StringValueStrindex(i)) => ("stringValueStrindex", json!(i)),
    };
    let mut m = Map::new();
    m.insert(k.into(), v);
    Value::Object(m)
}

/// OTLP key-values.
pub(crate) fn key_values(kvs: &[KeyValue]) -> Vec<Value> {
    kvs.iter()
        .map(|kv| {
            Obj::default()
                .str("key", &kv.key)
                .opt("value", kv.value.as_ref().map(any_value))
                .done()
        })
        .collect()
}

fn kind_name(k: i32) -> Option<&'static str> {
    Some(match k {
        1 => "SPAN_KIND_INTERNAL",
        2 => "SPAN_KIND_SERVER",
        3 => "SPAN_KIND_CLIENT",
        4 => "SPAN_KIND_PRODUCER",
        5 => "SPAN_KIND_CONSUMER",
        _ => return None,
    })
}

fn status_name(c: i32) -> Option<&'static str> {
    Some(match c {
        1 => "STATUS_CODE_OK",
        2 => "STATUS_CODE_ERROR",
        _ => return None,
    })
}

fn span(s: &Span) -> Value {
    Obj::default()
        .bytes("traceId", &s.trace_id)
        .bytes("spanId", &s.span_id)
        .str("traceState", &s.trace_state)
        .bytes("parentSpanId", &s.parent_span_id)
        .u32("flags", s.flags)
        .str("name", &s.name)
        .enumeration("kind", s.kind, kind_name(s.kind))
        .u64("startTimeUnixNano", s.start_time_unix_nano)
        .u64("endTimeUnixNano", s.end_time_unix_nano)
        .list("attributes", key_values(&s.attributes))
        .u32("droppedAttributesCount", s.dropped_attributes_count)
        .list(
            "events",
            s.events
                .iter()
                .map(|e| {
                    Obj::default()
                        .u64("timeUnixNano", e.time_unix_nano)
                        .str("name", &e.name)
                        .list("attributes", key_values(&e.attributes))
                        .u32("droppedAttributesCount", e.dropped_attributes_count)
                        .done()
                })
                .collect(),
        )
        .u32("droppedEventsCount", s.dropped_events_count)
        .list(
            "links",
            s.links
                .iter()
                .map(|l| {
                    Obj::default()
                        .bytes("traceId", &l.trace_id)
                        .bytes("spanId", &l.span_id)
                        .str("traceState", &l.trace_state)
                        .list("attributes", key_values(&l.attributes))
                        .u32("droppedAttributesCount", l.dropped_attributes_count)
                        .u32("flags", l.flags)
                        .done()
                })
                .collect(),
        )
        .u32("droppedLinksCount", s.dropped_links_count)
        .opt(
            "status",
            s.status.as_ref().map(|st| {
                Obj::default()
                    .str("message", &st.message)
                    .enumeration("code", st.code, status_name(st.code))
                    .done()
            }),
        )
        .done()
}

/// OTLP resource spans.
pub(crate) fn resource_spans(rs: &[ResourceSpans]) -> Vec<Value> {
    rs.iter()
        .map(|r| {
            Obj::default()
                .opt(
                    "resource",
                    r.resource.as_ref().map(|res| {
                        Obj::default()
                            .list("attributes", key_values(&res.attributes))
                            .u32("droppedAttributesCount", res.dropped_attributes_count)
                            .done()
                    }),
                )
                .list(
                    "scopeSpans",
                    r.scope_spans
                        .iter()
                        .map(|ss| {
                            Obj::default()
                                .opt(
                                    "scope",
                                    ss.scope.as_ref().map(|sc| {
                                        Obj::default()
                                            .str("name", &sc.name)
                                            .str("version", &sc.version)
                                            .list("attributes", key_values(&sc.attributes))
                                            .done()
                                    }),
                                )
                                .list("spans", ss.spans.iter().map(span).collect())
                                .str("schemaUrl", &ss.schema_url)
                                .done()
                        })
                        .collect(),
                )
                .str("schemaUrl", &r.schema_url)
                .done()
        })
        .collect()
}

/// A v1 `Trace`: `{"batches":[...]}`.
pub(crate) fn trace_v1(rs: &[ResourceSpans]) -> Value {
    Obj::default().list("batches", resource_spans(rs)).done()
}

/// A v2 `TraceByIDResponse` of a complete trace: `{"trace":{"resourceSpans":[...]},
/// "metrics":{}}` (`status` COMPLETE is the zero value, so jsonpb leaves it out).
pub(crate) fn trace_v2(rs: &[ResourceSpans]) -> Value {
    json!({
        "trace": Obj::default().list("resourceSpans", resource_spans(rs)).done(),
        "metrics": {},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::Status;

    #[test]
    fn spans_as_jsonpb_writes_them() {
        let s = Span {
            trace_id: vec![0xab; 16],
            span_id: vec![1; 8],
            name: "GET".into(),
            kind: 2,
            start_time_unix_nano: 1_700_000_000_000_000_001,
            end_time_unix_nano: 1_700_000_000_000_000_002,
            attributes: vec![
                KeyValue {
                    key: "n".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::IntValue(0)),
                    }),
                    ..Default::default()
                },
                KeyValue {
                    key: "x".into(),
                    value: Some(AnyValue {
                        value: Some(any_value::Value::DoubleValue(f64::NAN)),
                    }),
                    ..Default::default()
                },
            ],
            status: Some(Status {
                message: String::new(),
                code: 2,
            }),
            ..Default::default()
        };
        let v = span(&s);
        assert_eq!(
            v,
            json!({
                "traceId": "q6urq6urq6urq6urq6urqw==",
                "spanId": "AQEBAQEBAQE=",
                "name": "GET",
                "kind": "SPAN_KIND_SERVER",
                "startTimeUnixNano": "1700000000000000001",
                "endTimeUnixNano": "1700000000000000002",
                "attributes": [
                    {"key": "n", "value": {"intValue": "0"}},
                    {"key": "x", "value": {"doubleValue": "NaN"}}
                ],
                "status": {"code": "STATUS_CODE_ERROR"}
            })
        );
        assert_eq!(trace_v1(&[]), json!({}));
    }
}
