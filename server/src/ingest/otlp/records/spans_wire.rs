//! Protobuf `ExportTraceServiceRequest`s read straight into [`SpanRecord`]s, without prost's
//! message structs in between: what `decode_traces` (`otlp/decode.rs`) followed by
//! [`super::spans::translate_spans`] gives, with one allocation per string the records keep
//! instead of prost's structs, their growth, and the moves of translation (decoding and
//! translating were ~60% of the request path's CPU on the OTLP span load,
//! `docs/benchmarks-history.md`).
//!
//! The reader is deliberately narrow, like the metrics reader (`otlp/metrics/wire.rs`): what
//! it declines to the general path, and the framing and values it shares with the log
//! records' reader, are in [`super::wire`]. The differential tests in
//! `spans_wire_tests.rs` hold it to the general path.

use strata_engine::{Attributes, SignalReject, SpanEvent, SpanLink, SpanRecord};

use super::batch::{Batch, Context, ScopeAttributes, Values, nanos, optional_id, required_id};
use super::wire::{Decline, Read, Refused, attribute, fixed32, once, utf8};
use crate::ingest::protobuf::{FIXED32, FIXED64, LEN, Reader, VARINT};

/// The spans of a protobuf body as [`super::spans::translate_spans`] gives them, or `None`
/// when the general path must read it.
pub(crate) fn translate(body: &[u8]) -> Option<Batch<SpanRecord>> {
    use super::super::request_items::{SPANS, protobuf_records};
    translate_counted(body, protobuf_records(body, SPANS)?)
}

/// [`translate`] for a body holding `records` records, as `request_items` counted them.
pub(crate) fn translate_counted(body: &[u8], records: usize) -> Option<Batch<SpanRecord>> {
    super::wire::translate(body, records, (span, ScopeAttributes::Kept))
}

/// A span's fields as given, its attributes, events and links converted.
#[derive(Default)]
struct SpanFields<'a> {
    trace_id: &'a [u8],
    span_id: &'a [u8],
    parent_span_id: &'a [u8],
    trace_state: &'a str,
    name: &'a str,
    kind: i32,
    start: u64,
    end: u64,
    flags: u32,
    status: Option<&'a [u8]>,
    attributes: Attributes,
    /// Top-level attributes without a value, dropped.
    empty_attributes: u32,
    dropped_attributes_count: u32,
    events: Vec<SpanEvent>,
    dropped_events_count: u32,
    links: Vec<SpanLink>,
    /// The first link with a bad id, as [`super::spans`] reports it.
    bad_link: Option<Refused>,
    dropped_links_count: u32,
}

/// One span: `Ok(Err(..))` when its ids refuse it. Everything is read (and so checked)
/// before the ids decide; a refused span's empty values are not counted, as in the general
/// path.
fn span(bytes: &[u8], ctx: &Context<'_>, values: &mut Values) -> Read<Result<SpanRecord, Refused>> {
    let mut empty = 0u64;
    let mut list = values.take_list();
    let mut f = SpanFields::default();
    let mut r = Reader { rest: bytes };
    while !r.is_empty() {
        match r.key()? {
            (1, LEN) => f.trace_id = r.len_delimited()?,
            (2, LEN) => f.span_id = r.len_delimited()?,
            (3, LEN) => f.trace_state = utf8(r.len_delimited()?)?,
            (4, LEN) => f.parent_span_id = r.len_delimited()?,
            (5, LEN) => f.name = utf8(r.len_delimited()?)?,
            (6, VARINT) => f.kind = r.varint()? as i32,
            (7, FIXED64) => f.start = r.fixed64()?,
            (8, FIXED64) => f.end = r.fixed64()?,
            (9, LEN) => attribute(
                r.len_delimited()?,
                &mut list,
                &mut f.empty_attributes,
                &mut empty,
            )?,
            (10, VARINT) => f.dropped_attributes_count = r.varint()? as u32,
            (11, LEN) => f.events.push(event(r.len_delimited()?, &mut empty)?),
            (12, VARINT) => f.dropped_events_count = r.varint()? as u32,
            (13, LEN) => {
                let (link, bad) = link(r.len_delimited()?, &mut empty)?;
                f.links.push(link);
                if f.bad_link.is_none() {
                    f.bad_link = bad;
                }
            }
            (14, VARINT) => f.dropped_links_count = r.varint()? as u32,
            (15, LEN) => once(&mut f.status, r.len_delimited()?)?,
            (16, FIXED32) => f.flags = fixed32(&mut r)?,
            _ => return Err(Decline),
        }
    }
    f.attributes = values.exact(list);
    let (status_code, status_message) = status(f.status.unwrap_or_default())?;
    let what = || format!("span {:?} of service {:?}", f.name, ctx.service_name);
    let ids = || {
        let trace = |e: String| (SignalReject::InvalidTraceId, format!("{}: {e}", what()));
        let span = |e: String| (SignalReject::InvalidSpanId, format!("{}: {e}", what()));
        let trace_id = required_id::<16>(f.trace_id, "trace id").map_err(trace)?;
        let span_id = required_id::<8>(f.span_id, "span id").map_err(span)?;
        let parent_span_id = if f.parent_span_id == [0; 8] {
            None
        } else {
            optional_id::<8>(f.parent_span_id, "parent span id").map_err(span)?
        };
        if let Some((reason, e)) = &f.bad_link {
            return Err((*reason, format!("{}: {e}", what())));
        }
        Ok((trace_id, span_id, parent_span_id))
    };
    let (trace_id, span_id, parent_span_id) = match ids() {
        Ok(ids) => ids,
        Err(refused) => return Ok(Err(refused)),
    };
    values.empty += empty;
    Ok(Ok(SpanRecord {
        trace_id,
        span_id,
        parent_span_id,
        trace_state: f.trace_state.to_owned(),
        flags: f.flags,
        service_name: ctx.service_name.to_owned(),
        name: f.name.to_owned(),
        kind: f.kind,
        start_ns: nanos(f.start),
        end_ns: nanos(f.end),
        status_code,
        status_message: status_message.to_owned(),
        attributes: f.attributes,
        resource_attributes: ctx.resource_attributes.clone(),
        scope: ctx.scope.clone(),
        events: f.events,
        links: f.links,
        dropped_attributes_count: f
            .dropped_attributes_count
            .saturating_add(f.empty_attributes),
        dropped_events_count: f.dropped_events_count,
        dropped_links_count: f.dropped_links_count,
    }))
}

/// A `Status` message: (code, message).
fn status(bytes: &[u8]) -> Read<(i32, &str)> {
    let (mut code, mut message) = (0, "");
    let mut r = Reader { rest: bytes };
    while !r.is_empty() {
        match r.key()? {
            (2, LEN) => message = utf8(r.len_delimited()?)?,
            (3, VARINT) => code = r.varint()? as i32,
            _ => return Err(Decline),
        }
    }
    Ok((code, message))
}

fn event(bytes: &[u8], empty: &mut u64) -> Read<SpanEvent> {
    let (mut e, mut dropped) = (SpanEvent::default(), 0u32);
    let mut r = Reader { rest: bytes };
    while !r.is_empty() {
        match r.key()? {
            (1, FIXED64) => e.time_ns = nanos(r.fixed64()?),
            (2, LEN) => e.name = utf8(r.len_delimited()?)?.to_owned(),
            (3, LEN) => attribute(r.len_delimited()?, &mut e.attributes, &mut dropped, empty)?,
            (4, VARINT) => e.dropped_attributes_count = r.varint()? as u32,
            _ => return Err(Decline),
        }
    }
    e.dropped_attributes_count = e.dropped_attributes_count.saturating_add(dropped);
    Ok(e)
}

/// A link, and why its ids refuse its span, if they do.
fn link(bytes: &[u8], empty: &mut u64) -> Read<(SpanLink, Option<Refused>)> {
    let (mut l, mut dropped) = (SpanLink::default(), 0u32);
    let (mut trace_id, mut span_id): (&[u8], &[u8]) = (&[], &[]);
    let mut r = Reader { rest: bytes };
    while !r.is_empty() {
        match r.key()? {
            (1, LEN) => trace_id = r.len_delimited()?,
            (2, LEN) => span_id = r.len_delimited()?,
            (3, LEN) => l.trace_state = utf8(r.len_delimited()?)?.to_owned(),
            (4, LEN) => attribute(r.len_delimited()?, &mut l.attributes, &mut dropped, empty)?,
            (5, VARINT) => l.dropped_attributes_count = r.varint()? as u32,
            // Flags are read (and so checked) but not stored, as in the general path.
            (6, FIXED32) => {
                fixed32(&mut r)?;
            }
            _ => return Err(Decline),
        }
    }
    l.dropped_attributes_count = l.dropped_attributes_count.saturating_add(dropped);
    let ids = required_id::<16>(trace_id, "a link's trace id")
        .map_err(|e| (SignalReject::InvalidTraceId, e))
        .and_then(|t| {
            required_id::<8>(span_id, "a link's span id")
                .map(|s| (t, s))
                .map_err(|e| (SignalReject::InvalidSpanId, e))
        });
    match ids {
        Ok((t, s)) => {
            (l.trace_id, l.span_id) = (t, s);
            Ok((l, None))
        }
        Err(bad) => Ok((l, Some(bad))),
    }
}

#[cfg(test)]
#[path = "spans_wire_tests.rs"]
mod tests;
