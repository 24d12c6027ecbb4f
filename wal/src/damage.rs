//! What recovery and the readers report about a damaged segment: [`Damage`] and its
//! [`DamageKind`].

use std::fmt;

use crate::format::FORMAT_VERSION;
use crate::record::Lsn;

/// What is wrong at a damaged offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DamageKind {
    /// The file is shorter than a segment header.
    TruncatedSegmentHeader,
    /// The segment does not start with the magic bytes.
    BadMagic,
    /// The segment header's checksum does not match.
    BadSegmentHeaderChecksum,
    /// The segment header names a format version this build does not know. Never repaired:
    /// the file may be perfectly good for a newer Strata.
    UnsupportedVersion(u16),
    /// The header's first LSN is not the one its file name promises.
    SegmentLsnMismatch {
        /// LSN in the file name.
        expected: Lsn,
        /// LSN in the header.
        found: Lsn,
    },
    /// This segment does not continue where the previous one ended: records are missing.
    Gap {
        /// LSN the previous segment ends before.
        expected: Lsn,
        /// LSN this segment starts at.
        found: Lsn,
    },
    /// Everything from here to the end of the file is zero bytes.
    ZeroTail,
    /// Fewer bytes remain than a frame header needs.
    TruncatedFrameHeader,
    /// The declared payload length is larger than any record this log writes.
    BadLength(u32),
    /// The declared payload runs past the end of the file.
    TruncatedPayload {
        /// Declared payload length.
        declared: u32,
        /// Bytes actually left after the frame header.
        available: usize,
    },
    /// Unknown frame type or non-zero reserved bytes.
    BadFrameType(u8),
    /// The frame's checksum does not match its contents.
    BadChecksum,
    /// The frame is intact but carries the wrong LSN.
    BadLsn {
        /// LSN the next frame must carry.
        expected: Lsn,
        /// LSN it carries.
        found: Lsn,
    },
    /// A batch opened inside an open batch, or a continuation frame outside any batch.
    BadBatchSequence,
    /// The file ends inside a batch whose last frame never made it to disk.
    UnfinishedBatch,
}

impl fmt::Display for DamageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TruncatedSegmentHeader => write!(f, "file shorter than a segment header"),
            Self::BadMagic => write!(f, "bad segment magic"),
            Self::BadSegmentHeaderChecksum => write!(f, "segment header checksum mismatch"),
            Self::UnsupportedVersion(v) => write!(
                f,
                "unsupported segment format version {v} (this build reads {FORMAT_VERSION})"
            ),
            Self::SegmentLsnMismatch { expected, found } => write!(
                f,
                "segment header says first LSN {found}, its file name says {expected}"
            ),
            Self::Gap { expected, found } => write!(
                f,
                "segment starts at LSN {found} but the previous one ends before {expected}"
            ),
            Self::ZeroTail => write!(f, "zero-filled tail"),
            Self::TruncatedFrameHeader => write!(f, "truncated frame header"),
            Self::BadLength(n) => write!(f, "implausible record length {n}"),
            Self::TruncatedPayload {
                declared,
                available,
            } => write!(
                f,
                "record declares {declared} bytes but only {available} remain"
            ),
            Self::BadFrameType(t) => write!(f, "bad frame type {t}"),
            Self::BadChecksum => write!(f, "frame checksum mismatch"),
            Self::BadLsn { expected, found } => {
                write!(f, "frame carries LSN {found} where {expected} was expected")
            }
            Self::BadBatchSequence => write!(f, "batch frames out of sequence"),
            Self::UnfinishedBatch => write!(f, "file ends inside a batch"),
        }
    }
}

/// Damage found in a segment: the byte offset of the first frame (or header) that failed,
/// and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Offset from the start of the segment file.
    pub offset: u64,
    /// What failed there.
    pub kind: DamageKind,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.kind, self.offset)
    }
}
