//! Stored spans back into OTLP's structures (the `opentelemetry-proto` types the OTLP
//! ingest decodes): one `ResourceSpans` per distinct resource, one `ScopeSpans` per scope
//! (name, version and attributes) within it, spans in start order. Everything the ingest
//! kept comes back as sent: ids, trace state, flags, kind, times, status, attributes (the
//! well-known columns' ones first, as the engine restores them), events, links and
//! dropped counts.

use opentelemetry_proto::tonic::common::v1::{
    AnyValue as ProtoValue, ArrayValue, InstrumentationScope, KeyValue, KeyValueList, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use strata_engine::{AnyValue, Scope, SpanRecord};

/// An engine value as an OTLP value.
pub(crate) fn value(v: &AnyValue) -> ProtoValue {
    let inner = match v {
        AnyValue::String(s) => any_value::Value::StringValue(s.clone()),
        AnyValue::Bool(b) => any_value::Value::BoolValue(*b),
        AnyValue::Int(i) => any_value::Value::IntValue(*i),
        AnyValue::Double(d) => any_value::Value::DoubleValue(*d),
        AnyValue::Bytes(b) => any_value::Value::BytesValue(b.clone()),
        AnyValue::Array(items) => any_value::Value::ArrayValue(ArrayValue {
            values: items.iter().map(value).collect(),
        }),
        AnyValue::KvList(pairs) => any_value::Value::KvlistValue(KeyValueList {
            values: attributes(pairs),
        }),
    };
    ProtoValue { value: Some(inner) }
}

/// An OTLP key-value.
pub(crate) fn key_value(key: &str, v: ProtoValue) -> KeyValue {
    KeyValue {
        key: key.to_owned(),
        value: Some(v),
        ..Default::default()
    }
}

/// Engine attributes as OTLP key-values, in order.
pub(crate) fn attributes(attrs: &[(String, AnyValue)]) -> Vec<KeyValue> {
    attrs.iter().map(|(k, v)| key_value(k, value(v))).collect()
}

/// The ns time as OTLP's unsigned field (times before 1970 are not stored; 0 if one were).
fn unsigned(ns: i64) -> u64 {
    u64::try_from(ns).unwrap_or(0)
}

fn span(s: &SpanRecord) -> Span {
    Span {
        trace_id: s.trace_id.to_vec(),
        span_id: s.span_id.to_vec(),
        trace_state: s.trace_state.clone(),
        parent_span_id: s.parent_span_id.map_or_else(Vec::new, |p| p.to_vec()),
        flags: s.flags,
        name: s.name.clone(),
        kind: s.kind,
        start_time_unix_nano: unsigned(s.start_ns),
        end_time_unix_nano: unsigned(s.end_ns),
        attributes: attributes(&s.attributes),
        dropped_attributes_count: s.dropped_attributes_count,
        events: s
            .events
            .iter()
            .map(|e| Event {
                time_unix_nano: unsigned(e.time_ns),
                name: e.name.clone(),
                attributes: attributes(&e.attributes),
                dropped_attributes_count: e.dropped_attributes_count,
            })
            .collect(),
        dropped_events_count: s.dropped_events_count,
        links: s
            .links
            .iter()
            .map(|l| Link {
                trace_id: l.trace_id.to_vec(),
                span_id: l.span_id.to_vec(),
                trace_state: l.trace_state.clone(),
                attributes: attributes(&l.attributes),
                dropped_attributes_count: l.dropped_attributes_count,
                ..Default::default()
            })
            .collect(),
        dropped_links_count: s.dropped_links_count,
        status: (s.status_code != 0 || !s.status_message.is_empty()).then(|| Status {
            message: s.status_message.clone(),
            code: s.status_code,
        }),
    }
}

fn scope(s: &Scope) -> Option<InstrumentationScope> {
    (!s.name.is_empty() || !s.version.is_empty() || !s.attributes.is_empty()).then(|| {
        InstrumentationScope {
            name: s.name.clone(),
            version: s.version.clone(),
            attributes: attributes(&s.attributes),
            ..Default::default()
        }
    })
}

/// A resource's spans being gathered: its first span (for the resource) and its scopes
/// with their spans.
type Group<'a> = (&'a SpanRecord, Vec<(&'a Scope, Vec<Span>)>);

/// The spans of one trace (any order) as OTLP resource spans: grouped by resource and
/// then scope in order of first appearance, spans by start time.
pub(crate) fn resource_spans(spans: &[SpanRecord]) -> Vec<ResourceSpans> {
    let mut ordered: Vec<&SpanRecord> = spans.iter().collect();
    ordered.sort_by_key(|s| (s.start_ns, s.span_id));
    // (resource of the group, scopes of the group with their spans).
    let mut groups: Vec<Group<'_>> = Vec::new();
    for s in ordered {
        let group = match groups.iter().position(|(first, _)| {
            std::sync::Arc::ptr_eq(&first.resource_attributes, &s.resource_attributes)
                || first.resource_attributes == s.resource_attributes
        }) {
            Some(i) => i,
            None => {
                groups.push((s, Vec::new()));
                groups.len() - 1
            }
        };
        let scopes = &mut groups[group].1;
        match scopes.iter_mut().find(|(sc, _)| **sc == *s.scope) {
            Some((_, list)) => list.push(span(s)),
            None => scopes.push((&s.scope, vec![span(s)])),
        }
    }
    groups
        .into_iter()
        .map(|(first, scopes)| ResourceSpans {
            resource: Some(Resource {
                attributes: attributes(&first.resource_attributes),
                ..Default::default()
            }),
            scope_spans: scopes
                .into_iter()
                .map(|(sc, spans)| ScopeSpans {
                    scope: scope(sc),
                    spans,
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn rec(id: u8, start: i64, service: &str, scope: &str) -> SpanRecord {
        SpanRecord {
            trace_id: [9; 16],
            span_id: [id; 8],
            parent_span_id: (id > 1).then_some([1; 8]),
            service_name: service.into(),
            name: format!("op{id}"),
            kind: 2,
            start_ns: start,
            end_ns: start + 10,
            status_code: 2,
            status_message: "bad".into(),
            attributes: vec![("n".into(), AnyValue::Int(i64::from(id)))],
            resource_attributes: Arc::new(vec![(
                "service.name".into(),
                AnyValue::String(service.into()),
            )]),
            scope: Arc::new(Scope {
                name: scope.into(),
                version: "1".into(),
                attributes: vec![("team".into(), AnyValue::String(scope.into()))],
            }),
            ..SpanRecord::default()
        }
    }

    #[test]
    fn groups_by_resource_then_scope_in_start_order() {
        let rs = resource_spans(&[
            rec(3, 30, "b", "lib"),
            rec(2, 20, "a", "other"),
            rec(1, 10, "a", "lib"),
        ]);
        assert_eq!(rs.len(), 2);
        let a = &rs[0];
        assert_eq!(
            a.resource.as_ref().map(|r| r.attributes[0].key.as_str()),
            Some("service.name")
        );
        assert_eq!(a.scope_spans.len(), 2);
        let sc = a.scope_spans[0].scope.as_ref().expect("scope");
        assert_eq!((sc.name.as_str(), sc.attributes.len()), ("lib", 1));
        assert_eq!(sc.attributes[0].key, "team");
        assert_eq!(a.scope_spans[0].spans[0].span_id, vec![1; 8]);
        assert!(a.scope_spans[0].spans[0].parent_span_id.is_empty());
        assert_eq!(a.scope_spans[1].spans[0].parent_span_id, vec![1; 8]);
        let s = &rs[1].scope_spans[0].spans[0];
        assert_eq!((s.start_time_unix_nano, s.end_time_unix_nano), (30, 40));
        assert_eq!(s.status.as_ref().map(|st| st.code), Some(2));
        assert_eq!(s.kind, 2);
    }
}
