//! The on-disk format: segment header and record frames (see `docs/formats/wal.md`).
//!
//! All integers are little-endian. A segment file is a 32-byte header followed by frames; a
//! frame is a 20-byte header followed by its payload. The CRC32C of a frame covers bytes
//! 4..20 of its header and then the payload, so every field but the checksum itself is
//! protected. Frames carry their LSN, so a frame that is intact but out of place (a stale
//! tail, a missing segment) is detected too.

use bytes::Bytes;

use crate::record::Lsn;

/// Magic bytes opening every segment file.
pub(crate) const SEGMENT_MAGIC: [u8; 8] = *b"STRATWAL";
/// The only segment format version this build reads and writes.
pub(crate) const FORMAT_VERSION: u16 = 1;
/// Size of the segment header in bytes.
pub const SEGMENT_HEADER_LEN: usize = 32;
/// Size of a frame header in bytes.
pub const FRAME_HEADER_LEN: usize = 20;
/// Largest payload one record may carry. A declared length above this is damage, so a
/// reader never trusts a length it could not have written.
pub const MAX_RECORD_LEN: usize = 1 << 30;

/// Where a frame sits in its batch. A batch is the unit of atomicity: replay yields all of
/// its records or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum FrameType {
    /// The only record of its batch.
    Full = 1,
    /// The first record of a batch of two or more.
    First = 2,
    /// A record strictly inside a batch.
    Middle = 3,
    /// The last record of a batch of two or more.
    Last = 4,
}

impl FrameType {
    pub(crate) fn from_u8(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Full),
            2 => Some(Self::First),
            3 => Some(Self::Middle),
            4 => Some(Self::Last),
            _ => None,
        }
    }

    /// True for the types that may open a batch.
    pub(crate) fn opens_batch(self) -> bool {
        matches!(self, Self::Full | Self::First)
    }

    /// True for the types that close a batch.
    pub(crate) fn closes_batch(self) -> bool {
        matches!(self, Self::Full | Self::Last)
    }
}

/// Encodes a segment header for a segment whose first record will have `first_lsn`.
pub(crate) fn encode_segment_header(first_lsn: Lsn) -> [u8; SEGMENT_HEADER_LEN] {
    let mut h = [0u8; SEGMENT_HEADER_LEN];
    h[0..8].copy_from_slice(&SEGMENT_MAGIC);
    h[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&first_lsn.to_le_bytes());
    let crc = crc32c::crc32c(&h[0..28]);
    h[28..32].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Number of bytes `records` occupy once framed.
pub(crate) fn framed_len(records: &[Bytes]) -> usize {
    records.iter().map(|r| FRAME_HEADER_LEN + r.len()).sum()
}

/// Appends `records` as one batch of frames to `buf`, numbering them from `first_lsn`.
/// The caller has checked that there is at least one record and none exceeds
/// [`MAX_RECORD_LEN`].
pub(crate) fn encode_batch(buf: &mut Vec<u8>, first_lsn: Lsn, records: &[Bytes]) {
    let n = records.len();
    for (i, payload) in records.iter().enumerate() {
        let ty = match (i == 0, i + 1 == n) {
            (true, true) => FrameType::Full,
            (true, false) => FrameType::First,
            (false, true) => FrameType::Last,
            (false, false) => FrameType::Middle,
        };
        let start = buf.len();
        buf.extend_from_slice(&[0u8; 4]); // checksum, filled in below
        // Lossless: payloads are checked against MAX_RECORD_LEN (< u32::MAX) on submit.
        buf.extend_from_slice(&(payload.len() as u32).to_le_bytes());
        buf.extend_from_slice(&[ty as u8, 0, 0, 0]);
        buf.extend_from_slice(&(first_lsn + i as u64).to_le_bytes());
        buf.extend_from_slice(payload);
        let crc = crc32c::crc32c(&buf[start + 4..]);
        buf[start..start + 4].copy_from_slice(&crc.to_le_bytes());
    }
}

pub(crate) fn read_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

pub(crate) fn read_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

pub(crate) fn read_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
