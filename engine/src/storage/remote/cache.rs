//! A query process's local cache of a bucket's data files: fetched whole on first use
//! ([`PartFile::ensure_data`]), kept under the same relative path in the data directory,
//! and evicted least recently used past `cache_bytes`. A file is never evicted while a
//! query holds its set (the engine's list holds one reference, each reader another), so
//! the cache can exceed its bound by what queries in flight read at once.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use futures::StreamExt;
use object_store::{ObjectStore, ObjectStoreExt};

use super::RemoteError;
use super::bucket::{self, store_error};
use crate::storage::partition::{Fetch, PartFile};
use crate::{Error, Result};

/// One cached data file.
struct Entry {
    size: u64,
    last_use: u64,
    part: Weak<PartFile>,
}

#[derive(Default)]
struct State {
    entries: HashMap<PathBuf, Entry>,
    /// Bytes of the cached data files.
    used: u64,
    tick: u64,
    /// One gate per file being fetched, so two queries wanting it fetch it once.
    inflight: HashMap<PathBuf, Arc<Mutex<()>>>,
}

/// Counters of the cache.
#[derive(Default)]
pub(crate) struct CacheCounters {
    pub(crate) hits: AtomicU64,
    pub(crate) misses: AtomicU64,
    pub(crate) fetched_objects: AtomicU64,
    pub(crate) fetched_bytes: AtomicU64,
    pub(crate) evicted: AtomicU64,
    /// Ranged GETs of data files not in the cache, and their bytes.
    pub(crate) ranged_gets: AtomicU64,
    pub(crate) ranged_bytes: AtomicU64,
}

/// The cache of data files below `root` (the engine's data directory).
pub(crate) struct Cache {
    root: PathBuf,
    store: Arc<dyn ObjectStore>,
    prefix: String,
    budget: u64,
    runtime: tokio::runtime::Handle,
    state: Mutex<State>,
    pub(crate) counters: CacheCounters,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cache")
            .field("root", &self.root)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl Cache {
    pub(crate) fn new(
        root: &Path,
        store: Arc<dyn ObjectStore>,
        prefix: &str,
        budget: u64,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        Self {
            root: root.to_owned(),
            store,
            prefix: prefix.to_owned(),
            budget,
            runtime,
            state: Mutex::default(),
            counters: CacheCounters::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every step leaves the maps consistent: a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bytes of data files cached now.
    pub(crate) fn used(&self) -> u64 {
        self.lock().used
    }

    /// Downloads the object `key` (relative to the prefix) to `path` (see [`download`]).
    pub(crate) fn download(&self, key: &str, path: &Path) -> Result<u64, RemoteError> {
        let (store, prefix) = (self.store.clone(), self.prefix.clone());
        let (key, path) = (key.to_owned(), path.to_owned());
        let task = self
            .runtime
            .spawn(async move { download(store.as_ref(), &prefix, &key, &path).await });
        let size = bucket::wait(task)??;
        self.counted(size);
        Ok(size)
    }

    /// Counts a download of `size` bytes.
    pub(crate) fn counted(&self, size: u64) {
        self.counters
            .fetched_objects
            .fetch_add(1, Ordering::Relaxed);
        self.counters
            .fetched_bytes
            .fetch_add(size, Ordering::Relaxed);
    }

    /// Evicts the least recently used files no query holds until the cache is within
    /// its budget; forgets files whose sets are gone (their files went with them).
    fn evict(&self, st: &mut State) {
        st.entries.retain(|_, e| e.part.strong_count() > 0);
        st.used = st.entries.values().map(|e| e.size).sum();
        while st.used > self.budget {
            // Held by the engine's list only: no query reads it.
            let victim = st
                .entries
                .iter()
                .filter(|(_, e)| e.part.strong_count() == 1)
                .min_by_key(|(_, e)| e.last_use)
                .map(|(p, _)| p.clone());
            let Some(path) = victim else { break };
            if let Some(e) = st.entries.remove(&path) {
                st.used -= e.size;
            }
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "evicting a cached file")
                }
            }
            self.counters.evicted.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes the data file of `part` as cached if an earlier run left it whole (`size`
    /// bytes: downloads are renamed into place only once complete, and a published name
    /// never changes content); whether it did.
    pub(crate) fn adopt(&self, part: &Arc<PartFile>, size: u64) -> bool {
        let path = part.samples_path();
        if std::fs::metadata(&path).map(|m| m.len()).ok() != Some(size) {
            return false;
        }
        let mut st = self.lock();
        st.tick += 1;
        let entry = Entry {
            size,
            last_use: st.tick,
            part: Arc::downgrade(part),
        };
        if st.entries.insert(path, entry).is_none() {
            st.used += size;
        }
        true
    }

    /// Evicts what the bound asks for now: files queries held past it at their fetch
    /// are evicted once let go (each refresh calls this).
    pub(crate) fn trim(&self) {
        let mut st = self.lock();
        self.evict(&mut st);
    }

    /// Marks `path` used; whether it is cached.
    fn hit(&self, path: &Path) -> bool {
        let mut st = self.lock();
        st.tick += 1;
        let tick = st.tick;
        match st.entries.get_mut(path) {
            Some(e) => {
                e.last_use = tick;
                true
            }
            None => false,
        }
    }
}

impl Cache {
    /// The key of the data file at `path`, relative to the prefix.
    fn key_of(&self, path: &Path) -> Result<String, RemoteError> {
        path.strip_prefix(&self.root)
            .ok()
            .and_then(|rel| {
                let parts: Option<Vec<&str>> =
                    rel.components().map(|c| c.as_os_str().to_str()).collect();
                parts.map(|p| p.join("/"))
            })
            .ok_or_else(|| RemoteError::Key(path.display().to_string()))
    }
}

impl Fetch for Cache {
    fn is_local(&self, part: &PartFile) -> bool {
        self.lock().entries.contains_key(&part.samples_path())
    }

    fn read_ranges(
        &self,
        part: &PartFile,
        ranges: Vec<std::ops::Range<u64>>,
    ) -> Result<Vec<bytes::Bytes>> {
        let key = self.key_of(&part.samples_path())?;
        let location = bucket::location(&self.prefix, &key)?;
        tracing::debug!(key = %key, ?ranges, "ranged GETs");
        let store = self.store.clone();
        let task = self.runtime.spawn(async move {
            let gets = ranges.into_iter().map(|range| {
                let (store, location, key) = (store.clone(), location.clone(), key.clone());
                async move {
                    store
                        .get_range(&location, range)
                        .await
                        .map_err(|e| store_error("get_range", &key, e))
                }
            });
            // In order, at most RANGED_GETS at a time.
            futures::stream::iter(gets)
                .buffered(RANGED_GETS)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect::<Result<Vec<_>, RemoteError>>()
        });
        let got = bucket::wait(task)??;
        let bytes: u64 = got.iter().map(|b| b.len() as u64).sum();
        self.counters
            .ranged_gets
            .fetch_add(got.len() as u64, Ordering::Relaxed);
        self.counters
            .ranged_bytes
            .fetch_add(bytes, Ordering::Relaxed);
        Ok(got)
    }

    fn fetch(&self, part: &Arc<PartFile>) -> Result<()> {
        let path = part.samples_path();
        if self.hit(&path) {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let gate = self
            .lock()
            .inflight
            .entry(path.clone())
            .or_default()
            .clone();
        let guard = gate.lock().unwrap_or_else(|p| p.into_inner());
        // Another query may have fetched it while this one waited at the gate.
        if self.hit(&path) {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        let key = self.key_of(&path)?;
        let downloaded = self.download(&key, &path);
        let mut st = self.lock();
        st.inflight.remove(&path);
        drop(guard);
        let size = downloaded.map_err(Error::from)?;
        st.tick += 1;
        let entry = Entry {
            size,
            last_use: st.tick,
            part: Arc::downgrade(part),
        };
        st.entries.insert(path.clone(), entry);
        st.used += size;
        self.evict(&mut st);
        Ok(())
    }
}

/// Ranged GETs of one read in flight at once.
const RANGED_GETS: usize = 16;

/// How long a download may receive nothing (its answer taking up to four times that).
const STALL: std::time::Duration = std::time::Duration::from_secs(60);

/// Downloads the object `key` (relative to `prefix`) to `path`, through a temporary file
/// renamed into place, so `path` only ever holds the whole object. Returns its size.
pub(crate) async fn download(
    store: &dyn ObjectStore,
    prefix: &str,
    key: &str,
    path: &Path,
) -> Result<u64, RemoteError> {
    let local = |source| RemoteError::Local {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(local)?;
    }
    let location = bucket::location(prefix, key)?;
    let stalled = || RemoteError::Stalled {
        key: key.to_owned(),
        secs: STALL.as_secs(),
    };
    // The store retries a failed request within its own timeouts; a request or a body
    // that goes quiet past them still ends here, as an error, instead of holding the
    // query (and the file's gate) for ever.
    let got = tokio::time::timeout(STALL * 4, store.get(&location))
        .await
        .map_err(|_| stalled())?
        .map_err(|e| store_error("get", key, e))?;
    // `<name>.<pid>.tmp`: a writer's open deletes it as any unlisted `.tmp`, a query
    // process's as any file no set names.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut file = std::fs::File::create(&tmp).map_err(local)?;
    let mut stream = got.into_stream();
    let mut size = 0u64;
    loop {
        let next = match tokio::time::timeout(STALL, stream.next()).await {
            Ok(next) => next,
            Err(_) => {
                drop(file);
                let _ = std::fs::remove_file(&tmp);
                return Err(stalled());
            }
        };
        let Some(chunk) = next else { break };
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                drop(file);
                let _ = std::fs::remove_file(&tmp);
                return Err(store_error("get", key, e));
            }
        };
        size += chunk.len() as u64;
        file.write_all(&chunk).map_err(local)?;
    }
    drop(file);
    std::fs::rename(&tmp, path).map_err(local)?;
    Ok(size)
}
