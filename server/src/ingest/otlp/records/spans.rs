//! OTLP spans to the engine's [`SpanRecord`]s (see `docs/otlp-mapping.md`, "Spans and
//! logs"): every field the engine stores, ids checked with the engine's `parse_id`.

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::{Span, span};
use strata_engine::{SignalReject, SpanEvent, SpanLink, SpanRecord};

use super::batch::{Batch, Context, ScopeAttributes, Values, nanos, optional_id, required_id};

/// The spans of one request. A span with a trace or span id (its own or a link's) of the
/// wrong length or all zeros, or a parent id of the wrong length, is refused and counted;
/// the others are translated. An all-zero parent id means "no parent", as the engine stores
/// it.
pub(crate) fn translate_spans(req: ExportTraceServiceRequest) -> Batch<SpanRecord> {
    let mut batch = Batch::default();
    let mut values = Values::default();
    for rs in req.resource_spans {
        let (resource_attributes, service_name) = values.resource(rs.resource);
        for ss in rs.scope_spans {
            let scope = values.scope(ss.scope, ScopeAttributes::Kept);
            let ctx = Context {
                service_name: &service_name,
                resource_attributes: &resource_attributes,
                scope: &scope,
            };
            batch.records.reserve(ss.spans.len());
            for s in ss.spans {
                match span_record(s, &ctx, &mut values) {
                    Ok(r) => batch.records.push(r),
                    Err((reason, message)) => batch.reject(reason, || message),
                }
            }
        }
    }
    batch.empty_values = values.empty;
    batch
}

fn span_record(
    s: Span,
    ctx: &Context<'_>,
    values: &mut Values,
) -> Result<SpanRecord, (SignalReject, String)> {
    let what = || format!("span {:?} of service {:?}", s.name, ctx.service_name);
    let trace = |e: String| (SignalReject::InvalidTraceId, format!("{}: {e}", what()));
    let span = |e: String| (SignalReject::InvalidSpanId, format!("{}: {e}", what()));
    let trace_id = required_id::<16>(&s.trace_id, "trace id").map_err(trace)?;
    let span_id = required_id::<8>(&s.span_id, "span id").map_err(span)?;
    let parent_span_id = if s.parent_span_id == [0; 8] {
        None
    } else {
        optional_id::<8>(&s.parent_span_id, "parent span id").map_err(span)?
    };
    // Every id is checked before anything is converted: a refused span counts no values.
    let link_ids = s
        .links
        .iter()
        .map(link_ids)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|(reason, e)| (reason, format!("{}: {e}", what())))?;
    let links = s
        .links
        .into_iter()
        .zip(link_ids)
        .map(|(l, (trace_id, span_id))| {
            let mut dropped = l.dropped_attributes_count;
            SpanLink {
                trace_id,
                span_id,
                trace_state: l.trace_state,
                attributes: values.attributes(l.attributes, &mut dropped),
                dropped_attributes_count: dropped,
            }
        })
        .collect();
    let mut dropped_attributes_count = s.dropped_attributes_count;
    let attributes = values.attributes(s.attributes, &mut dropped_attributes_count);
    let events = s
        .events
        .into_iter()
        .map(|e| {
            let mut dropped = e.dropped_attributes_count;
            SpanEvent {
                time_ns: nanos(e.time_unix_nano),
                name: e.name,
                attributes: values.attributes(e.attributes, &mut dropped),
                dropped_attributes_count: dropped,
            }
        })
        .collect();
    let status = s.status.unwrap_or_default();
    Ok(SpanRecord {
        trace_id,
        span_id,
        parent_span_id,
        trace_state: s.trace_state,
        flags: s.flags,
        service_name: ctx.service_name.to_owned(),
        name: s.name,
        kind: s.kind,
        start_ns: nanos(s.start_time_unix_nano),
        end_ns: nanos(s.end_time_unix_nano),
        status_code: status.code,
        status_message: status.message,
        attributes,
        resource_attributes: ctx.resource_attributes.clone(),
        scope: ctx.scope.clone(),
        events,
        links,
        dropped_attributes_count,
        dropped_events_count: s.dropped_events_count,
        dropped_links_count: s.dropped_links_count,
    })
}

/// A link's trace and span ids.
fn link_ids(l: &span::Link) -> Result<([u8; 16], [u8; 8]), (SignalReject, String)> {
    let trace_id = required_id::<16>(&l.trace_id, "a link's trace id")
        .map_err(|e| (SignalReject::InvalidTraceId, e))?;
    let span_id = required_id::<8>(&l.span_id, "a link's span id")
        .map_err(|e| (SignalReject::InvalidSpanId, e))?;
    Ok((trace_id, span_id))
}

#[cfg(test)]
#[path = "spans_tests.rs"]
mod tests;
