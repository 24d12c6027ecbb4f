//! strata-wal: the write-ahead log under every Strata write.
//!
//! A log of records in numbered segment files, each record framed with its length, type,
//! LSN (log sequence number) and a CRC32C, so that any torn or damaged record is detected.
//! It owns durability: with [`Durability::Fsync`], the default, an append returns only after
//! the `fdatasync` that covers it, and appends from many threads share one fsync (group
//! commit). It knows nothing about what the records mean; the engine above decides that.
//!
//! - [`Wal::append`] / [`Wal::append_batch`] block until acknowledged; [`Wal::submit`]
//!   returns a [`Ticket`] to wait on or `.await` later. A batch is atomic across crashes.
//! - [`Wal::open`] recovers: every record before the first damage comes back; a torn tail
//!   of the last segment is cut off; anything else depends on the [`RecoveryMode`].
//! - [`Wal::reader`] iterates from an LSN; [`Wal::truncate_below`] drops whole segments
//!   once the engine has flushed them.
//! - A failed write or fsync poisons the log ([`Error::Poisoned`]): nothing more is
//!   acknowledged until it is reopened.
//! - All file I/O goes through [`Storage`], so [`sim::SimStorage`] can cut the power.
//!
//! The format is in `docs/formats/wal.md`, the crash argument in `docs/architecture.md`.
//!
//! ```
//! use strata_wal::{Wal, WalOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let wal = Wal::open(dir.path(), WalOptions::default())?;
//! let first = wal.append(&b"one"[..])?; // durable once this returns
//! let rest = wal.append_batch([&b"two"[..], &b"three"[..]])?; // all or nothing
//! assert_eq!(rest, first + 1..first + 3);
//! drop(wal);
//!
//! // Reopen: recovery checks every record, then read them back from the first LSN.
//! let wal = Wal::open(dir.path(), WalOptions::default())?;
//! let payloads: Vec<_> = wal
//!     .reader(first)?
//!     .map(|r| r.map(|rec| rec.payload))
//!     .collect::<Result<_, _>>()?;
//! assert_eq!(payloads, [&b"one"[..], b"two", b"three"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod damage;
mod error;
mod format;
mod latency;
mod options;
mod reader;
mod record;
mod recovery;
mod segment;
mod shared;
pub mod sim;
mod storage;
mod ticket;
mod wal;
mod writer;

pub use damage::{Damage, DamageKind};
pub use error::{Error, Result};
pub use format::{FRAME_HEADER_LEN, MAX_RECORD_LEN, SEGMENT_HEADER_LEN};
pub use latency::{LATENCY_BUCKETS, LatencyHistogram, LatencySnapshot};
pub use options::{Durability, RecoveryMode, WalOptions};
pub use reader::Reader;
pub use record::{Lsn, Record};
pub use recovery::{RecoveryReport, Repair};
pub use segment::SegmentReader;
pub use storage::{OsStorage, Storage, WalFile};
pub use ticket::Ticket;
pub use wal::{Wal, WalStats};
