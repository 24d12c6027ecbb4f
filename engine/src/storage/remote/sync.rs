//! A pass of the mirror (see the module above): touched partitions uploaded in order,
//! then unlisted objects past their grace deleted.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use object_store::path::Path as Key;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart};

use super::bucket::{self, CATALOG_KEY, CATALOG_VERSION, Catalog, is_data, store_error};
use super::{Counters, RemoteConfig, RemoteError, RemoteStats, bump};
use crate::signal_kind::Signal;
use crate::storage::partition::{self, Flushed, MARKER, Manifest};
use crate::storage::tier_paths as tiers;

/// Files up to this size are uploaded in one request; larger ones in parts of this size.
const PART: usize = 8 << 20;

/// The object that names the one writer mirroring to a prefix.
const WRITER_KEY: &str = "_writer";

/// The local file holding this data directory's writer id.
const WRITER_ID_FILE: &str = "remote-writer-id";

/// What the mirror knows of the bucket, held through a pass.
#[derive(Default)]
struct State {
    /// Whether the prefix has been listed (the first pass does).
    listed: bool,
    /// The objects below the prefix, by key relative to it, with their sizes.
    objects: BTreeMap<String, u64>,
    /// Per partition (its directory relative to the data directory): the bytes of the
    /// manifest object written, and the keys of the files it lists.
    published: HashMap<String, (Vec<u8>, BTreeSet<String>)>,
    /// Objects no manifest lists, since when.
    unlisted: HashMap<String, Instant>,
    /// Whether a manifest object changed since the catalog was last written (set by the
    /// first pass).
    catalog_stale: bool,
}

/// The mirror of one data directory to one bucket prefix.
pub(crate) struct Mirror {
    root: PathBuf,
    config: RemoteConfig,
    runtime: Option<tokio::runtime::Runtime>,
    state: tokio::sync::Mutex<State>,
    /// Partitions changed and not yet mirrored, each with the generation of its last
    /// change: a pass drops one only if it did not change again meanwhile.
    touched: Mutex<BTreeMap<String, u64>>,
    generation: std::sync::atomic::AtomicU64,
    /// Whether this writer holds the prefix's `_writer` object.
    claimed: std::sync::atomic::AtomicBool,
    counters: Counters,
    last_error: Mutex<Option<String>>,
    /// Files found in the bucket at their local size (or evicted locally and there) since
    /// the engine last took them: a writer whose local copies are a cache may then evict
    /// them (`lifecycle/copies.rs`).
    mirrored: Mutex<Vec<(String, u64)>>,
}

impl Mirror {
    pub(crate) fn new(root: &Path, config: RemoteConfig) -> Result<Self, RemoteError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("strata-object-store")
            .enable_all()
            .build()
            .map_err(|e| RemoteError::Runtime(e.to_string()))?;
        Ok(Self {
            root: root.to_owned(),
            config,
            runtime: Some(runtime),
            state: Default::default(),
            touched: Mutex::default(),
            generation: Default::default(),
            claimed: Default::default(),
            counters: Counters::default(),
            last_error: Mutex::default(),
            mirrored: Mutex::default(),
        })
    }

    /// The files mirrored since the last call (relative key, size).
    pub(crate) fn take_mirrored(&self) -> Vec<(String, u64)> {
        std::mem::take(&mut *self.mirrored.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// The runtime the mirror's requests run on, for the cache of a writer's local copies.
    pub(crate) fn handle(&self) -> Option<tokio::runtime::Handle> {
        self.runtime.as_ref().map(|r| r.handle().clone())
    }

    pub(crate) fn interval(&self) -> Duration {
        self.config.interval
    }

    /// Marks a partition directory as changed.
    pub(crate) fn touch(&self, dir: &Path) {
        if let Some(rel) = self.relative(dir) {
            self.touch_rel(rel);
        }
    }

    fn touch_rel(&self, rel: String) {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        self.touched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(rel, generation);
    }

    pub(crate) fn stats(&self) -> RemoteStats {
        let c = &self.counters;
        RemoteStats {
            uploaded_objects: c.uploaded_objects.load(Ordering::Relaxed),
            uploaded_bytes: c.uploaded_bytes.load(Ordering::Relaxed),
            manifests_put: c.manifests_put.load(Ordering::Relaxed),
            deleted_objects: c.deleted_objects.load(Ordering::Relaxed),
            failed_passes: c.failed_passes.load(Ordering::Relaxed),
            pending_partitions: self.touched.lock().unwrap_or_else(|p| p.into_inner()).len() as u64,
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
            ..RemoteStats::default()
        }
    }

    /// Runs `f` on the mirror's runtime from any thread (also one inside another runtime).
    fn block_on<T: Send + 'static>(
        &self,
        f: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, RemoteError> {
        bucket::block_on(self.runtime.as_ref(), f)
    }

    /// Claims the prefix for this data directory's writer: the `_writer` object is created
    /// with this directory's id if absent (a conditional put), and must hold it otherwise.
    pub(crate) fn claim(self: &std::sync::Arc<Self>) -> Result<(), RemoteError> {
        let me = self.clone();
        self.block_on(async move { me.claim_async().await })?
    }

    async fn claim_async(&self) -> Result<(), RemoteError> {
        if self.claimed.load(Ordering::Acquire) {
            return Ok(());
        }
        let id = writer_id(&self.root)?;
        let key = self.location(WRITER_KEY)?;
        let store = &self.config.store;
        let opts = PutOptions::from(PutMode::Create);
        let payload = PutPayload::from(id.clone().into_bytes());
        match store.put_opts(&key, payload, opts).await {
            Ok(_) => {
                self.claimed.store(true, Ordering::Release);
                return Ok(());
            }
            Err(object_store::Error::AlreadyExists { .. }) => {}
            Err(source) => return Err(store_error("put", WRITER_KEY, source)),
        }
        let held = store
            .get(&key)
            .await
            .map_err(|e| store_error("get", WRITER_KEY, e))?
            .bytes()
            .await
            .map_err(|e| store_error("get", WRITER_KEY, e))?;
        if held.as_ref() != id.as_bytes() {
            return Err(RemoteError::Locked {
                holder: String::from_utf8_lossy(&held).into_owned(),
            });
        }
        self.claimed.store(true, Ordering::Release);
        Ok(())
    }

    /// One pass: the prefix listed if not yet (then every partition checked), touched
    /// partitions mirrored, unlisted objects past their grace deleted.
    pub(crate) fn pass(self: &std::sync::Arc<Self>) -> Result<(), RemoteError> {
        let me = self.clone();
        let result = self.block_on(async move { me.pass_async().await })?;
        let mut last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        match &result {
            Ok(()) => *last = None,
            Err(e) => {
                bump(&self.counters.failed_passes, 1);
                *last = Some(e.to_string());
            }
        }
        result
    }

    async fn pass_async(&self) -> Result<(), RemoteError> {
        // Nothing is written to a prefix this writer has not claimed.
        self.claim_async().await?;
        let mut state = self.state.lock().await;
        if !state.listed {
            state.objects = self.list().await?;
            state.listed = true;
            // A crash may have left the catalog behind the manifests: written again once
            // this pass has checked them all.
            state.catalog_stale = true;
            let mut every: BTreeSet<String> = self.local_partitions()?;
            every.extend(
                state
                    .objects
                    .keys()
                    .filter_map(|k| k.strip_suffix("/manifest.json"))
                    .map(str::to_owned),
            );
            for dir in every {
                self.touch_rel(dir);
            }
        }
        // A snapshot: a partition leaves the set once mirrored, unless it changed again
        // meanwhile (then the next pass takes it); on a failure the rest stays.
        let dirs = self
            .touched
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        for (dir, generation) in dirs {
            self.sync_partition(&mut state, &dir).await?;
            let mut touched = self.touched.lock().unwrap_or_else(|p| p.into_inner());
            if touched.get(&dir) == Some(&generation) {
                touched.remove(&dir);
            }
        }
        self.collect(&mut state).await?;
        if state.catalog_stale {
            self.write_catalog(&mut state).await?;
        }
        Ok(())
    }

    /// Writes the catalog of what the bucket publishes now (`bucket::Catalog`).
    async fn write_catalog(&self, state: &mut State) -> Result<(), RemoteError> {
        let mut catalog = Catalog {
            version: CATALOG_VERSION,
            ..Catalog::default()
        };
        for (dir, (bytes, keys)) in &state.published {
            catalog.manifests.insert(dir.clone(), crc32c::crc32c(bytes));
            for key in keys {
                if let Some(&size) = state.objects.get(key) {
                    catalog.sizes.insert(key.clone(), size);
                }
            }
        }
        let bytes = serde_json::to_vec(&catalog).map_err(|e| RemoteError::Object {
            key: CATALOG_KEY.into(),
            reason: e.to_string(),
        })?;
        let len = bytes.len() as u64;
        self.put(CATALOG_KEY, bytes).await?;
        state.objects.insert(CATALOG_KEY.into(), len);
        state.catalog_stale = false;
        Ok(())
    }

    /// Mirrors one partition: its files the bucket lacks, then its manifest; or, gone
    /// locally, deletes its manifest object.
    async fn sync_partition(&self, state: &mut State, dir: &str) -> Result<(), RemoteError> {
        let manifest_key = format!("{dir}/manifest.json");
        let local = self.root.join(dir);
        let bytes = match std::fs::read(local.join("manifest.json")) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if state.objects.contains_key(&manifest_key) {
                    self.delete(&manifest_key).await?;
                    state.catalog_stale = true;
                    state.objects.remove(&manifest_key);
                }
                state.published.remove(dir);
                return Ok(());
            }
            Err(source) => {
                return Err(RemoteError::Local {
                    path: local.join("manifest.json"),
                    source,
                });
            }
        };
        let mut manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| RemoteError::Local {
                path: local.join("manifest.json"),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            })?;
        // Only committed sets are published: a flush lists its sets before its commit
        // marker, and a crash in between drops them at the next open (`metrics/flush.rs`).
        // The commit touches the partition again, so they follow in the next pass.
        let committed = self.committed_below()?;
        let before = manifest.files.len();
        manifest.files.retain(|f| f.flush <= committed);
        let bytes = if manifest.files.len() == before {
            bytes
        } else if manifest.files.is_empty() && !state.published.contains_key(dir) {
            return Ok(());
        } else {
            serde_json::to_vec_pretty(&manifest).map_err(|e| RemoteError::Local {
                path: local.join("manifest.json"),
                source: std::io::Error::other(e),
            })?
        };
        let mut keys = BTreeSet::new();
        for entry in &manifest.files {
            for name in entry.names() {
                keys.insert(format!("{dir}/{name}"));
                for derived in partition::derived_paths(name) {
                    if local.join(&derived).exists() {
                        keys.insert(format!("{dir}/{}", derived.display()));
                    }
                }
            }
        }
        let mut mirrored = Vec::with_capacity(keys.len());
        for key in &keys {
            let path = self.root.join(key);
            let size = match std::fs::metadata(&path) {
                Ok(m) => m.len(),
                // Evicted from a writer's bounded local copies: in the bucket already.
                Err(e)
                    if e.kind() == std::io::ErrorKind::NotFound
                        && let Some(&size) = state.objects.get(key) =>
                {
                    mirrored.push((key.clone(), size));
                    continue;
                }
                // Retired since the manifest was read: a newer manifest will come.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    self.touch(&local);
                    return Ok(());
                }
                Err(source) => return Err(RemoteError::Local { path, source }),
            };
            mirrored.push((key.clone(), size));
            if state.objects.get(key) == Some(&size) {
                continue;
            }
            match self.upload(&path, key, size).await {
                Ok(()) => {
                    state.objects.insert(key.clone(), size);
                }
                Err(RemoteError::Local { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound =>
                {
                    self.touch(&local);
                    return Ok(());
                }
                Err(e) => return Err(e),
            }
        }
        let len = bytes.len() as u64;
        let known = match state.published.get(dir) {
            Some((b, _)) => *b == bytes,
            // Not written by this process yet (the first pass after an open): an object
            // of the same size is read back and kept if equal, which a GET costs less
            // than a PUT.
            None => {
                state.objects.get(&manifest_key) == Some(&len)
                    && self.get(&manifest_key).await?.as_deref() == Some(&bytes[..])
            }
        };
        if !known {
            self.put(&manifest_key, bytes.clone()).await?;
            bump(&self.counters.manifests_put, 1);
            state.catalog_stale = true;
            state.objects.insert(manifest_key, len);
        }
        state.published.insert(dir.to_owned(), (bytes, keys));
        // Only now: a file is safe to evict locally once a manifest in the bucket names it.
        self.mirrored
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend(mirrored);
        Ok(())
    }

    /// Deletes the objects no manifest lists once unlisted for the grace.
    async fn collect(&self, state: &mut State) -> Result<(), RemoteError> {
        let listed: HashSet<&String> = state.published.values().flat_map(|(_, k)| k).collect();
        let now = Instant::now();
        let unlisted: Vec<String> = state
            .objects
            .keys()
            .filter(|k| is_data(k) && !k.ends_with("/manifest.json") && !listed.contains(k))
            .cloned()
            .collect();
        let keep: HashSet<&String> = unlisted.iter().collect();
        state.unlisted.retain(|k, _| keep.contains(k));
        for key in unlisted {
            let since = *state.unlisted.entry(key.clone()).or_insert(now);
            if now.duration_since(since) >= self.config.delete_grace {
                self.delete(&key).await?;
                state.objects.remove(&key);
                state.unlisted.remove(&key);
            }
        }
        Ok(())
    }

    /// Uploads the file at `path` as `key`: one request, or parts of [`PART`] bytes
    /// (aborted on failure, so no partial object appears).
    async fn upload(&self, path: &Path, key: &str, size: u64) -> Result<(), RemoteError> {
        let local = |source| RemoteError::Local {
            path: path.to_owned(),
            source,
        };
        let location = self.location(key)?;
        let store = &self.config.store;
        if size <= PART as u64 {
            let bytes = std::fs::read(path).map_err(local)?;
            store
                .put(&location, PutPayload::from(bytes))
                .await
                .map_err(|e| store_error("put", key, e))?;
        } else {
            let mut file = std::fs::File::open(path).map_err(local)?;
            let upload = store
                .put_multipart(&location)
                .await
                .map_err(|e| store_error("put", key, e))?;
            let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
            let mut buf = vec![0u8; PART];
            let written: Result<(), RemoteError> = async {
                loop {
                    let n = read_full(&mut file, &mut buf).map_err(local)?;
                    if n == 0 {
                        return Ok(());
                    }
                    writer
                        .wait_for_capacity(2)
                        .await
                        .map_err(|e| store_error("put", key, e))?;
                    writer.write(&buf[..n]);
                }
            }
            .await;
            match written {
                Ok(()) => {
                    writer
                        .finish()
                        .await
                        .map_err(|e| store_error("put", key, e))?;
                }
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(e);
                }
            }
        }
        bump(&self.counters.uploaded_objects, 1);
        bump(&self.counters.uploaded_bytes, size);
        Ok(())
    }

    /// The object at `key`, or `None` if there is none.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, RemoteError> {
        match self.config.store.get(&self.location(key)?).await {
            Ok(r) => Ok(Some(
                r.bytes()
                    .await
                    .map_err(|e| store_error("get", key, e))?
                    .to_vec(),
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_error("get", key, e)),
        }
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), RemoteError> {
        let len = bytes.len() as u64;
        self.config
            .store
            .put(&self.location(key)?, PutPayload::from(bytes))
            .await
            .map_err(|e| store_error("put", key, e))?;
        bump(&self.counters.uploaded_objects, 1);
        bump(&self.counters.uploaded_bytes, len);
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), RemoteError> {
        match self.config.store.delete(&self.location(key)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => {
                bump(&self.counters.deleted_objects, 1);
                Ok(())
            }
            Err(e) => Err(store_error("delete", key, e)),
        }
    }

    /// The flush commit marker's LSN: sets of flushes above it are not committed yet.
    fn committed_below(&self) -> Result<u64, RemoteError> {
        let path = partition::metrics_dir(&self.root).join(MARKER);
        let marker: Flushed = partition::read_json(&path).map_err(|e| RemoteError::Local {
            path,
            source: std::io::Error::other(e.to_string()),
        })?;
        Ok(marker.flushed_below_lsn)
    }

    /// Every object below the prefix, by relative key, with its size.
    async fn list(&self) -> Result<BTreeMap<String, u64>, RemoteError> {
        let listed = bucket::list(self.config.store.as_ref(), &self.config.prefix).await?;
        Ok(listed.into_iter().map(|(k, l)| (k, l.size)).collect())
    }

    /// The bucket key of `key` (relative to the prefix).
    fn location(&self, key: &str) -> Result<Key, RemoteError> {
        bucket::location(&self.config.prefix, key)
    }

    /// `dir` relative to the data directory, with `/` separators.
    fn relative(&self, dir: &Path) -> Option<String> {
        let rel = dir.strip_prefix(&self.root).ok()?;
        let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
        Some(parts?.join("/"))
    }

    /// Every local partition directory, the downsampled tiers' too, relative.
    fn local_partitions(&self) -> Result<BTreeSet<String>, RemoteError> {
        let local = |e: crate::Error| RemoteError::Runtime(e.to_string());
        let mut out = BTreeSet::new();
        for signal in [Signal::Metrics, Signal::Traces, Signal::Logs] {
            let dirs = partition::list_signal_partitions(&self.root, signal).map_err(local)?;
            out.extend(dirs.iter().filter_map(|(_, d)| self.relative(d)));
        }
        for res in tiers::tiers_on_disk(&self.root).map_err(local)? {
            let base = self.root.join(tiers::tier_root(res));
            let dirs = partition::list_partitions(&base, false).map_err(local)?;
            out.extend(dirs.iter().filter_map(|(_, d)| self.relative(d)));
        }
        Ok(out)
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        // Not a blocking shutdown: the engine may be dropped inside an async context.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// Reads until `buf` is full or the file ends; the bytes read.
fn read_full(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// This data directory's writer id: made once (random, with the host name and the
/// directory) and kept in the directory.
fn writer_id(root: &Path) -> Result<String, RemoteError> {
    let path = root.join(WRITER_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(id) if !id.trim().is_empty() => return Ok(id.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(RemoteError::Local { path, source }),
    }
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let id = format!(
        "{}:{}:{:x}{:x}",
        host.trim(),
        root.display(),
        nanos,
        std::process::id()
    );
    crate::storage::fs::write_atomic(&path, id.as_bytes()).map_err(|e| RemoteError::Local {
        path: path.clone(),
        source: std::io::Error::other(e.to_string()),
    })?;
    Ok(id)
}
