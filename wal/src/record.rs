//! The log's numbering and its unit: the [`Lsn`] and the [`Record`] read back.

use bytes::Bytes;

/// A log sequence number: records are numbered 1, 2, 3, ... in append order.
pub type Lsn = u64;

/// A record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its log sequence number.
    pub lsn: Lsn,
    /// Its bytes, exactly as appended.
    pub payload: Bytes,
}
