//! The Jaeger query service's JSON (the `structuredResponse` of its HTTP API and the UI
//! model: traces with spans, typed tags, logs and a processes map) and the mapping of
//! stored spans onto it, as Jaeger's own OTLP translator does it:
//!
//! - the parent is a `CHILD_OF` reference, links are `FOLLOWS_FROM` references;
//! - times in microseconds; ids in lower-case hex (32 and 16 digits);
//! - span kind, status, scope and trace state become tags (`span.kind`,
//!   `otel.status_code`, `otel.status_description`, `error`, `otel.scope.name`,
//!   `otel.scope.version`, `w3c.tracestate`); the scope's attributes, which Jaeger's
//!   translator drops, become tags `otel.scope.attributes.<key>` (Strata's own naming:
//!   no convention names them);
//! - events become logs (`event` field first, then the event's attributes);
//! - a process per distinct (service, resource attributes), `p1`, `p2`, ... in first-seen
//!   order; its tags are the resource attributes without `service.name`.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use strata_engine::{AnyValue, SpanRecord};

/// The envelope of every Jaeger API answer.
#[derive(Debug, Serialize)]
pub(crate) struct Response<T: Serialize> {
    pub(crate) data: Option<T>,
    pub(crate) total: usize,
    pub(crate) limit: usize,
    pub(crate) offset: usize,
    pub(crate) errors: Option<Vec<ResponseError>>,
}

/// One entry of `errors`.
#[derive(Debug, Serialize)]
pub(crate) struct ResponseError {
    pub(crate) code: u16,
    pub(crate) msg: String,
}

impl<T: Serialize> Response<T> {
    /// `data` with `total` its length where it is a list.
    pub(crate) fn ok(data: T, total: usize) -> Self {
        Self {
            data: Some(data),
            total,
            limit: 0,
            offset: 0,
            errors: None,
        }
    }
}

/// A typed key-value: `string`, `bool`, `int64`, `float64` or `binary` (base64).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Tag {
    pub(crate) key: String,
    #[serde(rename = "type")]
    pub(crate) kind: &'static str,
    pub(crate) value: Value,
}

/// A span reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Reference {
    #[serde(rename = "refType")]
    pub(crate) ref_type: &'static str,
    #[serde(rename = "traceID")]
    pub(crate) trace_id: String,
    #[serde(rename = "spanID")]
    pub(crate) span_id: String,
}

/// A timed set of fields (an OTLP span event).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Log {
    pub(crate) timestamp: i64,
    pub(crate) fields: Vec<Tag>,
}

/// One span.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Span {
    #[serde(rename = "traceID")]
    pub(crate) trace_id: String,
    #[serde(rename = "spanID")]
    pub(crate) span_id: String,
    pub(crate) flags: u32,
    #[serde(rename = "operationName")]
    pub(crate) operation_name: String,
    pub(crate) references: Vec<Reference>,
    #[serde(rename = "startTime")]
    pub(crate) start_time: i64,
    pub(crate) duration: i64,
    pub(crate) tags: Vec<Tag>,
    pub(crate) logs: Vec<Log>,
    #[serde(rename = "processID")]
    pub(crate) process_id: String,
    pub(crate) warnings: Option<Vec<String>>,
}

/// The service (and its resource attributes) that emitted spans.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Process {
    #[serde(rename = "serviceName")]
    pub(crate) service_name: String,
    pub(crate) tags: Vec<Tag>,
}

/// One trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Trace {
    #[serde(rename = "traceID")]
    pub(crate) trace_id: String,
    pub(crate) spans: Vec<Span>,
    pub(crate) processes: BTreeMap<String, Process>,
    pub(crate) warnings: Option<Vec<String>>,
}

/// An operation of `/api/operations`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub(crate) struct Operation {
    pub(crate) name: String,
    #[serde(rename = "spanKind")]
    pub(crate) span_kind: &'static str,
}

/// The Jaeger name of an OTLP span kind (`SPAN_KIND_*` numbers); empty for unspecified.
pub(crate) fn span_kind_name(kind: i32) -> &'static str {
    match kind {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "",
    }
}

/// The OTLP span kind number of a Jaeger kind name.
pub(crate) fn span_kind_number(name: &str) -> Option<i32> {
    (1..=5).find(|&k| span_kind_name(k) == name)
}

/// Lower-case hex.
pub(crate) fn hex_id(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// A tag for an OTLP value, typed as Jaeger types them (arrays and maps as their OTLP/JSON
/// text, typed `string`).
pub(crate) fn tag(key: &str, value: &AnyValue) -> Tag {
    let (kind, value) = match value {
        AnyValue::String(s) => ("string", Value::from(s.as_str())),
        AnyValue::Bool(b) => ("bool", Value::from(*b)),
        AnyValue::Int(i) => ("int64", Value::from(*i)),
        // JSON has no NaN or infinities: those go as strings, still typed float64.
        AnyValue::Double(d) if d.is_finite() => ("float64", Value::from(*d)),
        AnyValue::Double(_) | AnyValue::Bytes(_) => {
            let kind = if matches!(value, AnyValue::Bytes(_)) {
                "binary"
            } else {
                "float64"
            };
            (kind, Value::from(value.to_text()))
        }
        AnyValue::Array(_) | AnyValue::KvList(_) => ("string", Value::from(value.to_text())),
    };
    Tag {
        key: key.to_owned(),
        kind,
        value,
    }
}

fn string_tag(key: &str, value: &str) -> Tag {
    tag(key, &AnyValue::String(value.to_owned()))
}

/// Nanoseconds to Jaeger's microseconds.
fn micros(ns: i64) -> i64 {
    ns.div_euclid(1_000)
}

/// The prefix of the tags that hold the scope's attributes.
pub(crate) const SCOPE_ATTRIBUTE_TAG: &str = "otel.scope.attributes.";

/// The span's own tags, then those Jaeger derives from OTLP fields.
fn span_tags(s: &SpanRecord) -> Vec<Tag> {
    let mut tags: Vec<Tag> = s.attributes.iter().map(|(k, v)| tag(k, v)).collect();
    if !s.scope.name.is_empty() {
        tags.push(string_tag("otel.scope.name", &s.scope.name));
    }
    if !s.scope.version.is_empty() {
        tags.push(string_tag("otel.scope.version", &s.scope.version));
    }
    for (k, v) in &s.scope.attributes {
        tags.push(tag(&format!("{SCOPE_ATTRIBUTE_TAG}{k}"), v));
    }
    let kind = span_kind_name(s.kind);
    if !kind.is_empty() {
        tags.push(string_tag("span.kind", kind));
    }
    match s.status_code {
        1 => tags.push(string_tag("otel.status_code", "OK")),
        2 => {
            tags.push(string_tag("otel.status_code", "ERROR"));
            tags.push(tag("error", &AnyValue::Bool(true)));
        }
        _ => {}
    }
    if !s.status_message.is_empty() {
        tags.push(string_tag("otel.status_description", &s.status_message));
    }
    if !s.trace_state.is_empty() {
        tags.push(string_tag("w3c.tracestate", &s.trace_state));
    }
    tags
}

/// The spans of one trace (any order) as Jaeger shows them: spans by start time, processes
/// numbered in that order.
pub(crate) fn trace(trace_id: &[u8; 16], spans: &[SpanRecord]) -> Trace {
    let mut ordered: Vec<&SpanRecord> = spans.iter().collect();
    ordered.sort_by_key(|s| (s.start_ns, s.span_id));
    let mut processes: Vec<Process> = Vec::new();
    let mut out = Vec::with_capacity(ordered.len());
    for s in ordered {
        let process = Process {
            service_name: s.service_name.clone(),
            tags: s
                .resource_attributes
                .iter()
                .filter(|(k, _)| k != "service.name")
                .map(|(k, v)| tag(k, v))
                .collect(),
        };
        let index = match processes.iter().position(|p| *p == process) {
            Some(i) => i,
            None => {
                processes.push(process);
                processes.len() - 1
            }
        };
        let mut references = Vec::with_capacity(1 + s.links.len());
        if let Some(parent) = &s.parent_span_id {
            references.push(Reference {
                ref_type: "CHILD_OF",
                trace_id: hex_id(&s.trace_id),
                span_id: hex_id(parent),
            });
        }
        references.extend(s.links.iter().map(|l| Reference {
            ref_type: "FOLLOWS_FROM",
            trace_id: hex_id(&l.trace_id),
            span_id: hex_id(&l.span_id),
        }));
        let logs = s
            .events
            .iter()
            .map(|e| {
                let mut fields = vec![string_tag("event", &e.name)];
                fields.extend(e.attributes.iter().map(|(k, v)| tag(k, v)));
                Log {
                    timestamp: micros(e.time_ns),
                    fields,
                }
            })
            .collect();
        out.push(Span {
            trace_id: hex_id(&s.trace_id),
            span_id: hex_id(&s.span_id),
            flags: s.flags,
            operation_name: s.name.clone(),
            references,
            start_time: micros(s.start_ns),
            duration: micros(s.end_ns) - micros(s.start_ns),
            tags: span_tags(s),
            logs,
            process_id: format!("p{}", index + 1),
            warnings: None,
        });
    }
    Trace {
        trace_id: hex_id(trace_id),
        spans: out,
        processes: processes
            .into_iter()
            .enumerate()
            .map(|(i, p)| (format!("p{}", i + 1), p))
            .collect(),
        warnings: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strata_engine::{Scope, SpanEvent, SpanLink};

    fn span(id: u8, parent: Option<u8>, start_us: i64) -> SpanRecord {
        SpanRecord {
            trace_id: [7; 16],
            span_id: [id; 8],
            parent_span_id: parent.map(|p| [p; 8]),
            service_name: "shop".into(),
            name: format!("op{id}"),
            kind: 2,
            start_ns: start_us * 1_000,
            end_ns: start_us * 1_000 + 2_500_000,
            status_code: 2,
            status_message: "boom".into(),
            attributes: vec![
                ("http.route".into(), AnyValue::String("/cart".into())),
                ("retries".into(), AnyValue::Int(3)),
                ("ratio".into(), AnyValue::Double(0.5)),
                ("cached".into(), AnyValue::Bool(false)),
                ("raw".into(), AnyValue::Bytes(vec![1, 2])),
                (
                    "list".into(),
                    AnyValue::Array(vec![AnyValue::Int(1), AnyValue::String("a".into())]),
                ),
            ],
            resource_attributes: vec![
                ("service.name".into(), AnyValue::String("shop".into())),
                ("host.name".into(), AnyValue::String("h1".into())),
            ]
            .into(),
            scope: Scope {
                name: "lib".into(),
                version: "1.2".into(),
                attributes: vec![("team".into(), AnyValue::Int(7))],
            }
            .into(),
            events: vec![SpanEvent {
                time_ns: start_us * 1_000 + 1_000,
                name: "retry".into(),
                attributes: vec![("attempt".into(), AnyValue::Int(2))],
                dropped_attributes_count: 0,
            }],
            links: vec![SpanLink {
                trace_id: [9; 16],
                span_id: [4; 8],
                ..SpanLink::default()
            }],
            ..SpanRecord::default()
        }
    }

    #[test]
    fn spans_map_as_jaegers_translator_maps_them() {
        let t = trace(&[7; 16], &[span(2, Some(1), 2_000), span(1, None, 1_000)]);
        assert_eq!(t.trace_id, "07".repeat(16));
        assert_eq!(t.spans.len(), 2);
        let (root, child) = (&t.spans[0], &t.spans[1]);
        assert_eq!(root.operation_name, "op1", "ordered by start");
        assert_eq!(root.references[0].ref_type, "FOLLOWS_FROM");
        assert_eq!(child.references[0].ref_type, "CHILD_OF");
        assert_eq!(child.references[0].span_id, "01".repeat(8));
        assert_eq!((child.start_time, child.duration), (2_000, 2_500));
        let json = serde_json::to_value(child).unwrap();
        let tags = json["tags"].as_array().unwrap();
        let find = |k: &str| tags.iter().find(|t| t["key"] == k).cloned().unwrap();
        assert_eq!(
            find("retries"),
            serde_json::json!({"key":"retries","type":"int64","value":3})
        );
        assert_eq!(find("ratio")["type"], "float64");
        assert_eq!(find("cached")["value"], false);
        assert_eq!(
            find("raw"),
            serde_json::json!({"key":"raw","type":"binary","value":"AQI="})
        );
        assert_eq!(find("list")["type"], "string");
        assert_eq!(find("span.kind")["value"], "server");
        assert_eq!(find("otel.status_code")["value"], "ERROR");
        assert_eq!(find("error")["value"], true);
        assert_eq!(find("otel.status_description")["value"], "boom");
        assert_eq!(find("otel.scope.name")["value"], "lib");
        assert_eq!(
            find("otel.scope.attributes.team"),
            serde_json::json!({"key":"otel.scope.attributes.team","type":"int64","value":7})
        );
        assert_eq!(
            json["logs"][0]["fields"][0],
            serde_json::json!({"key":"event","type":"string","value":"retry"})
        );
        assert_eq!(json["logs"][0]["timestamp"], 2_001);
        assert_eq!(json["processID"], "p1");
        let process = &t.processes["p1"];
        assert_eq!(process.service_name, "shop");
        assert_eq!(process.tags, vec![string_tag("host.name", "h1")]);
    }

    #[test]
    fn span_kinds_round_trip() {
        for k in 1..=5 {
            assert_eq!(span_kind_number(span_kind_name(k)), Some(k));
        }
        assert_eq!(span_kind_name(0), "");
    }
}
