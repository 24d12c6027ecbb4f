//! The object-storage mirror (`storage/remote`), on the in-memory and the local-directory
//! stores (the server's tests run it on an S3 server): every committed partition reaches
//! the bucket files first and manifest last; compaction's inputs and dropped partitions
//! leave it after the grace; a mirror interrupted (the store failing) leaves no manifest
//! naming a missing object and is finished by the next open; one writer per prefix.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::TryStreamExt;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path as Key;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use strata_engine::{
    AnyValue, Engine, EngineConfig, Limits, LogRecord, ManualClock, RemoteConfig, Sample,
    SeriesSamples, TenantId,
};

const HOUR: i64 = 3_600_000;
/// 2025-11-21T00:00:00Z
const DAY: i64 = 1_763_683_200_000;

fn config(store: Arc<dyn ObjectStore>, grace: Duration) -> EngineConfig {
    let mut remote = RemoteConfig::new(store, "strata/test");
    remote.delete_grace = grace;
    // Passes run when the test asks (`sync_remote`), or when a commit wakes the thread.
    remote.interval = Duration::from_secs(3600);
    EngineConfig {
        limits: Limits {
            ingest_rate: 1e9,
            ingest_burst: 1e9,
            metrics_retention: Duration::from_secs(30 * 86_400),
            logs_retention: Duration::from_secs(30 * 86_400),
            ..Limits::default()
        },
        remote: Some(remote),
        ..EngineConfig::default()
    }
}

fn up(ts: impl IntoIterator<Item = i64>) -> SeriesSamples {
    SeriesSamples {
        labels: vec![("__name__".into(), "up".into()), ("job".into(), "a".into())],
        samples: ts.into_iter().map(|ts| Sample { ts, value: 1.0 }).collect(),
    }
}

fn logs(hour: i64, n: usize) -> Vec<LogRecord> {
    (0..n)
        .map(|i| LogRecord {
            time_ns: (DAY + hour * HOUR + i as i64 * 1000) * 1_000_000,
            service_name: "api".into(),
            body: Some(AnyValue::String(format!("line {i}"))),
            ..LogRecord::default()
        })
        .collect()
}

/// Every object below the test prefix, by key relative to it, with its bytes.
async fn objects(store: &dyn ObjectStore) -> BTreeMap<String, Vec<u8>> {
    let metas: Vec<ObjectMeta> = store
        .list(Some(&Key::from("strata/test")))
        .try_collect()
        .await
        .expect("list");
    let mut out = BTreeMap::new();
    for m in metas {
        let bytes = store
            .get(&m.location)
            .await
            .expect("get")
            .bytes()
            .await
            .expect("bytes");
        let rel = m
            .location
            .as_ref()
            .trim_start_matches("strata/test/")
            .to_owned();
        out.insert(rel, bytes.to_vec());
    }
    out
}

/// Checks the bucket against the data directory: every manifest object lists only
/// objects present, byte for byte the local files; returns the partitions (manifest
/// keys) and the data objects no manifest lists.
fn check(bucket: &BTreeMap<String, Vec<u8>>, root: &Path) -> (Vec<String>, Vec<String>) {
    let mut manifests = Vec::new();
    let mut listed = Vec::new();
    for (key, bytes) in bucket.iter().filter(|(k, _)| k.ends_with("/manifest.json")) {
        let dir = key.trim_end_matches("/manifest.json");
        let manifest: serde_json::Value = serde_json::from_slice(bytes).expect("manifest");
        for entry in manifest["files"].as_array().expect("files") {
            for field in ["samples", "series", "index"] {
                let Some(name) = entry[field].as_str() else {
                    continue;
                };
                let object = format!("{dir}/{name}");
                let stored = bucket
                    .get(&object)
                    .unwrap_or_else(|| panic!("{key} names missing {object}"));
                if let Ok(local) = std::fs::read(root.join(&object)) {
                    assert_eq!(&local, stored, "{object}");
                }
                listed.push(object.clone());
                for ext in ["tid", "sum"] {
                    let derived = object.replace(".parquet", &format!(".{ext}"));
                    if bucket.contains_key(&derived) {
                        listed.push(derived);
                    }
                }
            }
        }
        manifests.push(key.clone());
    }
    let unlisted = bucket
        .keys()
        .filter(|k| !k.ends_with("manifest.json") && !k.starts_with('_') && !listed.contains(k))
        .cloned()
        .collect();
    (manifests, unlisted)
}

fn block<T>(f: impl Future<Output = T>) -> T {
    futures::executor::block_on(f)
}

/// Writes metrics and logs in two hours, flushes twice per hour, mirrors, compacts,
/// mirrors, drops the first hour by retention, mirrors: the bucket follows each step.
fn mirror_follows_the_data_directory(store: Arc<dyn ObjectStore>) {
    let dir = tempfile::tempdir().expect("dir");
    let clock = Arc::new(ManualClock::new(DAY + 3 * HOUR));
    let t = TenantId::new("acme").expect("tenant");
    let engine = Engine::open_with_clock(
        dir.path(),
        config(store.clone(), Duration::ZERO),
        clock.clone(),
    )
    .expect("open");
    for round in 0..2 {
        for hour in 0..2 {
            let ts = (0..60).map(|m| DAY + hour * HOUR + round * 60_000 * 30 + m * 1000);
            engine.write(&t, &[up(ts)]).expect("write");
            let out = engine
                .write_logs(&t, &logs(hour, 100 + round as usize))
                .expect("logs");
            assert_eq!(out.accepted, 100 + round as u64);
        }
        engine.flush().expect("flush");
    }
    let stats = engine.sync_remote().expect("sync").expect("a mirror");
    assert_eq!(stats.pending_partitions, 0);
    assert!(stats.manifests_put >= 4, "{stats:?}");
    let bucket = block(objects(store.as_ref()));
    let (manifests, unlisted) = check(&bucket, dir.path());
    // Two hours of metrics and of logs.
    assert_eq!(manifests.len(), 4, "{manifests:?}");
    assert!(unlisted.is_empty(), "{unlisted:?}");
    assert!(
        bucket.keys().any(|k| k.ends_with(".sum")),
        "logs summaries too"
    );

    // Compaction: each partition's two sets become one; the inputs leave the bucket
    // (grace zero here).
    clock.set(DAY + 30 * HOUR);
    let compacted = engine.compact_all().expect("compact");
    assert!(compacted.partitions > 0, "{compacted:?}");
    engine.sync_remote().expect("sync");
    let bucket = block(objects(store.as_ref()));
    let (manifests, unlisted) = check(&bucket, dir.path());
    assert_eq!(manifests.len(), 4);
    assert!(unlisted.is_empty(), "{unlisted:?}");
    // Compacted (`-c`), or cold by now (`-cold`: metrics and logs a day old).
    assert!(
        bucket
            .keys()
            .any(|k| k.ends_with("-c.parquet") || k.ends_with("-cold.parquet")),
        "{:?}",
        bucket.keys()
    );

    // Retention: the first hour of both signals goes, manifest first, then its files.
    clock.set(DAY + HOUR + 30 * 86_400_000);
    let dropped = engine.apply_retention().expect("retention");
    assert_eq!(dropped.expired, 2, "{dropped:?}");
    let stats = engine.sync_remote().expect("sync").expect("a mirror");
    let bucket = block(objects(store.as_ref()));
    let (manifests, unlisted) = check(&bucket, dir.path());
    assert_eq!(manifests.len(), 2, "{manifests:?}");
    assert!(unlisted.is_empty(), "{unlisted:?}");
    assert!(
        manifests.iter().all(|m| m.contains("hour=01")),
        "{manifests:?}"
    );
    assert!(stats.deleted_objects > 0);
    engine.close().expect("close");
}

#[test]
fn the_mirror_follows_flushes_compaction_and_retention_in_memory() {
    mirror_follows_the_data_directory(Arc::new(InMemory::new()));
}

#[test]
fn the_mirror_follows_flushes_compaction_and_retention_on_a_local_directory() {
    let bucket = tempfile::tempdir().expect("bucket");
    let store =
        object_store::local::LocalFileSystem::new_with_prefix(bucket.path()).expect("store");
    mirror_follows_the_data_directory(Arc::new(store));
}

#[test]
fn unlisted_objects_stay_for_the_grace() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let dir = tempfile::tempdir().expect("dir");
    let clock = Arc::new(ManualClock::new(DAY + 3 * HOUR));
    let t = TenantId::new("acme").expect("tenant");
    let engine = Engine::open_with_clock(
        dir.path(),
        config(store.clone(), Duration::from_secs(3600)),
        clock.clone(),
    )
    .expect("open");
    for _ in 0..2 {
        engine.write_logs(&t, &logs(0, 50)).expect("logs");
        engine.flush().expect("flush");
    }
    engine.sync_remote().expect("sync");
    clock.set(DAY + 30 * HOUR);
    engine.compact_all().expect("compact");
    engine.sync_remote().expect("sync");
    let bucket = block(objects(store.as_ref()));
    let (_, unlisted) = check(&bucket, dir.path());
    // The two flushed files and their summaries: unlisted, kept for readers mid-query.
    assert_eq!(unlisted.len(), 4, "{unlisted:?}");
    engine.close().expect("close");
}

/// A store that fails every write while `failing` is set (the bucket unreachable).
#[derive(Debug)]
struct Flaky {
    inner: InMemory,
    failing: AtomicBool,
}

impl fmt::Display for Flaky {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Flaky({})", self.inner)
    }
}

impl Flaky {
    fn check(&self) -> object_store::Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(object_store::Error::Generic {
                store: "flaky",
                source: "the bucket is unreachable".into(),
            });
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl ObjectStore for Flaky {
    async fn put_opts(
        &self,
        location: &Key,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.check()?;
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Key,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.check()?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Key,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Key>>,
    ) -> BoxStream<'static, object_store::Result<Key>> {
        if self.failing.load(Ordering::SeqCst) {
            return Box::pin(futures::stream::once(async {
                Err(object_store::Error::Generic {
                    store: "flaky",
                    source: "unreachable".into(),
                })
            }));
        }
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Key>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Key>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Key,
        to: &Key,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.check()?;
        self.inner.copy_opts(from, to, options).await
    }
}

#[test]
fn an_unreachable_bucket_delays_the_mirror_and_the_next_open_finishes_it() {
    let flaky = Arc::new(Flaky {
        inner: InMemory::new(),
        failing: AtomicBool::new(false),
    });
    let store: Arc<dyn ObjectStore> = flaky.clone();
    let dir = tempfile::tempdir().expect("dir");
    let clock = Arc::new(ManualClock::new(DAY + 3 * HOUR));
    let t = TenantId::new("acme").expect("tenant");
    let engine = Engine::open_with_clock(
        dir.path(),
        config(store.clone(), Duration::ZERO),
        clock.clone(),
    )
    .expect("open");
    engine.write_logs(&t, &logs(0, 10)).expect("logs");
    engine.flush().expect("flush");
    engine.sync_remote().expect("sync");

    // Unreachable: writes and flushes go on locally; the mirror fails and says so.
    flaky.failing.store(true, Ordering::SeqCst);
    engine
        .write_logs(&t, &logs(1, 20))
        .expect("logs while the bucket is away");
    engine
        .write(&t, &[up([DAY + HOUR])])
        .expect("samples while the bucket is away");
    engine.flush().expect("a local flush");
    assert!(engine.sync_remote().is_err());
    let stats = engine.remote_stats().expect("a mirror");
    assert!(
        stats.failed_passes >= 1 && stats.pending_partitions >= 2,
        "{stats:?}"
    );
    assert!(
        stats
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("unreachable")),
        "{stats:?}"
    );
    let bucket = block(objects(store.as_ref()));
    let (manifests, unlisted) = check(&bucket, dir.path());
    assert_eq!(manifests.len(), 1, "only what was mirrored before");
    assert!(unlisted.is_empty());
    // Dropped as a crash would leave it (no close, no last pass).
    drop(engine);

    // Back: the next open lists the bucket and mirrors what the last one could not.
    flaky.failing.store(false, Ordering::SeqCst);
    let engine = Engine::open_with_clock(dir.path(), config(store.clone(), Duration::ZERO), clock)
        .expect("reopen");
    let stats = engine.sync_remote().expect("sync").expect("a mirror");
    assert_eq!(stats.pending_partitions, 0);
    assert_eq!(stats.last_error, None);
    let bucket = block(objects(store.as_ref()));
    let (manifests, unlisted) = check(&bucket, dir.path());
    assert_eq!(manifests.len(), 3, "{manifests:?}");
    assert!(unlisted.is_empty(), "{unlisted:?}");
    engine.close().expect("close");
}

#[test]
fn one_writer_per_prefix() {
    let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
    let a = tempfile::tempdir().expect("dir");
    let b = tempfile::tempdir().expect("dir");
    let first = Engine::open(a.path(), config(store.clone(), Duration::ZERO)).expect("open");
    let second = Engine::open(b.path(), config(store.clone(), Duration::ZERO));
    let err = second.expect_err("a second writer");
    assert!(err.to_string().contains("held by another writer"), "{err}");
    first.close().expect("close");
    // The same data directory opens again.
    let again = Engine::open(a.path(), config(store, Duration::ZERO)).expect("reopen");
    again.close().expect("close");
}
