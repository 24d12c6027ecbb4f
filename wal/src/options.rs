//! Options chosen by whoever opens the WAL.

use std::time::Duration;

use crate::error::Error;
use crate::format::SEGMENT_HEADER_LEN;

/// When an append counts as done, and so what a crash can lose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// An append completes only after the `fdatasync` that covers it. Concurrent appenders
    /// share one fsync (group commit). Loses nothing acknowledged, on process crash or
    /// power loss.
    #[default]
    Fsync,
    /// An append completes once written to the OS; a background fsync runs at most this long
    /// after the first unsynced write. Survives a process crash; a power loss or kernel crash
    /// can lose up to this much acknowledged data.
    Interval(Duration),
    /// An append completes once written to the OS and is only fsynced at segment rotation,
    /// [`crate::Wal::sync`] and close. Survives a process crash; a power loss can lose
    /// everything since the last rotation.
    None,
}

/// What opening the WAL does with damage it finds. Compare RocksDB's WAL recovery modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RecoveryMode {
    /// Damage in the last segment is a torn tail from a crash: truncate it there (and say so
    /// in the log). Damage in any earlier segment is an error: those segments were fsynced
    /// before the next one was created, so their damage is not from a crash and nothing is
    /// repaired without an operator's say. (RocksDB: `kTolerateCorruptedTailRecords`.)
    #[default]
    TolerateTornTail,
    /// Any damage is an error, including a torn tail; nothing on disk is changed.
    /// For forensics and tests. (RocksDB: `kAbsoluteConsistency`.)
    Strict,
    /// Keep every record before the first damage anywhere; truncate the damaged segment there
    /// and rename every later segment to `<name>.corrupt` for inspection. Chosen explicitly by
    /// an operator who prefers a consistent prefix to no start. (RocksDB:
    /// `kPointInTimeRecovery`.)
    PointInTime,
}

/// Options of a WAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalOptions {
    /// When appends are acknowledged. Default [`Durability::Fsync`].
    pub durability: Durability,
    /// What recovery may repair. Default [`RecoveryMode::TolerateTornTail`].
    pub recovery: RecoveryMode,
    /// A segment is closed and a new one started once an append would grow it past this many
    /// bytes (a single larger batch still goes into one segment). Default 64 MiB.
    pub segment_size: u64,
    /// Upper bound on bytes the writer gathers into one write + fsync. Default 8 MiB.
    pub max_group_bytes: usize,
    /// Appends queued for the writer before further appenders block. Default 4096.
    pub queue_capacity: usize,
}

impl Default for WalOptions {
    fn default() -> Self {
        Self {
            durability: Durability::Fsync,
            recovery: RecoveryMode::TolerateTornTail,
            segment_size: 64 << 20,
            max_group_bytes: 8 << 20,
            queue_capacity: 4096,
        }
    }
}

impl WalOptions {
    /// Rejects options that cannot work, naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |name, reason: String| Err(Error::InvalidOption { name, reason });
        if self.segment_size < 4096 {
            return bad(
                "segment_size",
                format!("{} bytes is below the minimum of 4096", self.segment_size),
            );
        }
        if self.segment_size <= SEGMENT_HEADER_LEN as u64 {
            return bad("segment_size", "must exceed the segment header".into());
        }
        if self.max_group_bytes == 0 {
            return bad("max_group_bytes", "must be at least 1".into());
        }
        if self.queue_capacity == 0 {
            return bad("queue_capacity", "must be at least 1".into());
        }
        if let Durability::Interval(d) = self.durability
            && d.is_zero()
        {
            return bad(
                "durability",
                "Interval(0) is Fsync without group commit; use Durability::Fsync".into(),
            );
        }
        Ok(())
    }
}
