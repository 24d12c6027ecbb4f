//! Fuzzes `strata_wal::SegmentReader`, checking what it promises, not just that it does not
//! panic. First input byte even: the rest is read as a segment file. Odd: the rest derives a
//! few batches, written with the real `Wal` into a `SimStorage`; the segment is read intact
//! (every record must come back), then with one byte flipped or cut short (what comes back
//! must be a prefix of what was written).
//!
//! Checked on every read: header damage is at offset 0; the reader yields records, then at
//! most one damage, then only `None`; LSNs run consecutively from `first_lsn()`; each payload
//! and LSN are the bytes of its frame in the file; damage lies between `valid_len()` (and the
//! header's end) and the file's end; `valid_len()` is the end of the last record yielded (the
//! whole file at a clean end) and `next_lsn()` follows the last record.

#![no_main]

use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use strata_wal::sim::SimStorage;
use strata_wal::{FRAME_HEADER_LEN, Record, SEGMENT_HEADER_LEN, SegmentReader, Wal, WalOptions};

fuzz_target!(|data: &[u8]| match data.split_first() {
    Some((mode, rest)) if mode & 1 == 1 => check_written(rest),
    _ => drop(check(data.get(1..).unwrap_or_default())),
});

/// Reads `data` as a segment, asserting the invariants. Returns the records yielded, or
/// `None` if the header was rejected.
fn check(data: &[u8]) -> Option<Vec<Record>> {
    let mut reader = match SegmentReader::new(Bytes::copy_from_slice(data)) {
        Ok(reader) => reader,
        Err(damage) => {
            assert_eq!(damage.offset, 0, "header damage not at offset 0: {damage}");
            return None;
        }
    };
    let first_lsn = reader.first_lsn();
    let mut records: Vec<Record> = Vec::new();
    let mut off = SEGMENT_HEADER_LEN; // where the next record's frame starts
    let damage = loop {
        match reader.next() {
            Some(Ok(rec)) => {
                let lsn = first_lsn.wrapping_add(records.len() as u64);
                assert_eq!(rec.lsn, lsn, "LSNs not consecutive from first_lsn");
                let start = off + FRAME_HEADER_LEN;
                let end = start + rec.payload.len();
                assert!(end <= data.len(), "record runs past the end of the file");
                assert_eq!(
                    &data[start..end],
                    &rec.payload[..],
                    "payload not its frame's"
                );
                let stored = u64::from_le_bytes(data[off + 12..off + 20].try_into().unwrap());
                assert_eq!(stored, rec.lsn, "LSN not the one stored in its frame");
                assert!(end as u64 <= reader.valid_len(), "record beyond valid_len");
                off = end;
                records.push(rec);
            }
            Some(Err(damage)) => break Some(damage),
            None => break None,
        }
    };
    for _ in 0..3 {
        assert!(reader.next().is_none(), "reader resumed after its end");
    }
    let valid_len = reader.valid_len();
    assert_eq!(
        valid_len, off as u64,
        "valid_len not the end of the last record"
    );
    let next_lsn = first_lsn.wrapping_add(records.len() as u64);
    assert_eq!(
        reader.next_lsn(),
        next_lsn,
        "next_lsn not after the last record"
    );
    if let Some(d) = damage {
        let range = valid_len.max(SEGMENT_HEADER_LEN as u64)..=data.len() as u64;
        assert!(range.contains(&d.offset), "damage outside {range:?}: {d}");
    } else {
        assert_eq!(
            valid_len,
            data.len() as u64,
            "clean end before the end of file"
        );
    }
    Some(records)
}

/// Input: `[op, pos_lo, pos_hi, xor, records...]`. Writes the records (see [`batches`]),
/// checks the intact segment, then flips a byte (`op` odd) or truncates, and checks again.
fn check_written(input: &[u8]) {
    let Some((&[op, lo, hi, xor], body)) = input.split_first_chunk::<4>() else {
        return;
    };
    let batches = batches(body);
    let written: Vec<&[u8]> = batches.iter().flatten().copied().collect();

    let sim = SimStorage::new();
    let wal =
        Wal::open_with_storage(Arc::new(sim.clone()), "/wal", WalOptions::default()).expect("open");
    for batch in &batches {
        let batch = batch.iter().map(|r| Bytes::copy_from_slice(r));
        wal.append_batch(batch).expect("append");
    }
    drop(wal);
    let path = Path::new("/wal/00000000000000000001.wal");
    let mut seg = sim.file(path).expect("segment file");

    let read = check(&seg).expect("header of a freshly written segment rejected");
    assert_prefix(&read, &written);
    assert_eq!(read.len(), written.len(), "intact segment lost records");

    let pos = usize::from(u16::from_le_bytes([lo, hi]));
    if op & 1 == 1 {
        let i = pos % seg.len();
        seg[i] ^= xor.max(1);
    } else {
        seg.truncate(pos % (seg.len() + 1));
    }
    if let Some(read) = check(&seg) {
        assert_prefix(&read, &written);
    }
}

/// Splits `body` into at most 16 records, grouped in batches: each record is a length byte
/// (payload length in the low 6 bits; bit 7 starts a new batch), then that many bytes (or
/// what is left).
fn batches(mut body: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut batches: Vec<Vec<&[u8]>> = Vec::new();
    for _ in 0..16 {
        let Some((&len, rest)) = body.split_first() else {
            break;
        };
        let (payload, rest) = rest.split_at(usize::from(len & 0x3f).min(rest.len()));
        body = rest;
        match batches.last_mut() {
            Some(batch) if len & 0x80 == 0 => batch.push(payload),
            _ => batches.push(vec![payload]),
        }
    }
    batches
}

/// `read` must be the first records of `written`, with LSNs from 1.
fn assert_prefix(read: &[Record], written: &[&[u8]]) {
    assert!(
        read.len() <= written.len(),
        "more records read than written"
    );
    for (i, (rec, &payload)) in read.iter().zip(written).enumerate() {
        assert_eq!(rec.lsn, i as u64 + 1, "record {i} has the wrong LSN");
        assert_eq!(
            &rec.payload[..],
            payload,
            "record {i} has the wrong payload"
        );
    }
}
