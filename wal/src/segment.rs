//! Decoding one segment: header checks, frame checks, batch assembly.
//!
//! [`SegmentReader`] is the single decoder used by recovery, by [`crate::Reader`] and by the
//! fuzz target. It checks each frame in a fixed order (header room, length, type, checksum,
//! LSN, batch sequence), yields the records of complete batches only, and stops for good at
//! the first damage it finds, reporting where and what.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::damage::{Damage, DamageKind};
use crate::format::{
    FORMAT_VERSION, FRAME_HEADER_LEN, FrameType, MAX_RECORD_LEN, SEGMENT_HEADER_LEN, SEGMENT_MAGIC,
    read_u16, read_u32, read_u64,
};
use crate::record::{Lsn, Record};

/// Reads the records of one segment from its bytes.
///
/// Yields `Ok(record)` for every record of every complete batch, in LSN order, then either
/// ends (clean end of segment) or yields one `Err(damage)` and ends. It never yields a record
/// whose checksum, LSN or batch framing is wrong, and never panics, whatever the input.
///
/// ```
/// use bytes::Bytes;
/// use strata_wal::SegmentReader;
///
/// // Arbitrary bytes are not a segment: the header check fails.
/// let err = SegmentReader::new(Bytes::from_static(b"not a wal segment at all, no no no"))
///     .unwrap_err();
/// assert_eq!(err.offset, 0);
/// ```
#[derive(Debug)]
pub struct SegmentReader {
    data: Bytes,
    first_lsn: Lsn,
    /// Offset of the next frame to decode.
    pos: usize,
    /// LSN the next frame must carry.
    frame_lsn: Lsn,
    /// End of the last complete batch: everything before it is good.
    valid_len: usize,
    /// LSN after the last complete batch.
    valid_next_lsn: Lsn,
    /// Records of the last complete batch not yet handed out.
    ready: VecDeque<Record>,
    done: bool,
}

impl SegmentReader {
    /// Checks the segment header (length, magic, version, checksum) and positions the reader
    /// at the first frame.
    pub fn new(data: Bytes) -> Result<Self, Damage> {
        let bad = |kind| Damage { offset: 0, kind };
        if data.len() < SEGMENT_HEADER_LEN {
            return Err(bad(if !data.is_empty() && data.iter().all(|&b| b == 0) {
                DamageKind::ZeroTail
            } else {
                DamageKind::TruncatedSegmentHeader
            }));
        }
        let h = &data[..SEGMENT_HEADER_LEN];
        if h[0..8] != SEGMENT_MAGIC {
            return Err(bad(if h.iter().all(|&b| b == 0) {
                DamageKind::ZeroTail
            } else {
                DamageKind::BadMagic
            }));
        }
        let version = read_u16(h, 8);
        if version != FORMAT_VERSION {
            return Err(bad(DamageKind::UnsupportedVersion(version)));
        }
        if crc32c::crc32c(&h[0..28]) != read_u32(h, 28) {
            return Err(bad(DamageKind::BadSegmentHeaderChecksum));
        }
        let first_lsn = read_u64(h, 16);
        Ok(Self {
            data,
            first_lsn,
            pos: SEGMENT_HEADER_LEN,
            frame_lsn: first_lsn,
            valid_len: SEGMENT_HEADER_LEN,
            valid_next_lsn: first_lsn,
            ready: VecDeque::new(),
            done: false,
        })
    }

    /// LSN of the segment's first record, from its header.
    pub fn first_lsn(&self) -> Lsn {
        self.first_lsn
    }

    /// Length of the good prefix read so far: the end of the last complete batch.
    pub fn valid_len(&self) -> u64 {
        self.valid_len as u64
    }

    /// LSN that follows the last complete batch read so far.
    pub fn next_lsn(&self) -> Lsn {
        self.valid_next_lsn
    }

    /// Decodes the next complete batch into `self.ready`. Returns `Ok(false)` at a clean end.
    fn read_batch(&mut self) -> Result<bool, Damage> {
        let mut in_batch = false;
        loop {
            if self.pos == self.data.len() {
                return if in_batch {
                    Err(Damage {
                        offset: self.valid_len as u64,
                        kind: DamageKind::UnfinishedBatch,
                    })
                } else {
                    Ok(false)
                };
            }
            let (record, ty, end) = self.decode_frame().map_err(|kind| Damage {
                offset: self.pos as u64,
                kind,
            })?;
            if ty.opens_batch() == in_batch {
                return Err(Damage {
                    offset: self.pos as u64,
                    kind: DamageKind::BadBatchSequence,
                });
            }
            in_batch = true;
            self.ready.push_back(record);
            self.pos = end;
            self.frame_lsn += 1;
            if ty.closes_batch() {
                self.valid_len = self.pos;
                self.valid_next_lsn = self.frame_lsn;
                return Ok(true);
            }
        }
    }

    /// Checks and decodes the frame at `self.pos`: header room, length, type, checksum, LSN.
    fn decode_frame(&self) -> Result<(Record, FrameType, usize), DamageKind> {
        let rest = &self.data[self.pos..];
        let damage = |kind| {
            if rest.iter().all(|&b| b == 0) {
                DamageKind::ZeroTail
            } else {
                kind
            }
        };
        if rest.len() < FRAME_HEADER_LEN {
            return Err(damage(DamageKind::TruncatedFrameHeader));
        }
        let len = read_u32(rest, 4);
        if len as usize > MAX_RECORD_LEN {
            return Err(damage(DamageKind::BadLength(len)));
        }
        let available = rest.len() - FRAME_HEADER_LEN;
        if len as usize > available {
            return Err(damage(DamageKind::TruncatedPayload {
                declared: len,
                available,
            }));
        }
        let ty = match FrameType::from_u8(rest[8]) {
            Some(ty) if rest[9..12] == [0, 0, 0] => ty,
            _ => return Err(damage(DamageKind::BadFrameType(rest[8]))),
        };
        let frame_len = FRAME_HEADER_LEN + len as usize;
        if crc32c::crc32c(&rest[4..frame_len]) != read_u32(rest, 0) {
            return Err(damage(DamageKind::BadChecksum));
        }
        let lsn = read_u64(rest, 12);
        if lsn != self.frame_lsn {
            return Err(DamageKind::BadLsn {
                expected: self.frame_lsn,
                found: lsn,
            });
        }
        let start = self.pos + FRAME_HEADER_LEN;
        let record = Record {
            lsn,
            payload: self.data.slice(start..start + len as usize),
        };
        Ok((record, ty, self.pos + frame_len))
    }
}

impl Iterator for SegmentReader {
    type Item = Result<Record, Damage>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.ready.pop_front() {
                return Some(Ok(r));
            }
            if self.done {
                return None;
            }
            match self.read_batch() {
                Ok(true) => {}
                Ok(false) => self.done = true,
                Err(d) => {
                    self.done = true;
                    self.ready.clear();
                    return Some(Err(d));
                }
            }
        }
    }
}
