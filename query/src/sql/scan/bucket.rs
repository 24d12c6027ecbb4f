//! The files of a bucket by key, for the processes of one distributed query
//! (`docs/scale-out.md`). A query process and its workers each cache the bucket in a data
//! directory of their own, so a scan names its files by key below the bucket prefix, under
//! [`BUCKET_URL`], and every process resolves a key through [`BucketFiles`]: the file is
//! fetched into its cache (`Engine::bucket_file`) and read there.

use std::fmt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnv;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use strata_engine::Engine;

/// The URL scans of a bucket's files name them under.
pub const BUCKET_URL: &str = "strata-bucket://files";

/// The object store URL of [`BUCKET_URL`].
pub(crate) fn bucket_url() -> ObjectStoreUrl {
    // A constant that parses.
    ObjectStoreUrl::parse(BUCKET_URL).unwrap_or_else(|_| ObjectStoreUrl::local_filesystem())
}

/// Where the files of a bucket are read from: a reader engine, or the slot a server fills
/// once its engine has opened (a worker answers before then, and its reads fail until).
pub type EngineSlot = Arc<dyn Fn() -> Option<Arc<Engine>> + Send + Sync>;

/// Registers [`BucketFiles`] over `engine` (a reader of a bucket) in `runtime`.
pub fn register(runtime: &RuntimeEnv, engine: Arc<Engine>) -> datafusion::error::Result<()> {
    let dir = engine.data_dir().to_path_buf();
    register_slot(runtime, &dir, Arc::new(move || Some(engine.clone())))
}

/// Registers [`BucketFiles`] over the engine `slot` gives, whose data directory is `dir`.
pub(crate) fn register_slot(
    runtime: &RuntimeEnv,
    dir: &FsPath,
    slot: EngineSlot,
) -> datafusion::error::Result<()> {
    let url = url::Url::parse(BUCKET_URL)
        .map_err(|e| datafusion::error::DataFusionError::Configuration(e.to_string()))?;
    let root = std::path::absolute(dir)?;
    // A server's worker registers this before its engine has created the directory.
    std::fs::create_dir_all(&root)?;
    let local = LocalFileSystem::new_with_prefix(&root)
        .map_err(|e| datafusion::error::DataFusionError::ObjectStore(Box::new(e)))?;
    let files = BucketFiles { slot, root, local };
    runtime.register_object_store(&url, Arc::new(files));
    Ok(())
}

/// Reads of a bucket's data files by key, through the engine's cache. Read-only.
pub(crate) struct BucketFiles {
    slot: EngineSlot,
    /// The engine's data directory, absolute.
    root: PathBuf,
    /// The cache directory as a store (keys are paths below it).
    local: LocalFileSystem,
}

impl fmt::Debug for BucketFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BucketFiles({})", self.root.display())
    }
}

impl fmt::Display for BucketFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl BucketFiles {
    /// The key of `location`: a key already, or an absolute path below the cache.
    fn key(&self, location: &Path) -> String {
        let abs = FsPath::new("/").join(location.as_ref());
        match abs.strip_prefix(&self.root) {
            Ok(rel) => rel.to_string_lossy().into_owned(),
            Err(_) => location.as_ref().to_owned(),
        }
    }

    /// Fetches `location` into the cache; the held file keeps it there meanwhile.
    fn fetch(&self, location: &Path) -> object_store::Result<(Path, strata_engine::SnapshotFile)> {
        let key = self.key(location);
        let not_found =
            |source: Box<dyn std::error::Error + Send + Sync>| object_store::Error::NotFound {
                path: key.clone(),
                source,
            };
        let engine = (self.slot)()
            .ok_or_else(|| not_found("the engine is still opening: not ready".into()))?;
        let held = engine
            .bucket_file(&key)
            .map_err(|e| not_found(Box::new(e)))?
            .ok_or_else(|| not_found("the bucket publishes no such file".into()))?;
        Ok((Path::from(key.as_str()), held))
    }
}

fn read_only() -> object_store::Error {
    object_store::Error::NotSupported {
        source: "a bucket's files are read-only here".into(),
    }
}

#[async_trait]
impl ObjectStore for BucketFiles {
    async fn put_opts(
        &self,
        _: &Path,
        _: PutPayload,
        _: PutOptions,
    ) -> object_store::Result<PutResult> {
        Err(read_only())
    }

    async fn put_multipart_opts(
        &self,
        _: &Path,
        _: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Err(read_only())
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        let (key, _held) = self.fetch(location)?;
        // The local store opens the file before it answers: an eviction after this
        // leaves the open file readable.
        self.local.get_opts(&key, options).await
    }

    fn delete_stream(
        &self,
        _: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        Box::pin(futures::stream::once(async { Err(read_only()) }))
    }

    fn list(&self, _: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        Box::pin(futures::stream::once(async { Err(read_only()) }))
    }

    async fn list_with_delimiter(&self, _: Option<&Path>) -> object_store::Result<ListResult> {
        Err(read_only())
    }

    async fn copy_opts(&self, _: &Path, _: &Path, _: CopyOptions) -> object_store::Result<()> {
        Err(read_only())
    }
}

/// The key below `root` of the absolute path `path`, if it is below it.
pub(crate) fn key_of(root: &FsPath, path: &FsPath) -> Option<String> {
    let rel = path.strip_prefix(root).ok()?;
    let parts: Option<Vec<&str>> = rel.components().map(|c| c.as_os_str().to_str()).collect();
    Some(parts?.join("/"))
}

/// The session's bucket naming, when its engine reads a bucket: scans name files by key.
#[derive(Debug, Clone)]
pub(crate) struct BucketNames {
    /// The engine's data directory (absolute), the cache the keys are below.
    pub(crate) root: PathBuf,
}
