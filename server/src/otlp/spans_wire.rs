//! Protobuf `ExportTraceServiceRequest`s read straight into [`SpanRecord`]s, without prost's
//! message structs in between: what [`super::decode_traces`] followed by
//! [`super::translate_spans`] gives, with one allocation per string the records keep
//! instead of prost's structs, their growth, and the moves of translation (decoding and
//! translating were ~60% of the request path's CPU on the OTLP span load,
//! `docs/benchmarks.md`).
//!
//! The reader is deliberately narrow, like the metrics reader ([`super::metrics_wire`]): it
//! returns `None`, and the caller takes the general path (whose prost decoder then accepts
//! or refuses the body with its own error), for anything whose meaning prost's merge rules
//! would make subtle or that is not plainly well formed: an unknown field, a known field of
//! the wrong wire type, a singular message field given twice (prost merges them), two
//! fields of one `AnyValue`, the profiles-only string-table references, invalid UTF-8,
//! values nested deeper than [`MAX_DEPTH`]. Repeated scalar, string and bytes fields keep
//! the last occurrence, as prost does. `Resource` and `InstrumentationScope` (one per
//! resource or scope, not per span) are decoded by prost. The differential tests in
//! `spans_wire_tests.rs` hold it to the general path.

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use strata_engine::{AnyValue, Attributes, SignalReject, SpanEvent, SpanLink, SpanRecord};

use super::signal::{Batch, Context, Values, nanos, optional_id, required_id, scope};
use crate::remote_write::wire::{FIXED32, FIXED64, LEN, Reader, VARINT, WireError};

/// Deepest `AnyValue` nesting read here (prost's own limit is 100 messages).
const MAX_DEPTH: usize = 32;

/// The body is left to the general path.
struct Decline;

impl From<WireError> for Decline {
    fn from(_: WireError) -> Self {
        Decline
    }
}

type Read<T> = Result<T, Decline>;

/// The spans of a protobuf body as [`super::translate_spans`] gives them, or `None` when
/// the general path must read it.
pub(crate) fn translate(body: &[u8]) -> Option<Batch<SpanRecord>> {
    let mut batch = Batch::default();
    let mut values = Values::default();
    let mut r = Reader { rest: body };
    while !r.is_empty() {
        let bytes = field(&mut r, 1, LEN).ok()?;
        resource_spans(bytes, &mut batch, &mut values).ok()?;
    }
    batch.empty_values = values.empty;
    Some(batch)
}

/// The next field, which must be `tag` with wire type `wire`; its value if length-delimited.
fn field<'a>(r: &mut Reader<'a>, tag: u32, wire: u8) -> Read<&'a [u8]> {
    let (t, w) = r.key()?;
    if t != tag || w != wire {
        return Err(Decline);
    }
    Ok(r.len_delimited()?)
}

fn utf8(b: &[u8]) -> Read<&str> {
    std::str::from_utf8(b).map_err(|_| Decline)
}

fn fixed32(r: &mut Reader<'_>) -> Read<u32> {
    let b = r.take(4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Sets a singular message field once; a second occurrence declines (prost would merge).
fn once<'a>(slot: &mut Option<&'a [u8]>, bytes: &'a [u8]) -> Read<()> {
    if slot.replace(bytes).is_some() {
        return Err(Decline);
    }
    Ok(())
}

/// A framed `ResourceSpans` or `ScopeSpans`: its singular message, if given, and its
/// children's bytes.
type Framed<'a> = (Option<&'a [u8]>, Vec<&'a [u8]>);

/// A `ResourceSpans` or `ScopeSpans` message, which share a layout: its singular message
/// (field 1: the resource or the scope), its repeated children (field 2) and its schema URL
/// (field 3, checked as UTF-8 and not kept).
fn frame(bytes: &[u8]) -> Read<Framed<'_>> {
    let (mut first, mut children) = (None, Vec::new());
    let mut r = Reader { rest: bytes };
    while !r.is_empty() {
        match r.key()? {
            (1, LEN) => once(&mut first, r.len_delimited()?)?,
            (2, LEN) => children.push(r.len_delimited()?),
            (3, LEN) => {
                utf8(r.len_delimited()?)?;
            }
            _ => return Err(Decline),
        }
    }
    Ok((first, children))
}

/// Decodes an optional message with prost; a failure declines.
fn decoded<M: Message + Default>(bytes: Option<&[u8]>) -> Read<Option<M>> {
    bytes.map(M::decode).transpose().map_err(|_| Decline)
}

fn resource_spans(bytes: &[u8], batch: &mut Batch<SpanRecord>, values: &mut Values) -> Read<()> {
    let (resource, scopes) = frame(bytes)?;
    let (resource_attributes, service_name) = values.resource(decoded::<Resource>(resource)?);
    for bytes in scopes {
        let (scope_bytes, spans) = frame(bytes)?;
        let scope = scope(decoded::<InstrumentationScope>(scope_bytes)?);
        let ctx = Context {
            service_name: &service_name,
            resource_attributes: &resource_attributes,
            scope: &scope,
        };
        batch.records.reserve(spans.len());
        for bytes in spans {
            match span(bytes, &ctx, values)? {
                Ok(rec) => batch.records.push(rec),
                Err((reason, message)) => batch.reject(reason, || message),
            }
        }
    }
    Ok(())
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
    bad_link: Option<(SignalReject, String)>,
    dropped_links_count: u32,
}

/// One span: `Ok(Err(..))` when its ids refuse it. Everything is read (and so checked)
/// before the ids decide; a refused span's empty values are not counted, as in the general
/// path.
fn span(
    bytes: &[u8],
    ctx: &Context<'_>,
    values: &mut Values,
) -> Read<Result<SpanRecord, (SignalReject, String)>> {
    let mut empty = 0u64;
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
            (9, LEN) => match key_value(r.len_delimited()?, 0, &mut empty)? {
                Some(kv) => f.attributes.push(kv),
                None => f.empty_attributes = f.empty_attributes.saturating_add(1),
            },
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
            (3, LEN) => match key_value(r.len_delimited()?, 0, empty)? {
                Some(kv) => e.attributes.push(kv),
                None => dropped = dropped.saturating_add(1),
            },
            (4, VARINT) => e.dropped_attributes_count = r.varint()? as u32,
            _ => return Err(Decline),
        }
    }
    e.dropped_attributes_count = e.dropped_attributes_count.saturating_add(dropped);
    Ok(e)
}

/// A link, and why its ids refuse its span, if they do.
fn link(bytes: &[u8], empty: &mut u64) -> Read<(SpanLink, Option<(SignalReject, String)>)> {
    let (mut l, mut dropped) = (SpanLink::default(), 0u32);
    let (mut trace_id, mut span_id): (&[u8], &[u8]) = (&[], &[]);
    let mut r = Reader { rest: bytes };
    while !r.is_empty() {
        match r.key()? {
            (1, LEN) => trace_id = r.len_delimited()?,
            (2, LEN) => span_id = r.len_delimited()?,
            (3, LEN) => l.trace_state = utf8(r.len_delimited()?)?.to_owned(),
            (4, LEN) => match key_value(r.len_delimited()?, 0, empty)? {
                Some(kv) => l.attributes.push(kv),
                None => dropped = dropped.saturating_add(1),
            },
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

/// A `KeyValue`, or `None` when it has no value (counted in `empty`).
fn key_value(bytes: &[u8], depth: usize, empty: &mut u64) -> Read<Option<(String, AnyValue)>> {
    let (mut key, mut value) = ("", None);
    let mut r = Reader { rest: bytes };
    while !r.is_empty() {
        match r.key()? {
            (1, LEN) => key = utf8(r.len_delimited()?)?,
            (2, LEN) => once(&mut value, r.len_delimited()?)?,
            _ => return Err(Decline),
        }
    }
    let value = match value {
        Some(v) => any_value(v, depth, empty)?,
        None => None,
    };
    match value {
        Some(v) => Ok(Some((key.to_owned(), v))),
        None => {
            *empty += 1;
            Ok(None)
        }
    }
}

/// An `AnyValue`; `None` when it has none (the caller counts it).
fn any_value(bytes: &[u8], depth: usize, empty: &mut u64) -> Read<Option<AnyValue>> {
    if depth > MAX_DEPTH {
        return Err(Decline);
    }
    let mut r = Reader { rest: bytes };
    if r.is_empty() {
        return Ok(None);
    }
    let value = match r.key()? {
        (1, LEN) => AnyValue::String(utf8(r.len_delimited()?)?.to_owned()),
        (2, VARINT) => AnyValue::Bool(r.varint()? != 0),
        (3, VARINT) => AnyValue::Int(r.varint()? as i64),
        (4, FIXED64) => AnyValue::Double(f64::from_bits(r.fixed64()?)),
        (5, LEN) => {
            let mut items = Vec::new();
            let mut a = Reader {
                rest: r.len_delimited()?,
            };
            while !a.is_empty() {
                match any_value(field(&mut a, 1, LEN)?, depth + 1, empty)? {
                    Some(v) => items.push(v),
                    None => *empty += 1,
                }
            }
            AnyValue::Array(items)
        }
        (6, LEN) => {
            let mut pairs = Vec::new();
            let mut l = Reader {
                rest: r.len_delimited()?,
            };
            while !l.is_empty() {
                if let Some(kv) = key_value(field(&mut l, 1, LEN)?, depth + 1, empty)? {
                    pairs.push(kv);
                }
            }
            AnyValue::KvList(pairs)
        }
        (7, LEN) => AnyValue::Bytes(r.len_delimited()?.to_vec()),
        _ => return Err(Decline),
    };
    // A second field would replace (or merge into) the first under prost's rules.
    if !r.is_empty() {
        return Err(Decline);
    }
    Ok(Some(value))
}

#[cfg(test)]
#[path = "spans_wire_tests.rs"]
mod tests;
