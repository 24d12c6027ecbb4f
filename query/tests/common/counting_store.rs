//! [`CountingStore`]: the local file system as DataFusion reads it, counting the bytes read
//! from each file (footers and bloom filters included, which DataFusion's own
//! `bytes_scanned` metric leaves out).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::object_store::local::LocalFileSystem;
use datafusion::object_store::path::Path;
use datafusion::object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};
use datafusion::prelude::SessionContext;
use futures::stream::BoxStream;

/// Bytes read per file (object-store path, no leading `/`).
pub type ReadBytes = Arc<Mutex<BTreeMap<String, u64>>>;

/// A [`LocalFileSystem`] that counts what is read through it. Ranged reads go through
/// `get_opts` (the trait's `get_ranges` coalesces them into `get_range` calls), so each
/// byte handed out is counted.
#[derive(Debug, Default)]
pub struct CountingStore {
    inner: LocalFileSystem,
    read: ReadBytes,
}

impl CountingStore {
    /// Puts a counting store in place of `ctx`'s local file system; returns its counts.
    pub fn install(ctx: &SessionContext) -> ReadBytes {
        let store = Self::default();
        let read = store.read.clone();
        let url = ObjectStoreUrl::local_filesystem();
        ctx.runtime_env()
            .register_object_store(url.as_ref(), Arc::new(store));
        read
    }

    fn count(&self, location: &Path, bytes: u64) {
        let mut read = self.read.lock().expect("counts");
        *read.entry(location.to_string()).or_default() += bytes;
    }
}

impl fmt::Display for CountingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let head = options.head;
        let result = self.inner.get_opts(location, options).await?;
        if !head {
            self.count(location, result.range.end - result.range.start);
        }
        Ok(result)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
