//! What the in-place protobuf readers of spans ([`super::spans_wire`]) and log records
//! ([`super::logs_wire`]) share: the request's framing (`Resource*` -> `Scope*` -> records,
//! the same layout for both signals), `KeyValue`s and `AnyValue`s, and the rules for
//! declining a body to the general path.
//!
//! Both readers return `None`, and the caller takes the general path (prost, whose decoder
//! then accepts or refuses the body with its own error, and the signal's translation), for
//! anything whose meaning prost's merge rules would make subtle or that is not plainly well
//! formed: an unknown field, a known field of the wrong wire type, a singular message field
//! given twice (prost merges them), two fields of one `AnyValue`, the profiles-only
//! string-table references, invalid UTF-8, values nested deeper than [`MAX_DEPTH`].
//! Repeated scalar, string and bytes fields keep the last occurrence, as prost does.
//! `Resource` and `InstrumentationScope` (one per resource or scope, not per record) are
//! decoded by prost.

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use strata_engine::{AnyValue, Attributes, SignalReject};

use super::batch::{Batch, Context, ScopeAttributes, Values};
use crate::ingest::protobuf::{FIXED64, LEN, Reader, VARINT, WireError};

/// Deepest `AnyValue` nesting read here (prost's own limit is 100 messages).
pub(super) const MAX_DEPTH: usize = 32;

/// The body is left to the general path.
pub(super) struct Decline;

impl From<WireError> for Decline {
    fn from(_: WireError) -> Self {
        Decline
    }
}

/// A read that may decline the body.
pub(super) type Read<T> = Result<T, Decline>;

/// Why translation refuses one record (its ids), as [`Batch::reject`] counts it.
pub(super) type Refused = (SignalReject, String);

/// Reads one record's bytes: `Ok(Err(..))` when translation refuses the record.
pub(super) type RecordReader<R> = fn(&[u8], &Context<'_>, &mut Values) -> Read<Result<R, Refused>>;

/// The records of a protobuf export request (`ExportTraceServiceRequest` or
/// `ExportLogsServiceRequest`: field 1 repeats the resource's message), each read by
/// `record`, their scopes' attributes kept or not (`scopes`), or `None` when the general
/// path must read the body. `records` is how many the body holds
/// ([`super::request_items`]).
pub(super) fn translate<R>(
    body: &[u8],
    records: usize,
    (record, scopes): (RecordReader<R>, ScopeAttributes),
) -> Option<Batch<R>> {
    let mut batch = Batch {
        records: Vec::new(),
        rejected: Default::default(),
        empty_values: 0,
    };
    // `records` is the count `request_items` took: the batch's vector is allocated once.
    // Grown scope by scope, it copied every record read so far.
    batch.records.reserve_exact(records);
    let mut values = Values::default();
    let mut r = Reader { rest: body };
    while !r.is_empty() {
        let bytes = field(&mut r, 1, LEN).ok()?;
        resource(bytes, (record, scopes), &mut batch, &mut values).ok()?;
    }
    batch.empty_values = values.empty;
    Some(batch)
}

/// A `ResourceSpans` or `ResourceLogs`: its resource, then its scopes' records.
fn resource<R>(
    bytes: &[u8],
    (record, kept): (RecordReader<R>, ScopeAttributes),
    batch: &mut Batch<R>,
    values: &mut Values,
) -> Read<()> {
    let (resource, scopes) = frame(bytes)?;
    let (resource_attributes, service_name) = values.resource(decoded::<Resource>(resource)?);
    for bytes in scopes {
        let (scope_bytes, records) = frame(bytes)?;
        let scope = values.scope(decoded::<InstrumentationScope>(scope_bytes)?, kept);
        let ctx = Context {
            service_name: &service_name,
            resource_attributes: &resource_attributes,
            scope: &scope,
        };
        for bytes in records {
            match record(bytes, &ctx, values)? {
                Ok(rec) => batch.records.push(rec),
                Err((reason, message)) => batch.reject(reason, || message),
            }
        }
    }
    Ok(())
}

/// A framed `Resource*` or `Scope*` message: its singular message, if given, and its
/// children's bytes.
type Framed<'a> = (Option<&'a [u8]>, Vec<&'a [u8]>);

/// A `ResourceSpans`, `ScopeSpans`, `ResourceLogs` or `ScopeLogs` message, which share a
/// layout: its singular message (field 1: the resource or the scope), its repeated children
/// (field 2) and its schema URL (field 3, checked as UTF-8 and not kept).
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

/// The next field, which must be `tag` with wire type `wire`; its value if length-delimited.
fn field<'a>(r: &mut Reader<'a>, tag: u32, wire: u8) -> Read<&'a [u8]> {
    let (t, w) = r.key()?;
    if t != tag || w != wire {
        return Err(Decline);
    }
    Ok(r.len_delimited()?)
}

/// A string field's text; invalid UTF-8 declines (prost refuses it).
pub(super) fn utf8(b: &[u8]) -> Read<&str> {
    crate::ingest::utf8::text(b).ok_or(Decline)
}

/// A `fixed32` field's value.
pub(super) fn fixed32(r: &mut Reader<'_>) -> Read<u32> {
    let b = r.take(4)?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Sets a singular message field once; a second occurrence declines (prost would merge).
pub(super) fn once<'a>(slot: &mut Option<&'a [u8]>, bytes: &'a [u8]) -> Read<()> {
    if slot.replace(bytes).is_some() {
        return Err(Decline);
    }
    Ok(())
}

/// A record's (or event's, or link's) attribute: pushed onto `attributes`, or, without a
/// value, counted in `dropped` (its `dropped_attributes_count`) and `empty`.
pub(super) fn attribute(
    bytes: &[u8],
    attributes: &mut Attributes,
    dropped: &mut u32,
    empty: &mut u64,
) -> Read<()> {
    match key_value(bytes, 0, empty)? {
        Some(kv) => attributes.push(kv),
        None => *dropped = dropped.saturating_add(1),
    }
    Ok(())
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
    match value
        .map(|v| any_value(v, depth, empty))
        .transpose()?
        .flatten()
    {
        Some(v) => Ok(Some((key.to_owned(), v))),
        None => {
            *empty += 1;
            Ok(None)
        }
    }
}

/// An `AnyValue` at nesting `depth`; `None` when it has none (the caller counts it).
pub(super) fn any_value(bytes: &[u8], depth: usize, empty: &mut u64) -> Read<Option<AnyValue>> {
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
