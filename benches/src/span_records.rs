//! Generated OTLP trace requests ([`crate::span_gen`]) as the engine's [`SpanRecord`]s, for
//! the tools that write spans through the embedded API (`bench-span-flush`,
//! `bench-span-week`) instead of over OTLP. Resources are shared per (service, attributes)
//! as the server's translation shares them per request.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use strata_engine::{AnyValue, Attributes, Scope, SpanEvent, SpanRecord};

/// A generated resource: its service name and attributes as sent.
type ResourceKey = (String, Vec<KeyValue>);

/// The resources met so far, each converted once and shared by every span it sent.
pub struct Resources {
    scope: Arc<Scope>,
    seen: Vec<(ResourceKey, Arc<Attributes>)>,
}

impl Default for Resources {
    fn default() -> Self {
        Self {
            scope: Arc::new(Scope {
                name: "opentelemetry-instrumentation".into(),
                version: "0.31.0".into(),
                ..Scope::default()
            }),
            seen: Vec::new(),
        }
    }
}

impl Resources {
    /// The spans of `req`, appended to `out` in request order.
    pub fn records(&mut self, req: ExportTraceServiceRequest, out: &mut Vec<SpanRecord>) {
        for rs in req.resource_spans {
            let attrs = rs.resource.map(|r| r.attributes).unwrap_or_default();
            let service = attrs
                .iter()
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(Value::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            let resource = self.resource(service.clone(), attrs);
            for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                let parent = span.parent_span_id.as_slice().try_into().ok();
                out.push(SpanRecord {
                    trace_id: span.trace_id.as_slice().try_into().expect("16-byte id"),
                    span_id: span.span_id.as_slice().try_into().expect("8-byte id"),
                    parent_span_id: parent.filter(|p: &[u8; 8]| *p != [0; 8]),
                    trace_state: span.trace_state,
                    flags: span.flags,
                    service_name: service.clone(),
                    name: span.name,
                    kind: span.kind,
                    start_ns: span.start_time_unix_nano as i64,
                    end_ns: span.end_time_unix_nano as i64,
                    status_code: span.status.as_ref().map_or(0, |s| s.code),
                    status_message: span.status.map(|s| s.message).unwrap_or_default(),
                    attributes: attributes(span.attributes),
                    resource_attributes: resource.clone(),
                    scope: self.scope.clone(),
                    events: span
                        .events
                        .into_iter()
                        .map(|e| SpanEvent {
                            time_ns: e.time_unix_nano as i64,
                            name: e.name,
                            attributes: attributes(e.attributes),
                            dropped_attributes_count: e.dropped_attributes_count,
                        })
                        .collect(),
                    ..SpanRecord::default()
                });
            }
        }
    }

    fn resource(&mut self, service: String, attrs: Vec<KeyValue>) -> Arc<Attributes> {
        let key = (service, attrs);
        if let Some((_, r)) = self.seen.iter().find(|(k, _)| *k == key) {
            return r.clone();
        }
        let r = Arc::new(attributes(key.1.clone()));
        self.seen.push((key, r.clone()));
        r
    }
}

/// The generator's attributes (strings and ints only) as the engine's.
fn attributes(kvs: Vec<KeyValue>) -> Attributes {
    kvs.into_iter()
        .map(|kv| {
            let v = match kv.value.and_then(|v| v.value) {
                Some(Value::IntValue(i)) => AnyValue::Int(i),
                Some(Value::StringValue(s)) => AnyValue::String(s),
                other => panic!("the generator sends strings and ints only: {other:?}"),
            };
            (kv.key, v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span_gen::{Rng, request, trace};

    #[test]
    fn every_span_converted_with_its_service_and_shared_resource() {
        let mut rng = Rng::new(3);
        let traces: Vec<_> = (0..20).map(|k| trace(&mut rng, k * 1_000_000)).collect();
        let sent: usize = traces.iter().map(|t| t.spans.len()).sum();
        let ids: Vec<[u8; 16]> = traces.iter().map(|t| t.trace_id).collect();
        let mut resources = Resources::default();
        let mut out = Vec::new();
        resources.records(request(traces), &mut out);
        assert_eq!(out.len(), sent);
        for r in &out {
            assert!(ids.contains(&r.trace_id));
            let name = r
                .resource_attributes
                .iter()
                .find(|(k, _)| k == "service.name")
                .map(|(_, v)| v.clone());
            assert_eq!(name, Some(AnyValue::String(r.service_name.clone())));
        }
        // One converted resource per (service, pod) met, shared by its spans.
        let distinct = resources.seen.len();
        assert!(distinct > 1 && distinct < out.len());
        let a = out
            .iter()
            .find(|r| Arc::ptr_eq(&r.resource_attributes, &out[0].resource_attributes))
            .map(|r| r.service_name.clone());
        assert_eq!(a, Some(out[0].service_name.clone()));
    }
}
