//! The crate's error type.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::damage::Damage;
use crate::record::Lsn;

/// Everything that can go wrong in the WAL.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O call failed outside the writer (open, recovery, reading, truncation).
    #[error("WAL I/O error during {op} on {}: {source}", path.display())]
    Io {
        /// What the WAL was doing.
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// A write or fsync failed earlier. The writer acknowledges nothing after that: the state
    /// of the file past the last good fsync is unknown, and retrying fsync after a failure can
    /// report success for data the kernel has already dropped. Reopen the WAL to recover.
    #[error("WAL is poisoned by an earlier write/fsync failure, reopen to recover: {source}")]
    Poisoned {
        /// The failure that poisoned the writer.
        #[source]
        source: Arc<io::Error>,
    },
    /// A segment is damaged where the recovery mode does not allow repairing it.
    #[error("WAL segment {} is damaged: {damage}", path.display())]
    Corrupt {
        /// The damaged segment file.
        path: PathBuf,
        /// Where and what.
        damage: Damage,
    },
    /// Another process holds the WAL directory.
    #[error("WAL directory {} is locked by another process", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },
    /// An append with no records.
    #[error("an append needs at least one record")]
    EmptyBatch,
    /// A record larger than [`crate::MAX_RECORD_LEN`].
    #[error("record of {len} bytes exceeds the maximum of {max} bytes")]
    RecordTooLarge {
        /// Size of the offending record.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A read starting below the oldest record still kept.
    #[error("LSN {requested} was truncated away; the oldest record kept is {oldest}")]
    Truncated {
        /// The LSN asked for.
        requested: Lsn,
        /// The oldest LSN still readable.
        oldest: Lsn,
    },
    /// An option out of range.
    #[error("invalid WAL option {name}: {reason}")]
    InvalidOption {
        /// The option's field name.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The writer thread is gone (the WAL was closed, or the thread panicked).
    #[error("WAL writer has stopped")]
    Closed,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io_err(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(io::Error) -> Error {
    move |source| Error::Io {
        op,
        path: path.into(),
        source,
    }
}
