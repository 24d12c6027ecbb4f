//! Reading local Parquet files in place. The `object_store` local store hands every read
//! to tokio's blocking pool (a thread wake and a hand-back per read), which is most of the
//! cost of a read served from the page cache; a lookup that decodes a few pages of many
//! row groups makes hundreds of such reads. [`LocalReaders`] reads the byte ranges a scan
//! asks for with positioned reads on the calling thread and takes the footer and page
//! index from DataFusion's metadata cache, as its own cached readers do.

use std::fs::File;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::{
    CachedParquetFileReaderFactory, ParquetFileReaderFactory,
};
use datafusion::error::Result;
use datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::ParquetMetaData;
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, MetricBuilder};
use futures::FutureExt;
use futures::future::BoxFuture;

/// Creates [`LocalReader`]s; metadata comes from the wrapped cached factory.
#[derive(Debug)]
pub(crate) struct LocalReaders {
    cached: CachedParquetFileReaderFactory,
    /// Over a bucket: the cache its keys are below (`super::bucket`).
    root: Option<PathBuf>,
}

impl LocalReaders {
    pub(crate) fn new(cached: CachedParquetFileReaderFactory, root: Option<PathBuf>) -> Self {
        Self { cached, root }
    }
}

impl ParquetFileReaderFactory for LocalReaders {
    fn create_reader(
        &self,
        partition_index: usize,
        file: PartitionedFile,
        metadata_size_hint: Option<usize>,
        metrics: &ExecutionPlanMetricsSet,
    ) -> Result<Box<dyn AsyncFileReader + Send>> {
        // The object store's paths are relative to the file system's root, or keys
        // below the bucket's cache.
        let abs = PathBuf::from(format!("/{}", file.object_meta.location));
        let path = match &self.root {
            Some(root) if !abs.starts_with(root) => root.join(file.object_meta.location.as_ref()),
            _ => abs,
        };
        let bytes_read = MetricBuilder::new(metrics)
            .with_new_label("filename", file.object_meta.location.to_string())
            .counter("bytes_scanned", partition_index);
        let metadata =
            self.cached
                .create_reader(partition_index, file, metadata_size_hint, metrics)?;
        Ok(Box::new(LocalReader {
            metadata,
            path,
            file: None,
            bytes_read,
        }))
    }
}

/// Reads one local file's byte ranges with positioned reads, opening it on first use.
struct LocalReader {
    /// Answers [`AsyncFileReader::get_metadata`] (from the metadata cache).
    metadata: Box<dyn AsyncFileReader + Send>,
    path: PathBuf,
    file: Option<File>,
    bytes_read: Count,
}

impl LocalReader {
    fn read(&mut self, range: Range<u64>) -> Result<Bytes, ParquetError> {
        let io = |e: std::io::Error| {
            ParquetError::General(format!("cannot read {}: {e}", self.path.display()))
        };
        if self.file.is_none() {
            self.file = Some(File::open(&self.path).map_err(io)?);
        }
        let len = usize::try_from(range.end.saturating_sub(range.start))
            .map_err(|_| ParquetError::General(format!("range {range:?} too large")))?;
        let mut buf = vec![0u8; len];
        if let Some(file) = &self.file {
            file.read_exact_at(&mut buf, range.start).map_err(io)?;
        }
        self.bytes_read.add(len);
        Ok(Bytes::from(buf))
    }
}

impl AsyncFileReader for LocalReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, Result<Bytes, ParquetError>> {
        let read = self.read(range);
        async move { read }.boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, Result<Vec<Bytes>, ParquetError>> {
        let read: Result<Vec<Bytes>, ParquetError> =
            ranges.into_iter().map(|r| self.read(r)).collect();
        async move { read }.boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, Result<Arc<ParquetMetaData>, ParquetError>> {
        self.metadata.get_metadata(options)
    }
}
