//! The bytes of a spans summary file (`docs/formats/spans-logs.md`, "Spans summary
//! files"): a header, the services one after another, a CRC-32C of everything before it.

use std::path::Path;

use super::{AttrValues, Keys, ServiceSummary, Values};
use crate::Result;
use crate::spans_logs::cursor::Cursor;

/// First bytes of a spans summary file.
const MAGIC: &[u8; 8] = b"STRATASS";
/// Its format version.
const VERSION: u32 = 1;
/// Header bytes: magic, version, services, spans file length, spans.
const HEADER: usize = 32;
/// A value count that stands for "many".
const MANY: u32 = u32::MAX;

/// [`AttrValues`] flags.
const HAS_NUMBERS: u8 = 1;
const NAN: u8 = 2;
const FALSE: u8 = 4;
const TRUE: u8 = 8;
const OTHER: u8 = 16;

fn put_u32(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put_u64(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_le_bytes());
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    put_u32(b, s.len() as u32);
    b.extend_from_slice(s.as_bytes());
}

fn put_values(b: &mut Vec<u8>, v: &Values) {
    match v {
        Values::Few(v) => {
            put_u32(b, v.len() as u32);
            for s in v {
                put_str(b, s);
            }
        }
        Values::Many => put_u32(b, MANY),
    }
}

fn put_keys(b: &mut Vec<u8>, k: &Keys) {
    put_u32(b, k.keys.len() as u32);
    b.push(u8::from(k.more));
    for (key, v) in &k.keys {
        put_str(b, key);
        let flags = if v.numbers.is_some() { HAS_NUMBERS } else { 0 }
            | if v.nan { NAN } else { 0 }
            | if v.bools & 1 != 0 { FALSE } else { 0 }
            | if v.bools & 2 != 0 { TRUE } else { 0 }
            | if v.other { OTHER } else { 0 };
        b.push(flags);
        if let Some((lo, hi)) = v.numbers {
            put_u64(b, lo.to_bits());
            put_u64(b, hi.to_bits());
        }
        put_values(b, &v.strings);
    }
}

/// The bytes of a summary of `services` (sorted by name) for a spans file of `spans_len`
/// bytes (0: records in memory).
pub(crate) fn encode(services: &[ServiceSummary], spans_len: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(HEADER + services.len() * 256);
    b.extend_from_slice(MAGIC);
    put_u32(&mut b, VERSION);
    put_u32(&mut b, services.len() as u32);
    put_u64(&mut b, spans_len);
    put_u64(&mut b, services.iter().map(|s| s.spans).sum());
    for s in services {
        put_str(&mut b, &s.name);
        put_u64(&mut b, s.spans);
        put_u64(&mut b, s.status);
        put_u64(&mut b, s.kinds);
        put_u64(&mut b, s.duration.0 as u64);
        put_u64(&mut b, s.duration.1 as u64);
        put_values(&mut b, &s.names);
        for k in &s.attrs {
            put_keys(&mut b, k);
        }
    }
    let crc = crc32c::crc32c(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// A value list: [`MANY`], or its count and the sorted, distinct strings.
fn values(c: &mut Cursor<'_>) -> Option<Values> {
    let n = c.u32()?;
    if n == MANY {
        return Some(Values::Many);
    }
    let mut v = Vec::with_capacity((n as usize).min(1024));
    for _ in 0..n {
        v.push(c.str()?);
    }
    // Sorted and distinct, as written: a reader searches them.
    v.windows(2).all(|w| w[0] < w[1]).then_some(Values::Few(v))
}

/// A scope's attribute keys, sorted, each with its flags, number range and values.
fn keys(c: &mut Cursor<'_>) -> Option<Keys> {
    let n = c.u32()? as usize;
    let more = c.u8()? != 0;
    let mut keys = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        let key = c.str()?;
        let flags = c.u8()?;
        let numbers = if flags & HAS_NUMBERS != 0 {
            let lo = f64::from_bits(c.u64()?);
            let hi = f64::from_bits(c.u64()?);
            Some((lo, hi))
        } else {
            None
        };
        let bools = u8::from(flags & FALSE != 0) | (u8::from(flags & TRUE != 0) << 1);
        let strings = values(c)?;
        keys.push((
            key,
            AttrValues {
                strings,
                numbers,
                nan: flags & NAN != 0,
                bools,
                other: flags & OTHER != 0,
            },
        ));
    }
    keys.windows(2)
        .all(|w| w[0].0 < w[1].0)
        .then_some(Keys { keys, more })
}

/// The services of a summary's bytes; `None` if they are not a valid summary (or not one
/// of a spans file of `spans_len` bytes, when given).
pub(crate) fn parse(b: &[u8], spans_len: Option<u64>) -> Option<Vec<ServiceSummary>> {
    if b.len() < HEADER + 4 || &b[..8] != MAGIC {
        return None;
    }
    let body = b.len() - 4;
    if crc32c::crc32c(&b[..body]) != u32::from_le_bytes(b[body..].try_into().ok()?) {
        return None;
    }
    let mut c = Cursor::new(&b[..body], 8);
    if c.u32()? != VERSION {
        return None;
    }
    let n = c.u32()? as usize;
    let len = c.u64()?;
    if spans_len.is_some_and(|l| l != len) {
        return None;
    }
    let total = c.u64()?;
    let mut services = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        let name = c.str()?;
        let spans = c.u64()?;
        let status = c.u64()?;
        let kinds = c.u64()?;
        let duration = (c.u64()? as i64, c.u64()? as i64);
        let names = values(&mut c)?;
        let attrs = [keys(&mut c)?, keys(&mut c)?, keys(&mut c)?];
        services.push(ServiceSummary {
            name,
            spans,
            names,
            status,
            kinds,
            duration,
            attrs,
        });
    }
    let sorted = services.windows(2).all(|w| w[0].name < w[1].name);
    let counted = services.iter().map(|s| s.spans).sum::<u64>() == total;
    (c.at() == body && sorted && counted).then_some(services)
}

/// Writes `bytes` to `path` through a synced temporary file renamed into place (the
/// directory is synced by the manifest write that follows, or by the next one).
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::storage::fs::write_synced(path, &path.with_extension("sum.tmp"), bytes)
}
