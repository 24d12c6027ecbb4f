//! WAL records of spans and log records (`docs/formats/engine-wal.md`): the header of a
//! samples record with kind 2 (spans) or 3 (logs), a record count, then the records, each
//! in the binary layout below. Only accepted records, after the caps, are logged.
//!
//! Version 2 writes a record's resource attributes (and scope) only when they differ from
//! the previous record's in the same WAL record: a presence byte says which (0: the
//! previous record's, 1: written here; for a scope, 2: written here with its attributes,
//! which a scope without attributes never writes, so its bytes are those of the WAL
//! before scope attributes were stored). Version 1 records, each carrying its own, are
//! still read: there, a record whose resource (or scope) bytes equal the previous
//! record's shares that record's decoded value. Either way the records of one resource
//! share it again after a restart.

use std::sync::Arc;

use crate::TenantId;
use crate::model::anyvalue::{AnyValue, Attributes};
use crate::model::records::{LogRecord, Scope, SpanEvent, SpanLink, SpanRecord};
use crate::wal_records::frame::{Cursor, KIND_LOGS, KIND_SPANS, VERSION, VERSION_1};

/// Deepest AnyValue nesting a record may have on decode (validation allows at most
/// `max_attribute_depth`, itself capped at 64); guards the recursion on damaged input.
const MAX_DEPTH: usize = 64;

/// A record type the WAL carries.
pub(crate) trait WalRecord: Sized {
    /// The record kind byte.
    const KIND: u8;
    /// Appends the record's encoding; `prev` is the record encoded just before it in the
    /// same WAL record, if any (its resource and scope are referred to, not repeated).
    fn encode(&self, out: &mut Vec<u8>, prev: Option<&Self>);
    /// Reads one record; `shared` holds what the previous record of the same WAL record
    /// decoded.
    fn decode<'a>(c: &mut Cursor<'a>, shared: &mut Shared<'a>) -> Result<Self, String>;
}

/// The last resource attributes and scope decoded, with their bytes (version 1: the next
/// record with the same bytes shares them; version 2: a record refers to them).
pub(crate) struct Shared<'a> {
    version: u8,
    resource: Option<(&'a [u8], Arc<Attributes>)>,
    scope: Option<(&'a [u8], Arc<Scope>)>,
}

impl<'a> Shared<'a> {
    fn new(version: u8) -> Self {
        Self {
            version,
            resource: None,
            scope: None,
        }
    }

    /// The resource attributes at the cursor. Version 1: the encoding is self-delimiting,
    /// so when the bytes at the cursor start with the previous list's bytes, they hold
    /// that same list. Version 2: a presence byte, then the list if it is new.
    fn resource(&mut self, c: &mut Cursor<'a>) -> Result<Arc<Attributes>, String> {
        let v = self.version;
        reuse(v, &mut self.resource, c, ("resource", 1), |c, _| {
            attrs(c, 1)
        })
    }

    /// The scope at the cursor, as [`Shared::resource`]; presence byte 2 (version 2) is
    /// a scope written with its attributes.
    fn scope(&mut self, c: &mut Cursor<'a>) -> Result<Arc<Scope>, String> {
        let v = self.version;
        reuse(
            v,
            &mut self.scope,
            c,
            ("scope", SCOPE_WITH_ATTRIBUTES),
            scope,
        )
    }
}

/// Presence byte of a scope written with its attributes (version 2).
const SCOPE_WITH_ATTRIBUTES: u8 = 2;

/// A shared value at the cursor: `what` names it in errors, with the highest presence
/// byte it may have; `read` reads its encoding, given that byte (1 in version 1).
fn reuse<'a, T>(
    version: u8,
    last: &mut Option<(&'a [u8], Arc<T>)>,
    c: &mut Cursor<'a>,
    (what, max_flag): (&str, u8),
    read: impl FnOnce(&mut Cursor<'a>, u8) -> Result<T, String>,
) -> Result<Arc<T>, String> {
    let mut flag = 1;
    if version != VERSION_1 {
        flag = c.u8(what)?;
        match flag {
            0 => {
                return match last {
                    Some((_, v)) => Ok(v.clone()),
                    None => Err(format!(
                        "{what} refers to a previous record, and there is none"
                    )),
                };
            }
            f if f <= max_flag => {}
            f => return Err(format!("{what}: bad presence flag {f}")),
        }
    } else if let Some((bytes, v)) = last
        && c.buf[c.pos..].starts_with(bytes)
    {
        c.pos += bytes.len();
        return Ok(v.clone());
    }
    let start = c.pos;
    let v = Arc::new(read(c, flag)?);
    *last = Some((&c.buf[start..c.pos], v.clone()));
    Ok(v)
}

/// The header of a record of `n` records of kind `kind` for `tenant`, with room for
/// `body_len` bytes of records after it.
pub(crate) fn header(tenant: &TenantId, kind: u8, n: usize, body_len: usize) -> Vec<u8> {
    let t = tenant.as_str().as_bytes();
    let mut out = Vec::with_capacity(7 + t.len() + body_len);
    // Lossless: tenant ids are at most 64 bytes; one write holds far fewer than 2^32 records.
    out.extend_from_slice(&[VERSION, kind, t.len() as u8]);
    out.extend_from_slice(t);
    out.extend_from_slice(&(n as u32).to_le_bytes());
    out
}

/// Sets the record count of a record [`header`] wrote, whose records start at `body_start`.
pub(crate) fn set_count(rec: &mut [u8], body_start: usize, n: usize) {
    // Lossless: one write holds far fewer than 2^32 records.
    rec[body_start - 4..body_start].copy_from_slice(&(n as u32).to_le_bytes());
}

/// Decodes a whole record of `R`s.
pub(crate) fn decode<R: WalRecord>(buf: &[u8]) -> Result<(TenantId, Vec<R>), String> {
    let mut c = Cursor { buf, pos: 0 };
    let version = c.u8("version")?;
    if version != VERSION && version != VERSION_1 {
        return Err(format!("unknown record version {version}"));
    }
    let kind = c.u8("kind")?;
    if kind != R::KIND {
        return Err(format!("unknown record kind {kind}"));
    }
    let tlen = c.u8("tenant length")? as usize;
    let tenant = TenantId::new(c.str(tlen, "tenant")?).map_err(|e| e.to_string())?;
    let n = c.u32("record count")? as usize;
    // Every record takes more than 16 bytes: no allocation beyond what the bytes can hold.
    let mut out = Vec::with_capacity(n.min(c.remaining() / 16));
    let mut shared = Shared::new(version);
    for _ in 0..n {
        out.push(R::decode(&mut c, &mut shared)?);
    }
    if c.remaining() != 0 {
        return Err(format!("{} bytes after the last record", c.remaining()));
    }
    Ok((tenant, out))
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_i64(out: &mut Vec<u8>, v: i64) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    // Lossless: values are capped far below 4 GiB (max_attribute_value_len, write sizes).
    put_u32(out, n as u32);
}

pub(crate) fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_len(out, b.len());
    out.extend_from_slice(b);
}

fn put_value(out: &mut Vec<u8>, v: &AnyValue) {
    match v {
        AnyValue::String(s) => {
            out.push(0);
            put_bytes(out, s.as_bytes());
        }
        AnyValue::Bool(b) => out.extend_from_slice(&[1, u8::from(*b)]),
        AnyValue::Int(i) => {
            out.push(2);
            put_i64(out, *i);
        }
        AnyValue::Double(d) => {
            out.push(3);
            out.extend_from_slice(&d.to_bits().to_le_bytes());
        }
        AnyValue::Bytes(b) => {
            out.push(4);
            put_bytes(out, b);
        }
        AnyValue::Array(items) => {
            out.push(5);
            put_len(out, items.len());
            for item in items {
                put_value(out, item);
            }
        }
        AnyValue::KvList(kvs) => {
            out.push(6);
            put_attrs(out, kvs);
        }
    }
}

pub(crate) fn put_attrs(out: &mut Vec<u8>, attrs: &Attributes) {
    put_len(out, attrs.len());
    for (k, v) in attrs {
        put_bytes(out, k.as_bytes());
        put_value(out, v);
    }
}

fn put_opt<const N: usize>(out: &mut Vec<u8>, id: &Option<[u8; N]>) {
    match id {
        Some(id) => {
            out.push(1);
            out.extend_from_slice(id);
        }
        None => out.push(0),
    }
}

/// A resource's presence byte (1) and attributes.
fn put_resource(out: &mut Vec<u8>, attrs: &Attributes) {
    out.push(1);
    put_attrs(out, attrs);
}

/// A scope's presence byte and encoding: 1, name, version; or, with attributes, 2, name,
/// version, attributes.
fn put_scope(out: &mut Vec<u8>, s: &Scope) {
    let with_attributes = !s.attributes.is_empty();
    out.push(if with_attributes {
        SCOPE_WITH_ATTRIBUTES
    } else {
        1
    });
    put_bytes(out, s.name.as_bytes());
    put_bytes(out, s.version.as_bytes());
    if with_attributes {
        put_attrs(out, &s.attributes);
    }
}

/// Writes `v` (version 2): a 0 byte when it is the previous record's `prev` (the same
/// shared value or an equal one), else `put` writes its presence byte and encoding.
fn put_shared<T: PartialEq>(
    out: &mut Vec<u8>,
    v: &Arc<T>,
    prev: Option<&Arc<T>>,
    put: impl FnOnce(&mut Vec<u8>, &T),
) {
    if prev.is_some_and(|p| Arc::ptr_eq(p, v) || **p == **v) {
        out.push(0);
    } else {
        put(out, v);
    }
}

fn string(c: &mut Cursor<'_>, what: &str) -> Result<String, String> {
    let n = c.u32(what)? as usize;
    c.str(n, what).map(str::to_owned)
}

fn i64_(c: &mut Cursor<'_>, what: &str) -> Result<i64, String> {
    c.u64(what).map(|v| v as i64)
}

fn count(c: &mut Cursor<'_>, what: &str) -> Result<usize, String> {
    let n = c.u32(what)? as usize;
    // Every item takes at least one byte.
    if n > c.remaining() {
        return Err(format!("{what} {n} exceeds the bytes left"));
    }
    Ok(n)
}

fn value(c: &mut Cursor<'_>, depth: usize) -> Result<AnyValue, String> {
    if depth > MAX_DEPTH {
        return Err("value nested too deep".into());
    }
    Ok(match c.u8("value type")? {
        0 => AnyValue::String(string(c, "string value")?),
        1 => AnyValue::Bool(c.u8("bool value")? != 0),
        2 => AnyValue::Int(i64_(c, "int value")?),
        3 => AnyValue::Double(f64::from_bits(c.u64("double value")?)),
        4 => {
            let n = c.u32("bytes length")? as usize;
            AnyValue::Bytes(c.take(n, "bytes value")?.to_vec())
        }
        5 => {
            let n = count(c, "array length")?;
            let mut items = Vec::with_capacity(n);
            for _ in 0..n {
                items.push(value(c, depth + 1)?);
            }
            AnyValue::Array(items)
        }
        6 => AnyValue::KvList(attrs(c, depth + 1)?),
        t => return Err(format!("unknown value type {t}")),
    })
}

/// Lists are decoded into exactly their length (`count` bounds it by the bytes left), as
/// the records a write stores are: what replayed records hold in memory is what they held
/// when written (`spans_logs/record_memory.rs`).
fn attrs(c: &mut Cursor<'_>, depth: usize) -> Result<Attributes, String> {
    let n = count(c, "attribute count")?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push((string(c, "attribute key")?, value(c, depth)?));
    }
    Ok(out)
}

fn opt<const N: usize>(c: &mut Cursor<'_>, what: &str) -> Result<Option<[u8; N]>, String> {
    match c.u8(what)? {
        0 => Ok(None),
        1 => c.array(what).map(Some),
        f => Err(format!("{what}: bad presence flag {f}")),
    }
}

/// A scope written with presence byte `flag`: its attributes follow only after a 2.
fn scope(c: &mut Cursor<'_>, flag: u8) -> Result<Scope, String> {
    Ok(Scope {
        name: string(c, "scope name")?,
        version: string(c, "scope version")?,
        attributes: if flag == SCOPE_WITH_ATTRIBUTES {
            attrs(c, 1)?
        } else {
            Attributes::new()
        },
    })
}

impl WalRecord for SpanRecord {
    const KIND: u8 = KIND_SPANS;

    fn encode(&self, out: &mut Vec<u8>, prev: Option<&Self>) {
        out.extend_from_slice(&self.trace_id);
        out.extend_from_slice(&self.span_id);
        put_opt(out, &self.parent_span_id);
        put_bytes(out, self.trace_state.as_bytes());
        put_u32(out, self.flags);
        put_bytes(out, self.service_name.as_bytes());
        put_bytes(out, self.name.as_bytes());
        out.extend_from_slice(&self.kind.to_le_bytes());
        put_i64(out, self.start_ns);
        put_i64(out, self.end_ns);
        out.extend_from_slice(&self.status_code.to_le_bytes());
        put_bytes(out, self.status_message.as_bytes());
        put_attrs(out, &self.attributes);
        let res = prev.map(|p| &p.resource_attributes);
        put_shared(out, &self.resource_attributes, res, put_resource);
        put_shared(out, &self.scope, prev.map(|p| &p.scope), put_scope);
        put_len(out, self.events.len());
        for e in &self.events {
            put_i64(out, e.time_ns);
            put_bytes(out, e.name.as_bytes());
            put_attrs(out, &e.attributes);
            put_u32(out, e.dropped_attributes_count);
        }
        put_len(out, self.links.len());
        for l in &self.links {
            out.extend_from_slice(&l.trace_id);
            out.extend_from_slice(&l.span_id);
            put_bytes(out, l.trace_state.as_bytes());
            put_attrs(out, &l.attributes);
            put_u32(out, l.dropped_attributes_count);
        }
        put_u32(out, self.dropped_attributes_count);
        put_u32(out, self.dropped_events_count);
        put_u32(out, self.dropped_links_count);
    }

    fn decode<'a>(c: &mut Cursor<'a>, shared: &mut Shared<'a>) -> Result<Self, String> {
        let mut s = SpanRecord {
            trace_id: c.array("trace id")?,
            span_id: c.array("span id")?,
            parent_span_id: opt(c, "parent span id")?,
            trace_state: string(c, "trace state")?,
            flags: c.u32("flags")?,
            service_name: string(c, "service name")?,
            name: string(c, "span name")?,
            kind: c.u32("kind")? as i32,
            start_ns: i64_(c, "start")?,
            end_ns: i64_(c, "end")?,
            status_code: c.u32("status code")? as i32,
            status_message: string(c, "status message")?,
            attributes: attrs(c, 1)?,
            resource_attributes: shared.resource(c)?,
            scope: shared.scope(c)?,
            ..SpanRecord::default()
        };
        let n = count(c, "event count")?;
        s.events.reserve_exact(n);
        for _ in 0..n {
            s.events.push(SpanEvent {
                time_ns: i64_(c, "event time")?,
                name: string(c, "event name")?,
                attributes: attrs(c, 1)?,
                dropped_attributes_count: c.u32("event dropped count")?,
            });
        }
        let n = count(c, "link count")?;
        s.links.reserve_exact(n);
        for _ in 0..n {
            s.links.push(SpanLink {
                trace_id: c.array("link trace id")?,
                span_id: c.array("link span id")?,
                trace_state: string(c, "link trace state")?,
                attributes: attrs(c, 1)?,
                dropped_attributes_count: c.u32("link dropped count")?,
            });
        }
        s.dropped_attributes_count = c.u32("dropped attributes")?;
        s.dropped_events_count = c.u32("dropped events")?;
        s.dropped_links_count = c.u32("dropped links")?;
        Ok(s)
    }
}

impl WalRecord for LogRecord {
    const KIND: u8 = KIND_LOGS;

    fn encode(&self, out: &mut Vec<u8>, prev: Option<&Self>) {
        put_i64(out, self.time_ns);
        put_i64(out, self.observed_time_ns);
        out.extend_from_slice(&self.severity_number.to_le_bytes());
        put_bytes(out, self.severity_text.as_bytes());
        match &self.body {
            Some(b) => {
                out.push(1);
                put_value(out, b);
            }
            None => out.push(0),
        }
        put_bytes(out, self.service_name.as_bytes());
        put_opt(out, &self.trace_id);
        put_opt(out, &self.span_id);
        put_u32(out, self.flags);
        put_attrs(out, &self.attributes);
        let res = prev.map(|p| &p.resource_attributes);
        put_shared(out, &self.resource_attributes, res, put_resource);
        put_shared(out, &self.scope, prev.map(|p| &p.scope), put_scope);
        put_u32(out, self.dropped_attributes_count);
    }

    fn decode<'a>(c: &mut Cursor<'a>, shared: &mut Shared<'a>) -> Result<Self, String> {
        Ok(LogRecord {
            time_ns: i64_(c, "time")?,
            observed_time_ns: i64_(c, "observed time")?,
            severity_number: c.u32("severity")? as i32,
            severity_text: string(c, "severity text")?,
            body: match c.u8("body flag")? {
                0 => None,
                1 => Some(value(c, 1)?),
                f => return Err(format!("body: bad presence flag {f}")),
            },
            service_name: string(c, "service name")?,
            trace_id: opt(c, "trace id")?,
            span_id: opt(c, "span id")?,
            flags: c.u32("flags")?,
            attributes: attrs(c, 1)?,
            resource_attributes: shared.resource(c)?,
            scope: shared.scope(c)?,
            dropped_attributes_count: c.u32("dropped attributes")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn record<R: WalRecord>(t: &TenantId, recs: &[R]) -> Vec<u8> {
        // As the write path builds it: records after the header, the count set last.
        let mut out = header(t, R::KIND, 0, 0);
        let start = out.len();
        let mut prev = None;
        for r in recs {
            r.encode(&mut out, prev);
            prev = Some(r);
        }
        set_count(&mut out, start, recs.len());
        out
    }

    fn span(seed: u8) -> SpanRecord {
        SpanRecord {
            trace_id: [seed; 16],
            span_id: [seed.wrapping_add(1); 8],
            parent_span_id: seed.is_multiple_of(2).then_some([9; 8]),
            name: format!("op{seed}"),
            start_ns: i64::from(seed),
            end_ns: i64::from(seed) + 5,
            kind: -1,
            attributes: vec![(
                "v".into(),
                AnyValue::KvList(vec![(
                    "a".into(),
                    AnyValue::Array(vec![AnyValue::Double(-0.5), AnyValue::Bytes(vec![seed])]),
                )]),
            )],
            events: vec![SpanEvent {
                time_ns: 3,
                name: "e".into(),
                ..SpanEvent::default()
            }],
            links: vec![SpanLink {
                trace_id: [2; 16],
                span_id: [3; 8],
                ..SpanLink::default()
            }],
            dropped_links_count: 7,
            ..SpanRecord::default()
        }
    }

    #[test]
    fn spans_and_logs_round_trip_through_the_wal_encoding() {
        let t = TenantId::new("acme").unwrap();
        let spans = vec![span(1), span(2)];
        let (t2, back) = decode::<SpanRecord>(&record(&t, &spans)).unwrap();
        assert_eq!((t2, back), (t.clone(), spans));
        let logs = vec![
            LogRecord {
                time_ns: 1,
                body: Some(AnyValue::String("x".into())),
                trace_id: Some([1; 16]),
                severity_number: 9,
                ..LogRecord::default()
            },
            LogRecord::default(),
        ];
        let (_, back) = decode::<LogRecord>(&record(&t, &logs)).unwrap();
        assert_eq!(back, logs);
        // The kinds are not interchangeable.
        assert!(decode::<LogRecord>(&record(&t, &[span(1)])).is_err());
    }

    #[test]
    fn records_of_one_resource_share_it_again_after_decoding() {
        let t = TenantId::new("acme").unwrap();
        let res = Arc::new(vec![("host".to_owned(), AnyValue::String("h1".into()))]);
        let other = Arc::new(vec![("host".to_owned(), AnyValue::String("h2".into()))]);
        let mut spans = vec![span(1), span(2), span(3), span(4)];
        for (s, r) in spans.iter_mut().zip([&res, &res, &other, &res]) {
            s.resource_attributes = r.clone();
        }
        let (_, back) = decode::<SpanRecord>(&record(&t, &spans)).unwrap();
        assert_eq!(back, spans);
        let same = |i: usize, j: usize| {
            Arc::ptr_eq(&back[i].resource_attributes, &back[j].resource_attributes)
        };
        assert!(same(0, 1) && !same(1, 2) && !same(2, 3));
        assert!(Arc::ptr_eq(&back[0].scope, &back[3].scope));
    }

    /// A version 1 record of `spans`, in the documented layout of that version: every
    /// span carries its resource attributes and scope.
    fn record_v1(t: &TenantId, spans: &[SpanRecord]) -> Vec<u8> {
        record_old(t, spans, VERSION_1)
    }

    /// A record of `spans` as versions before scope attributes wrote it: version 1, or
    /// version 2 with presence byte 1 before every resource and scope (a scope: its name
    /// and version only).
    fn record_old(t: &TenantId, spans: &[SpanRecord], version: u8) -> Vec<u8> {
        let mut out = header(t, KIND_SPANS, spans.len(), 0);
        out[0] = version;
        let presence = |out: &mut Vec<u8>| {
            if version != VERSION_1 {
                out.push(1);
            }
        };
        for s in spans {
            out.extend_from_slice(&s.trace_id);
            out.extend_from_slice(&s.span_id);
            put_opt(&mut out, &s.parent_span_id);
            put_bytes(&mut out, s.trace_state.as_bytes());
            put_u32(&mut out, s.flags);
            put_bytes(&mut out, s.service_name.as_bytes());
            put_bytes(&mut out, s.name.as_bytes());
            out.extend_from_slice(&s.kind.to_le_bytes());
            put_i64(&mut out, s.start_ns);
            put_i64(&mut out, s.end_ns);
            out.extend_from_slice(&s.status_code.to_le_bytes());
            put_bytes(&mut out, s.status_message.as_bytes());
            put_attrs(&mut out, &s.attributes);
            presence(&mut out);
            put_attrs(&mut out, &s.resource_attributes);
            presence(&mut out);
            put_bytes(&mut out, s.scope.name.as_bytes());
            put_bytes(&mut out, s.scope.version.as_bytes());
            put_len(&mut out, s.events.len());
            for e in &s.events {
                put_i64(&mut out, e.time_ns);
                put_bytes(&mut out, e.name.as_bytes());
                put_attrs(&mut out, &e.attributes);
                put_u32(&mut out, e.dropped_attributes_count);
            }
            put_len(&mut out, s.links.len());
            for l in &s.links {
                out.extend_from_slice(&l.trace_id);
                out.extend_from_slice(&l.span_id);
                put_bytes(&mut out, l.trace_state.as_bytes());
                put_attrs(&mut out, &l.attributes);
                put_u32(&mut out, l.dropped_attributes_count);
            }
            put_u32(&mut out, s.dropped_attributes_count);
            put_u32(&mut out, s.dropped_events_count);
            put_u32(&mut out, s.dropped_links_count);
        }
        out
    }

    /// Spans of two resources, each resource of many attributes, in runs.
    fn spans_of_two_resources() -> Vec<SpanRecord> {
        let res = |host: &str| {
            Arc::new(
                (0..11)
                    .map(|i| {
                        (
                            format!("resource.key.{i}"),
                            AnyValue::String(format!("{host}-{i}")),
                        )
                    })
                    .collect::<Attributes>(),
            )
        };
        let (a, b) = (res("h1"), res("h2"));
        let scope = Arc::new(Scope {
            name: "lib".into(),
            version: "1.0".into(),
            ..Scope::default()
        });
        (0..12u8)
            .map(|i| {
                let mut s = span(i);
                s.resource_attributes = if !(4..9).contains(&i) {
                    a.clone()
                } else {
                    b.clone()
                };
                s.scope = scope.clone();
                s
            })
            .collect()
    }

    #[test]
    fn a_resource_is_written_once_per_run_of_records_sharing_it() {
        let t = TenantId::new("acme").unwrap();
        let spans = spans_of_two_resources();
        let v2 = record(&t, &spans);
        let v1 = record_v1(&t, &spans);
        let (_, back) = decode::<SpanRecord>(&v2).unwrap();
        assert_eq!(back, spans);
        // Three runs (a, b, a): three resource lists and one scope written, where version 1
        // wrote twelve of each; one presence byte per record for each.
        let res_len = {
            let mut b = Vec::new();
            put_attrs(&mut b, &spans[0].resource_attributes);
            b.len()
        };
        let scope_len = 4 + 3 + 4 + 3;
        let expected = v1.len() - 9 * res_len - 11 * scope_len + 2 * spans.len();
        assert_eq!(v2.len(), expected);
        let same = |i: usize, j: usize| {
            Arc::ptr_eq(&back[i].resource_attributes, &back[j].resource_attributes)
        };
        assert!(same(0, 3) && same(4, 8) && same(9, 11) && !same(3, 4));
        // A first record cannot refer to a previous one.
        let mut bad = header(&t, KIND_SPANS, 1, 0);
        spans[0].encode(&mut bad, Some(&spans[0]));
        let err = decode::<SpanRecord>(&bad).unwrap_err();
        assert!(err.contains("refers to a previous record"), "{err}");
    }

    #[test]
    fn version_1_records_are_still_read_and_share_their_resources() {
        let t = TenantId::new("acme").unwrap();
        let spans = spans_of_two_resources();
        let (t2, back) = decode::<SpanRecord>(&record_v1(&t, &spans)).unwrap();
        assert_eq!((t2, &back), (t.clone(), &spans));
        assert!(Arc::ptr_eq(
            &back[0].resource_attributes,
            &back[3].resource_attributes
        ));
        assert!(Arc::ptr_eq(&back[0].scope, &back[11].scope));
        // An unknown version is refused, naming it.
        let mut future = record(&t, &spans);
        future[0] = 3;
        let err = decode::<SpanRecord>(&future).unwrap_err();
        assert_eq!(err, "unknown record version 3");
    }

    #[test]
    fn scope_attributes_round_trip_and_scopes_without_keep_the_bytes_written_before() {
        let t = TenantId::new("acme").unwrap();
        let plain = Arc::new(Scope {
            name: "lib".into(),
            version: "1.0".into(),
            ..Scope::default()
        });
        let with = Arc::new(Scope {
            attributes: vec![
                ("team".to_owned(), AnyValue::String("core".into())),
                ("n".to_owned(), AnyValue::Int(3)),
            ],
            ..(*plain).clone()
        });
        let mut spans = vec![span(1), span(2), span(3), span(4)];
        for (s, sc) in spans.iter_mut().zip([&with, &with, &plain, &with]) {
            s.scope = sc.clone();
        }
        let bytes = record(&t, &spans);
        let (_, back) = decode::<SpanRecord>(&bytes).unwrap();
        assert_eq!(back, spans);
        assert!(Arc::ptr_eq(&back[0].scope, &back[1].scope));
        assert_eq!(back[2].scope.attributes, Vec::new());
        // A record of scopes without attributes is byte for byte what versions before scope
        // attributes wrote (presence byte 1, name and version), so a WAL written by them
        // replays as it did. (Records of different resources and scopes: nothing refers
        // to the previous record, in either.)
        let other = Arc::new(Scope {
            name: "other".into(),
            ..Scope::default()
        });
        let old: Vec<SpanRecord> = [(span(5), &plain), (span(6), &other)]
            .into_iter()
            .enumerate()
            .map(|(i, (mut s, scope))| {
                s.scope = scope.clone();
                s.resource_attributes =
                    Arc::new(vec![("host".to_owned(), AnyValue::String(format!("h{i}")))]);
                s
            })
            .collect();
        let written_before = record_old(&t, &old, VERSION);
        assert_eq!(record(&t, &old), written_before);
        let (_, back) = decode::<SpanRecord>(&written_before).unwrap();
        assert_eq!(back, old);
        // A scope's presence byte past 2 is refused, and a resource's 2.
        let mut rec = header(&t, KIND_SPANS, 1, 0);
        let mut s = span(7);
        (s.attributes, s.name) = (Vec::new(), String::new());
        s.scope = with.clone();
        s.encode(&mut rec, None);
        // After the header: trace id, span id, parent (span 7 has none: its presence
        // byte), trace state, flags, service, name, kind, start, end, status code, status
        // message, attributes (empty strings and lists: their lengths).
        let resource_flag = header(&t, KIND_SPANS, 1, 0).len() + 16 + 8 + 1 + 4 * 5 + 16 + 4 * 3;
        assert_eq!(rec[resource_flag], 1, "resource presence byte");
        let scope_flag = resource_flag + 1 + 4;
        assert_eq!(rec[scope_flag], 2, "scope presence byte");
        assert!(decode::<SpanRecord>(&rec).is_ok());
        let mut bad = rec.clone();
        bad[scope_flag] = 3;
        let err = decode::<SpanRecord>(&bad).unwrap_err();
        assert_eq!(err, "scope: bad presence flag 3");
        let mut bad = rec.clone();
        bad[resource_flag] = 2;
        let err = decode::<SpanRecord>(&bad).unwrap_err();
        assert_eq!(err, "resource: bad presence flag 2");
    }

    proptest! {
        #[test]
        fn damaged_records_are_errors_not_panics(seed in any::<u8>(), cut in any::<prop::sample::Index>(),
                                                 flip in any::<prop::sample::Index>()) {
            let t = TenantId::new("t").unwrap();
            let bytes = record(&t, &[span(seed), span(seed ^ 1)]);
            let _ = decode::<SpanRecord>(&bytes[..cut.index(bytes.len())]);
            let mut flipped = bytes.clone();
            let i = flip.index(flipped.len());
            flipped[i] ^= 0xFF;
            let _ = decode::<SpanRecord>(&flipped);
        }

        #[test]
        fn arbitrary_bytes_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            bytes.splice(0..0, [VERSION, KIND_LOGS, 1, b'a']);
            let _ = decode::<LogRecord>(&bytes);
        }
    }
}
