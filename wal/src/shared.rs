//! The state the [`crate::Wal`] handle, the writer thread and readers share: [`Shared`],
//! with its [`Counters`].

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use tracing::error;

use crate::latency::LatencyHistogram;
use crate::options::WalOptions;
use crate::record::Lsn;
use crate::recovery::SegmentMeta;
use crate::storage::Storage;

/// What the WAL has done since open, counted by the writer; [`crate::Wal::stats`] reads it.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) appends: AtomicU64,
    pub(crate) records: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) syncs: AtomicU64,
    /// How long each fsync of segment data took.
    pub(crate) sync_latency: LatencyHistogram,
}

impl Counters {
    pub(crate) fn record_append(&self, records: usize, bytes: u64) {
        self.appends.fetch_add(1, Ordering::Relaxed);
        self.records.fetch_add(records as u64, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// State shared by the handle, the writer thread and readers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) storage: Arc<dyn Storage>,
    pub(crate) dir: PathBuf,
    pub(crate) options: WalOptions,
    /// Live segments, oldest first; the last is the one being appended to. Lengths cover
    /// complete, written batches only.
    segments: Mutex<Vec<SegmentMeta>>,
    /// The first write/fsync failure; set once, never cleared.
    pub(crate) poisoned: OnceLock<Arc<std::io::Error>>,
    pub(crate) durable_lsn: AtomicU64,
    pub(crate) stats: Counters,
}

impl Shared {
    /// The state of a WAL just recovered: `segments` oldest first, the last one active,
    /// everything before `durable_lsn` on disk.
    pub(crate) fn new(
        storage: Arc<dyn Storage>,
        dir: PathBuf,
        options: WalOptions,
        segments: Vec<SegmentMeta>,
        durable_lsn: Lsn,
    ) -> Self {
        Self {
            storage,
            dir,
            options,
            segments: Mutex::new(segments),
            poisoned: OnceLock::new(),
            durable_lsn: AtomicU64::new(durable_lsn),
            stats: Counters::default(),
        }
    }

    pub(crate) fn segments(&self) -> MutexGuard<'_, Vec<SegmentMeta>> {
        // Only whole-value updates happen under this lock; a panic cannot tear it.
        self.segments.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The writer wrote complete batches up to `len` bytes / `next_lsn` in segment `first`.
    pub(crate) fn published(&self, first: Lsn, len: u64, next_lsn: Lsn) {
        let mut segs = self.segments();
        if let Some(last) = segs.last_mut()
            && last.first_lsn == first
        {
            last.len = len;
            last.next_lsn = next_lsn;
        }
    }

    pub(crate) fn add_segment(&self, meta: SegmentMeta) {
        self.segments().push(meta);
    }

    /// Records the first write/fsync failure and returns it (or the earlier one). Never
    /// retried: after a failed fsync the kernel may have dropped the dirty pages, and a second
    /// fsync can report success for data that is gone.
    pub(crate) fn poison(&self, e: std::io::Error) -> Arc<std::io::Error> {
        let cause = Arc::new(e);
        if self.poisoned.set(cause.clone()).is_ok() {
            error!(error = %cause, dir = %self.dir.display(),
                   "WAL write failed; poisoned, no further appends will be acknowledged");
        }
        self.poisoned.get().cloned().unwrap_or(cause)
    }
}
