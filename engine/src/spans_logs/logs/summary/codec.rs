//! The bytes of a summary file (`docs/formats/spans-logs.md`, "Logs summary files"):
//! a header, the groups one after another (their labels, then their seconds as varints),
//! a CRC-32C of everything before it.

use std::path::Path;

use super::lines::{BLOCK_BITS, BLOCK_ROWS, BuiltFilter};
use super::{SecondCount, SummaryGroup};
use crate::Result;
use crate::spans_logs::cursor::Cursor;

/// First bytes of a summary file.
const MAGIC: &[u8; 8] = b"STRATALS";
/// Its format version: 2 lists the records of each line-filter block (blocks follow the
/// logs file's `body` pages); 1, still read, had blocks of 512 records.
const VERSION: u32 = 2;
/// Header bytes: magic, version, groups, logs file length, first and last second.
const HEADER: usize = 40;

/// A group as the builder hands it over: its labels and its seconds, ascending.
pub(crate) struct GroupData<'a> {
    pub(crate) group: &'a SummaryGroup,
    pub(crate) seconds: &'a [SecondCount],
}

fn put_str(b: &mut Vec<u8>, s: &str) {
    b.extend_from_slice(&(s.len() as u32).to_le_bytes());
    b.extend_from_slice(s.as_bytes());
}

fn put_pairs(b: &mut Vec<u8>, pairs: &[(String, String)]) {
    b.extend_from_slice(&(pairs.len() as u32).to_le_bytes());
    for (k, v) in pairs {
        put_str(b, k);
        put_str(b, v);
    }
}

fn put_varint(b: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        b.push((v as u8) | 0x80);
        v >>= 7;
    }
    b.push(v as u8);
}

/// Where a parsed summary's line filter lies in its bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FilterAt {
    /// The records it covers.
    pub(crate) rows: u64,
    /// Where the records of each block are listed (`u32`s), and how many; `None`: blocks
    /// of [`BLOCK_ROWS`] (version 1).
    pub(crate) listed: Option<(usize, usize)>,
    /// Where the bit sets are, and their bytes.
    pub(crate) bits: (usize, usize),
}

/// The bytes of a summary of `groups` for a logs file of `logs_len` bytes (0: none), with
/// the line filter of its records when given.
pub(crate) fn encode(
    groups: &[GroupData<'_>],
    logs_len: u64,
    filter: Option<&BuiltFilter>,
) -> Vec<u8> {
    let mut b = Vec::with_capacity(HEADER + groups.len() * 64);
    let first = groups
        .iter()
        .filter_map(|g| g.seconds.first())
        .map(|s| s.second)
        .min()
        .unwrap_or(0);
    let last = groups
        .iter()
        .filter_map(|g| g.seconds.last())
        .map(|s| s.second)
        .max()
        .unwrap_or(-1);
    b.extend_from_slice(MAGIC);
    b.extend_from_slice(&VERSION.to_le_bytes());
    b.extend_from_slice(&(groups.len() as u32).to_le_bytes());
    b.extend_from_slice(&logs_len.to_le_bytes());
    b.extend_from_slice(&first.to_le_bytes());
    b.extend_from_slice(&last.to_le_bytes());
    let mut secs = Vec::new();
    for g in groups {
        let grp = g.group;
        put_str(&mut b, &grp.service_name);
        b.extend_from_slice(&grp.severity_number.to_le_bytes());
        put_str(&mut b, &grp.severity_text);
        put_pairs(&mut b, &grp.resource);
        put_pairs(&mut b, &grp.level_attributes);
        b.extend_from_slice(&(grp.attribute_keys.len() as u32).to_le_bytes());
        for k in &grp.attribute_keys {
            put_str(&mut b, k);
        }
        secs.clear();
        let mut prev = 0i64;
        for s in g.seconds {
            let delta = s.second.wrapping_sub(prev);
            put_varint(&mut secs, ((delta << 1) ^ (delta >> 63)) as u64);
            prev = s.second;
            put_varint(&mut secs, s.entries);
            put_varint(&mut secs, s.bytes);
            put_varint(&mut secs, s.edge_entries);
            if s.edge_entries > 0 {
                put_varint(&mut secs, s.edge_bytes);
            }
        }
        b.extend_from_slice(&(g.seconds.len() as u32).to_le_bytes());
        b.extend_from_slice(&(secs.len() as u32).to_le_bytes());
        b.extend_from_slice(&secs);
    }
    match filter {
        Some(f) => {
            b.extend_from_slice(&f.rows.to_le_bytes());
            b.extend_from_slice(&(f.blocks.len() as u32).to_le_bytes());
            b.extend_from_slice(&(BLOCK_BITS as u32).to_le_bytes());
            for n in &f.blocks {
                b.extend_from_slice(&n.to_le_bytes());
            }
            b.extend_from_slice(&f.bits);
        }
        None => b.extend_from_slice(&[0; 16]),
    }
    let crc = crc32c::crc32c(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

/// Key-value pairs: their count, then each key and value.
fn pairs(c: &mut Cursor<'_>) -> Option<Vec<(String, String)>> {
    let n = c.u32()? as usize;
    let mut out = Vec::with_capacity(n.min(1024));
    for _ in 0..n {
        out.push((c.str()?, c.str()?));
    }
    Some(out)
}

/// A parsed summary: its groups, first and last second, and line filter.
pub(crate) type Parsed = (Vec<SummaryGroup>, (i64, i64), Option<FilterAt>);

/// The groups of a summary's bytes, its first and last second and where its line filter
/// lies; `None` if they are not a valid summary (or not one of a logs file of `logs_len`
/// bytes, when given).
pub(crate) fn parse(b: &[u8], logs_len: Option<u64>) -> Option<Parsed> {
    if b.len() < HEADER + 4 || &b[..8] != MAGIC {
        return None;
    }
    let body = b.len() - 4;
    if crc32c::crc32c(&b[..body]) != u32::from_le_bytes(b[body..].try_into().ok()?) {
        return None;
    }
    let mut c = Cursor::new(&b[..body], 8);
    let version = c.u32()?;
    if version != VERSION && version != 1 {
        return None;
    }
    let n = c.u32()? as usize;
    let len = c.u64()?;
    if logs_len.is_some_and(|l| l != len) {
        return None;
    }
    let first = c.u64()? as i64;
    let last = c.u64()? as i64;
    let mut groups = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        let service_name = c.str()?;
        let severity_number = c.u32()? as i32;
        let severity_text = c.str()?;
        let resource = pairs(&mut c)?;
        let level_attributes = pairs(&mut c)?;
        let keys = c.u32()? as usize;
        let mut attribute_keys = Vec::with_capacity(keys.min(1024));
        for _ in 0..keys {
            attribute_keys.push(c.str()?);
        }
        let seconds = c.u32()? as usize;
        let len = c.u32()? as usize;
        let at = c.at();
        c.take(len)?;
        groups.push(SummaryGroup {
            service_name,
            resource,
            severity_number,
            severity_text,
            level_attributes,
            attribute_keys,
            seconds_at: (at, len),
            seconds,
        });
    }
    let filter = if version == 1 {
        filter_v1(&mut c)?
    } else {
        let rows = c.u64()?;
        let blocks = c.u32()? as usize;
        let block_bits = c.u32()? as usize;
        let listed = c.at();
        let counts = c.take(blocks.checked_mul(4)?)?;
        let bits = (c.at(), blocks.checked_mul(block_bits / 8)?);
        c.take(bits.1)?;
        let sum: u64 = counts
            .chunks_exact(4)
            .map(|x| u64::from(u32::from_le_bytes([x[0], x[1], x[2], x[3]])))
            .sum();
        // A filter of another block size is not used; one whose blocks do not add up to
        // its records is not a filter.
        (rows > 0 && block_bits == BLOCK_BITS && sum == rows).then_some(FilterAt {
            rows,
            listed: Some((listed, blocks)),
            bits,
        })
    };
    (c.at() == body).then_some((groups, (first, last), filter))
}

/// The line filter of a version 1 summary: blocks of [`BLOCK_ROWS`] records.
fn filter_v1(c: &mut Cursor<'_>) -> Option<Option<FilterAt>> {
    let rows = c.u64()?;
    let block_rows = u64::from(c.u32()?);
    let block_bits = c.u32()? as usize;
    let len = usize::try_from(c.u64()?).ok()?;
    let at = c.at();
    c.take(len)?;
    // A filter of other block sizes is not used.
    let fits = block_rows == BLOCK_ROWS
        && block_bits == BLOCK_BITS
        && len == rows.div_ceil(BLOCK_ROWS) as usize * (BLOCK_BITS / 8);
    Some((fits && rows > 0).then_some(FilterAt {
        rows,
        listed: None,
        bits: (at, len),
    }))
}

/// Decodes a group's seconds; stops early at malformed bytes (which the checksum makes a
/// bug, not damage).
pub(crate) struct Seconds<'a> {
    b: &'a [u8],
    at: usize,
    left: usize,
    prev: i64,
}

impl<'a> Seconds<'a> {
    pub(crate) fn new(b: &'a [u8], n: usize) -> Self {
        Self {
            b,
            at: 0,
            left: n,
            prev: 0,
        }
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.b.get(self.at)?;
            self.at += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Some(v);
            }
        }
        None
    }
}

impl Iterator for Seconds<'_> {
    type Item = SecondCount;

    fn next(&mut self) -> Option<SecondCount> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let z = self.varint()?;
        let delta = ((z >> 1) as i64) ^ -((z & 1) as i64);
        let second = self.prev.wrapping_add(delta);
        self.prev = second;
        let entries = self.varint()?;
        let bytes = self.varint()?;
        let edge_entries = self.varint()?;
        let edge_bytes = if edge_entries > 0 { self.varint()? } else { 0 };
        Some(SecondCount {
            second,
            entries,
            bytes,
            edge_entries,
            edge_bytes,
        })
    }
}

/// Writes `bytes` to `path` through a synced temporary file renamed into place (the
/// directory is synced by the manifest write that follows, or by the next one).
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::storage::fs::write_synced(path, &path.with_extension("sum.tmp"), bytes)
}
