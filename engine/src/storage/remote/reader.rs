//! A query process's view of a bucket a writer mirrors to (`docs/scale-out.md`).
//!
//! A refresh lists the prefix and reads the manifests that are new or changed since the
//! last one (by size and version tag); if any is, it answers every partition the bucket
//! publishes, for the engine to swap in (`lifecycle/reader.rs`). A manifest only names
//! objects the writer uploaded before it, and an object leaves the bucket only once no
//! manifest names it for the writer's grace, so every set a refresh answers is whole.
//! The small files a query consults before it decides to read a set (the metrics
//! series and index files, trace-id filters and logs summaries) are fetched during the
//! refresh and kept; the data files are fetched by the [`Cache`] on first use.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::StreamExt;
use object_store::ObjectStoreExt;

use super::RemoteError;
use super::bucket::{self, CATALOG_KEY, CATALOG_VERSION, Catalog, Listed, signal_of, store_error};
use super::cache::{self, Cache};
use crate::config::ReaderConfig;
use crate::signal_kind::Signal;
use crate::storage::partition::{self, FileEntry, Manifest};
use crate::{ReaderStats, TenantId};

/// The file marking a data directory as a query process's cache, which it may empty.
const CACHE_MARK: &str = "READER_CACHE";

/// Requests a refresh keeps in flight at once.
const CONCURRENCY: usize = 16;

/// One partition the bucket publishes.
#[derive(Debug, Clone)]
pub(crate) struct Published {
    pub(crate) signal: Signal,
    /// The resolution (ms) of the downsampled tier it belongs to (its signal is then
    /// metrics), or `None` for raw data.
    pub(crate) tier: Option<i64>,
    pub(crate) tenant: TenantId,
    /// Its directory in the cache (the same path below the data directory as the
    /// writer's).
    pub(crate) dir: PathBuf,
    pub(crate) version: u32,
    /// Its sets, each with its data file's length.
    pub(crate) files: Vec<(FileEntry, u64)>,
}

/// What a refresh read of the writer's catalog.
enum CatalogRead {
    /// Unchanged since the last refresh (a conditional GET answered "not modified").
    Unchanged,
    /// Read: the objects a listing would show, and the catalog's version tag.
    Read {
        objects: BTreeMap<String, Listed>,
        etag: Option<String>,
    },
    /// The bucket has none (a writer of an older build): the prefix is listed instead.
    Absent,
}

/// What the last refresh saw of a manifest.
struct Known {
    listed: Listed,
    manifest: Manifest,
}

/// A query process's reader of one bucket prefix.
pub(crate) struct Reader {
    root: PathBuf,
    config: ReaderConfig,
    runtime: Option<tokio::runtime::Runtime>,
    pub(crate) cache: Arc<Cache>,
    /// Manifests by key relative to the prefix.
    known: Mutex<BTreeMap<String, Known>>,
    refreshes: AtomicU64,
    failed: AtomicU64,
    /// Refreshes that listed the prefix (no catalog), and catalog reads.
    listings: AtomicU64,
    catalog_reads: AtomicU64,
    /// The version tag of the catalog the last refresh read whole.
    catalog_etag: Mutex<Option<String>>,
    manifests_read: AtomicU64,
    last_error: Mutex<Option<String>>,
    last_success: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Reader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("root", &self.root)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Reader {
    /// A reader of `config`'s bucket caching in `root` (the engine's data directory). What
    /// an earlier run cached there is kept where the bucket still publishes it (see
    /// `lifecycle/reader.rs`); a directory holding a writer's data is refused.
    pub(crate) fn new(root: &Path, config: ReaderConfig) -> Result<Self, RemoteError> {
        // Emptying a writer's data directory would lose its data: a reader only ever
        // empties a directory it marked as its cache.
        let mark = root.join(CACHE_MARK);
        let used = [Signal::Metrics, Signal::Traces, Signal::Logs]
            .iter()
            .any(|s| root.join(s.dir()).exists());
        if used && !mark.exists() {
            return Err(RemoteError::Local {
                path: root.to_owned(),
                source: std::io::Error::other(
                    "this data directory holds a writer's data; a query process needs a directory of its own",
                ),
            });
        }
        crate::storage::fs::write_atomic(&mark, b"a query process's cache of a bucket\n").map_err(
            |e| RemoteError::Local {
                path: mark.clone(),
                source: std::io::Error::other(e.to_string()),
            },
        )?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("strata-object-store")
            .enable_all()
            .build()
            .map_err(|e| RemoteError::Runtime(e.to_string()))?;
        let cache = Arc::new(Cache::new(
            root,
            config.store.clone(),
            &config.prefix,
            config.cache_bytes,
            runtime.handle().clone(),
        ));
        Ok(Self {
            root: root.to_owned(),
            config,
            runtime: Some(runtime),
            cache,
            known: Mutex::default(),
            refreshes: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            listings: AtomicU64::new(0),
            catalog_reads: AtomicU64::new(0),
            catalog_etag: Mutex::default(),
            manifests_read: AtomicU64::new(0),
            last_error: Mutex::default(),
            last_success: Mutex::default(),
        })
    }

    pub(crate) fn interval(&self) -> std::time::Duration {
        self.config.refresh
    }

    /// Lists the bucket; when a manifest appeared, changed or went, every partition it
    /// publishes now (their small files fetched); `None` when nothing changed.
    pub(crate) fn refresh(&self) -> Result<Option<Vec<Published>>, RemoteError> {
        let result = self.refresh_inner();
        self.cache.trim();
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        let mut last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        match &result {
            Ok(_) => {
                *last = None;
                *self.last_success.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
            }
            Err(e) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                *last = Some(e.to_string());
            }
        }
        result
    }

    fn refresh_inner(&self) -> Result<Option<Vec<Published>>, RemoteError> {
        let (objects, etag) = match self.catalog()? {
            CatalogRead::Unchanged => return Ok(None),
            CatalogRead::Read { objects, etag } => (objects, etag),
            CatalogRead::Absent => {
                let (store, prefix) = (self.config.store.clone(), self.config.prefix.clone());
                let listed =
                    self.block_on(async move { bucket::list(store.as_ref(), &prefix).await })??;
                self.listings.fetch_add(1, Ordering::Relaxed);
                (listed, None)
            }
        };
        let published = self.publish(&objects)?;
        // Only once everything it names was read: an unchanged catalog is skipped.
        *self.catalog_etag.lock().unwrap_or_else(|p| p.into_inner()) = etag;
        Ok(published)
    }

    /// The writer's catalog (`bucket::Catalog`), read if it changed since the last refresh,
    /// as the objects a listing would show: each manifest tagged by its CRC, the objects
    /// with their sizes.
    fn catalog(&self) -> Result<CatalogRead, RemoteError> {
        let (store, prefix) = (self.config.store.clone(), self.config.prefix.clone());
        let etag = self
            .catalog_etag
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        let got = self.block_on(async move {
            let location = bucket::location(&prefix, CATALOG_KEY)?;
            let options = object_store::GetOptions {
                if_none_match: etag,
                ..Default::default()
            };
            match store.get_opts(&location, options).await {
                Ok(r) => {
                    let etag = r.meta.e_tag.clone();
                    let bytes = r
                        .bytes()
                        .await
                        .map_err(|e| store_error("get", CATALOG_KEY, e))?;
                    Ok(Some((bytes, etag)))
                }
                Err(object_store::Error::NotModified { .. }) => Ok(None),
                Err(object_store::Error::NotFound { .. }) => Ok(Some((Default::default(), None))),
                Err(e) => Err(store_error("get", CATALOG_KEY, e)),
            }
        })??;
        self.catalog_reads.fetch_add(1, Ordering::Relaxed);
        let Some((bytes, etag)) = got else {
            return Ok(CatalogRead::Unchanged);
        };
        if bytes.is_empty() {
            return Ok(CatalogRead::Absent);
        }
        let bad = |reason: String| RemoteError::Object {
            key: CATALOG_KEY.into(),
            reason,
        };
        let catalog: Catalog = serde_json::from_slice(&bytes).map_err(|e| bad(e.to_string()))?;
        if catalog.version != CATALOG_VERSION {
            return Err(bad(format!(
                "version {}, this build reads {CATALOG_VERSION}",
                catalog.version
            )));
        }
        let mut objects: BTreeMap<String, Listed> = catalog
            .sizes
            .into_iter()
            .map(|(k, size)| (k, Listed { size, e_tag: None }))
            .collect();
        for (dir, crc) in catalog.manifests {
            let listed = Listed {
                size: 0,
                e_tag: Some(format!("crc32c:{crc:08x}")),
            };
            objects.insert(format!("{dir}/manifest.json"), listed);
        }
        Ok(CatalogRead::Read { objects, etag })
    }

    /// Reads the manifests of `objects` that changed since the last refresh; every
    /// partition published now, or `None` when no manifest changed.
    fn publish(
        &self,
        objects: &BTreeMap<String, Listed>,
    ) -> Result<Option<Vec<Published>>, RemoteError> {
        let manifests: BTreeMap<&String, &Listed> = objects
            .iter()
            .filter(|(k, _)| k.ends_with("/manifest.json") && bucket::is_data(k))
            .collect();
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        let changed: Vec<String> = manifests
            .iter()
            .filter(|(k, l)| known.get(**k).is_none_or(|n| n.listed != ***l))
            .map(|(k, _)| (*k).clone())
            .collect();
        let gone = known.keys().any(|k| !manifests.contains_key(k));
        if changed.is_empty() && !gone {
            return Ok(None);
        }
        for (key, manifest) in self.read_manifests(changed)? {
            let listed = manifests[&key].clone();
            known.insert(key, Known { listed, manifest });
        }
        known.retain(|k, _| manifests.contains_key(k));
        let mut out = Vec::with_capacity(known.len());
        let mut small = Vec::new();
        let mut unsized_data = Vec::new();
        for (key, k) in known.iter() {
            let rel = key.trim_end_matches("/manifest.json");
            let (signal, tier, tenant) = parse_dir(rel)?;
            let listed = |name: &str| objects.get(&format!("{rel}/{name}")).map(|l| l.size);
            let mut files = Vec::with_capacity(k.manifest.files.len());
            for entry in &k.manifest.files {
                // The series and index files; a derived file only if the writer made one.
                for name in entry.names().skip(1) {
                    small.push((format!("{rel}/{name}"), listed(name)));
                }
                for derived in partition::derived_paths(&entry.samples) {
                    if let Some(size) = listed(&derived.display().to_string()) {
                        small.push((format!("{rel}/{}", derived.display()), Some(size)));
                    }
                }
                // A set published after the listing was taken: its size from a HEAD.
                let len = listed(&entry.samples).unwrap_or_else(|| {
                    unsized_data.push(format!("{rel}/{}", entry.samples));
                    0
                });
                files.push((entry.clone(), len));
            }
            out.push(Published {
                signal,
                tier,
                tenant,
                dir: self.root.join(rel),
                version: k.manifest.version,
                files,
            });
        }
        drop(known);
        self.fetch_small(small)?;
        let sizes = self.sizes(unsized_data)?;
        for p in &mut out {
            let rel = p.dir.strip_prefix(&self.root).unwrap_or(&p.dir).to_owned();
            for (entry, len) in &mut p.files {
                if let Some(n) = sizes.get(&rel.join(&entry.samples)) {
                    *len = *n;
                }
            }
        }
        Ok(Some(out))
    }

    /// Reads the manifests at `keys`, several at once.
    fn read_manifests(&self, keys: Vec<String>) -> Result<Vec<(String, Manifest)>, RemoteError> {
        let (store, prefix) = (self.config.store.clone(), self.config.prefix.clone());
        let read = self.block_on(async move {
            futures::stream::iter(keys)
                .map(|key| {
                    let (store, prefix) = (store.clone(), prefix.clone());
                    async move {
                        let location = bucket::location(&prefix, &key)?;
                        let bytes = store
                            .get(&location)
                            .await
                            .map_err(|e| store_error("get", &key, e))?
                            .bytes()
                            .await
                            .map_err(|e| store_error("get", &key, e))?;
                        let manifest: Manifest =
                            serde_json::from_slice(&bytes).map_err(|e| RemoteError::Object {
                                key: key.clone(),
                                reason: e.to_string(),
                            })?;
                        Ok::<_, RemoteError>((key, manifest))
                    }
                })
                .buffer_unordered(CONCURRENCY)
                .collect::<Vec<_>>()
                .await
        })?;
        self.manifests_read
            .fetch_add(read.len() as u64, Ordering::Relaxed);
        read.into_iter().collect()
    }

    /// Fetches the small files of the sets (`(key, listed size)`) not yet in the cache
    /// with that size.
    fn fetch_small(&self, wanted: Vec<(String, Option<u64>)>) -> Result<(), RemoteError> {
        let missing: Vec<String> = wanted
            .into_iter()
            .filter(|(key, size)| {
                let local = std::fs::metadata(self.root.join(key)).map(|m| m.len()).ok();
                local.is_none() || local != *size
            })
            .map(|(key, _)| key)
            .collect();
        let (store, prefix, root) = (
            self.config.store.clone(),
            self.config.prefix.clone(),
            self.root.clone(),
        );
        let sizes = self.block_on(async move {
            futures::stream::iter(missing)
                .map(|key| {
                    let (store, prefix, path) = (store.clone(), prefix.clone(), root.join(&key));
                    async move { cache::download(store.as_ref(), &prefix, &key, &path).await }
                })
                .buffer_unordered(CONCURRENCY)
                .collect::<Vec<_>>()
                .await
        })?;
        for size in sizes {
            self.cache.counted(size?);
        }
        Ok(())
    }

    /// The sizes of the data objects `keys` (relative to the prefix), by local path
    /// relative to the data directory: sets the listing did not show yet.
    fn sizes(&self, keys: Vec<String>) -> Result<HashMap<PathBuf, u64>, RemoteError> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let (store, prefix) = (self.config.store.clone(), self.config.prefix.clone());
        self.block_on(async move {
            let mut out = HashMap::new();
            for key in keys {
                let meta = store
                    .head(&bucket::location(&prefix, &key)?)
                    .await
                    .map_err(|e| store_error("head", &key, e))?;
                out.insert(PathBuf::from(key), meta.size);
            }
            Ok::<_, RemoteError>(out)
        })?
    }

    /// The counters.
    pub(crate) fn stats(&self) -> ReaderStats {
        let c = &self.cache.counters;
        ReaderStats {
            refreshes: self.refreshes.load(Ordering::Relaxed),
            listings: self.listings.load(Ordering::Relaxed),
            catalog_reads: self.catalog_reads.load(Ordering::Relaxed),
            failed_refreshes: self.failed.load(Ordering::Relaxed),
            manifests_read: self.manifests_read.load(Ordering::Relaxed),
            partitions: self.known.lock().unwrap_or_else(|p| p.into_inner()).len() as u64,
            fetched_objects: c.fetched_objects.load(Ordering::Relaxed),
            fetched_bytes: c.fetched_bytes.load(Ordering::Relaxed),
            cache_hits: c.hits.load(Ordering::Relaxed),
            cache_misses: c.misses.load(Ordering::Relaxed),
            ranged_gets: c.ranged_gets.load(Ordering::Relaxed),
            ranged_bytes: c.ranged_bytes.load(Ordering::Relaxed),
            evicted: c.evicted.load(Ordering::Relaxed),
            cached_bytes: self.cache.used(),
            since_refresh: self
                .last_success
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .map(|t| t.elapsed()),
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        }
    }

    /// Runs `f` on the reader's runtime from any thread.
    fn block_on<T: Send + 'static>(
        &self,
        f: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, RemoteError> {
        bucket::block_on(self.runtime.as_ref(), f)
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // Not a blocking shutdown: the engine may be dropped inside an async context.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The signal, tier and tenant of a partition directory key
/// (`<signal>/tenant=<t>/date=<d>/hour=<h>`, or a downsampled tier's
/// `metrics_<res>/tenant=<t>/date=<d>`).
fn parse_dir(rel: &str) -> Result<(Signal, Option<i64>, TenantId), RemoteError> {
    let bad = |reason: &str| RemoteError::Object {
        key: format!("{rel}/manifest.json"),
        reason: reason.to_owned(),
    };
    let parts: Vec<&str> = rel.split('/').collect();
    let tier = bucket::tier_of(rel);
    let signal = match tier {
        Some(_) => Signal::Metrics,
        None => signal_of(rel).ok_or_else(|| bad("not below a signal's directory"))?,
    };
    let (tenant, date, hour) = match (tier, &parts[..]) {
        (None, [_, tenant, date, hour]) => (*tenant, *date, hour.starts_with("hour=")),
        (Some(_), [_, tenant, date]) => (*tenant, *date, true),
        _ => return Err(bad("not a partition directory")),
    };
    if !date.starts_with("date=") || !hour {
        return Err(bad("not a partition directory"));
    }
    let tenant = tenant
        .strip_prefix("tenant=")
        .and_then(|t| TenantId::new(t).ok())
        .ok_or_else(|| bad("no valid tenant"))?;
    Ok((signal, tier, tenant))
}
