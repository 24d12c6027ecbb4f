//! The object-storage tier of a writer: every committed partition mirrored to a bucket
//! (`docs/scale-out.md`).
//!
//! Flushes, compactions and retention keep working on the local data directory, which
//! stays the writer's truth; the WAL and the head never leave it. A background thread
//! (`strata-upload`) mirrors each partition they change ([`Remote::touch`]) to the bucket
//! under `<prefix>/<path below the data directory>`, in an order that never lets a reader
//! of the bucket meet a partial object or a dangling reference:
//!
//! 1. the partition's data files and their derived files (trace-id filter, logs summary)
//!    that the bucket lacks are uploaded whole (multipart in 8 MiB parts; a failed upload
//!    is aborted, and an object only appears once complete);
//! 2. then its `manifest.json`, a copy of the local one, so it only ever lists uploaded
//!    files;
//! 3. a partition gone locally (retention) loses its manifest object first;
//! 4. objects no manifest lists any more (compaction's inputs, a dropped partition's files,
//!    uploads a crash left unlisted) are deleted once unlisted for `delete_grace`, so a
//!    reader that listed the old manifest can still finish its query.
//!
//! A pass that fails (the store unreachable) is retried with backoff (1 s doubling to 1
//! min); ingest and local flushes go on meanwhile, and [`RemoteStats`] shows the lag. At
//! open the whole bucket prefix is listed once and every local partition checked against
//! it, so whatever a crash interrupted is finished.

mod bucket;
pub(crate) mod cache;
pub(crate) mod reader;
mod sync;
#[cfg(test)]
mod tests;

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, select};
use tracing::warn;

pub(crate) use crate::config::RemoteConfig;
pub(crate) use crate::error::RemoteError;

pub(crate) use sync::Mirror;

/// Counters of the mirror (`/metrics`: `strata_remote_*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoteStats {
    /// Objects uploaded (data, derived and manifest objects).
    pub uploaded_objects: u64,
    /// Bytes uploaded.
    pub uploaded_bytes: u64,
    /// Manifest objects written.
    pub manifests_put: u64,
    /// Objects deleted (unlisted past the grace, or a dropped partition's manifest).
    pub deleted_objects: u64,
    /// Passes that failed (each retried with backoff).
    pub failed_passes: u64,
    /// Partitions changed locally and not yet mirrored.
    pub pending_partitions: u64,
    /// The last failure, if the last pass failed.
    pub last_error: Option<String>,
    /// With bounded local copies (`RemoteConfig::cache_bytes`): bytes of mirrored data
    /// files on the local disk now.
    pub cached_bytes: u64,
    /// Local copies evicted to stay within the bound.
    pub evicted: u64,
    /// Evicted data files fetched back from the bucket to be read.
    pub fetched_back: u64,
}

/// Counters of a query process's reader of a bucket (`/metrics`: `strata_reader_*`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReaderStats {
    /// Refreshes run.
    pub refreshes: u64,
    /// Refreshes that listed the whole prefix (the bucket had no catalog of the writer).
    pub listings: u64,
    /// Reads of the writer's catalog (a conditional GET; unchanged costs no body).
    pub catalog_reads: u64,
    /// Refreshes that failed (the last good view is kept and the next one retries).
    pub failed_refreshes: u64,
    /// Manifest objects read (new or changed ones only).
    pub manifests_read: u64,
    /// Partitions the bucket publishes, as of the last refresh.
    pub partitions: u64,
    /// Objects downloaded (data files on first use; small files during refreshes).
    pub fetched_objects: u64,
    /// Bytes downloaded.
    pub fetched_bytes: u64,
    /// Data files a query found in the cache.
    pub cache_hits: u64,
    /// Data files a query had to download.
    pub cache_misses: u64,
    /// Data files evicted to stay within `cache_bytes`.
    pub evicted: u64,
    /// Ranged GETs of data files not in the cache (a trace lookup reads the footer and
    /// pages it needs).
    pub ranged_gets: u64,
    /// Bytes those ranged GETs read.
    pub ranged_bytes: u64,
    /// Bytes of data files in the cache now.
    pub cached_bytes: u64,
    /// Time since the last refresh that succeeded (`None` before the first).
    pub since_refresh: Option<Duration>,
    /// The last failure, if the last refresh failed.
    pub last_error: Option<String>,
}

/// The writer's mirror: the partitions to mirror, its counters and its thread.
pub(crate) struct Remote {
    mirror: Arc<Mirror>,
    /// The cache the local copies of mirrored data files become, when bounded
    /// (`RemoteConfig::cache_bytes`).
    pub(crate) cache: Option<Arc<cache::Cache>>,
    thread: Mutex<Option<(Sender<()>, JoinHandle<()>)>>,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote").finish_non_exhaustive()
    }
}

/// Counters shared by passes.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) uploaded_objects: AtomicU64,
    pub(crate) uploaded_bytes: AtomicU64,
    pub(crate) manifests_put: AtomicU64,
    pub(crate) deleted_objects: AtomicU64,
    pub(crate) failed_passes: AtomicU64,
}

impl Remote {
    /// A mirror of the data directory `root` to `config`'s bucket; nothing runs until
    /// [`Remote::start`].
    pub(crate) fn new(root: &Path, config: RemoteConfig) -> Result<Self, RemoteError> {
        let mirror = Arc::new(Mirror::new(root, config.clone())?);
        let cache = match (config.cache_bytes, mirror.handle()) {
            (Some(budget), Some(handle)) => Some(Arc::new(cache::Cache::new(
                root,
                config.store.clone(),
                &config.prefix,
                budget,
                handle,
            ))),
            _ => None,
        };
        Ok(Self {
            mirror,
            cache,
            thread: Mutex::new(None),
        })
    }

    /// The data files (relative key, size) found in the bucket since the last call.
    pub(crate) fn take_mirrored(&self) -> Vec<(String, u64)> {
        self.mirror.take_mirrored()
    }

    /// Marks the partition in `dir` as changed (a commit, a compaction, a drop) and wakes
    /// the mirror.
    pub(crate) fn touch(&self, dir: &Path) {
        self.mirror.touch(dir);
        if let Some((kick, _)) = self
            .thread
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            let _ = kick.try_send(());
        }
    }

    /// Claims the bucket prefix for this data directory (its `_writer` object): fails if
    /// another writer holds it.
    pub(crate) fn claim(&self) -> Result<(), RemoteError> {
        self.mirror.claim()
    }

    /// Starts the background thread; its first pass lists the bucket and checks every
    /// local partition against it.
    pub(crate) fn start(&self) -> Result<(), RemoteError> {
        let (kick, woken) = crossbeam_channel::bounded::<()>(1);
        let mirror = self.mirror.clone();
        let handle = std::thread::Builder::new()
            .name("strata-upload".into())
            .spawn(move || run(&mirror, &woken))
            .map_err(|e| RemoteError::Runtime(e.to_string()))?;
        *self.thread.lock().unwrap_or_else(|p| p.into_inner()) = Some((kick, handle));
        Ok(())
    }

    /// Runs a pass now, on the calling thread (after the background thread's current one):
    /// every touched partition mirrored, expired objects deleted.
    pub(crate) fn sync_now(&self) -> Result<RemoteStats, RemoteError> {
        self.mirror.pass()?;
        Ok(self.stats())
    }

    /// The counters.
    pub(crate) fn stats(&self) -> RemoteStats {
        let mut stats = self.mirror.stats();
        if let Some(c) = &self.cache {
            stats.cached_bytes = c.used();
            stats.evicted = c.counters.evicted.load(Ordering::Relaxed);
            stats.fetched_back = c.counters.misses.load(Ordering::Relaxed);
        }
        stats
    }

    /// Stops the background thread after its current pass.
    pub(crate) fn stop(&self) {
        let taken = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some((kick, handle)) = taken {
            drop(kick);
            let _ = handle.join();
        }
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The background loop: a pass when woken or every `interval`; after a failure, the next
/// one after a backoff from 1 s doubling to 1 min. Returns when the kick sender is gone.
fn run(mirror: &Arc<Mirror>, woken: &Receiver<()>) {
    let mut backoff = Duration::ZERO;
    loop {
        let wait = if backoff.is_zero() {
            mirror.interval()
        } else {
            backoff
        };
        select! {
            recv(woken) -> r => if r.is_err() { return },
            default(wait) => {}
        }
        match mirror.pass() {
            Ok(()) => backoff = Duration::ZERO,
            Err(e) => {
                warn!(error = %e, "mirroring to the object store failed; retrying");
                backoff = (backoff * 2).clamp(Duration::from_secs(1), Duration::from_secs(60));
            }
        }
    }
}

pub(crate) fn bump(counter: &AtomicU64, by: u64) {
    counter.fetch_add(by, Ordering::Relaxed);
}
