//! Building blocks of the tables' scans: a DataFusion Parquet scan over snapshot files
//! (row-group statistics, the page index and the filters pushed into decoding) and an
//! in-memory scan over snapshot batches.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::DFSchema;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::utils::conjunction;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::ExecutionPlan;
use strata_engine::SnapshotFile;

pub(crate) mod bucket;
pub(crate) mod conjuncts;
pub(crate) mod dedup;
pub(crate) mod footers;
pub(crate) mod local_reader;
pub(crate) mod time_range;

use bucket::BucketNames;

/// A Parquet source over `schema` that uses the page index and applies `predicate` to
/// row-group statistics, pages and rows, and takes footers from the session's metadata
/// cache (shared by every session: [`footers`]); DataFusion's default reader
/// factory for a source built by hand decodes them again on every scan.
pub(crate) fn parquet_source(
    state: &dyn Session,
    schema: SchemaRef,
    predicate: Option<&Arc<dyn PhysicalExpr>>,
) -> Result<ParquetSource> {
    let source = ParquetSource::new(schema)
        .with_enable_page_index(true)
        .with_pushdown_filters(true)
        .with_parquet_file_reader_factory(Arc::new(cached_factory(state)?));
    Ok(match predicate {
        Some(p) => source.with_predicate(p.clone()),
        None => source,
    })
}

/// Readers of the local file system's Parquet files whose footers and page indexes come
/// from (and go to) the session's metadata cache.
pub(crate) fn cached_factory(state: &dyn Session) -> Result<CachedParquetFileReaderFactory> {
    let runtime = state.runtime_env();
    let store = runtime.object_store(store_url(state))?;
    Ok(CachedParquetFileReaderFactory::new(
        store,
        runtime.cache_manager.get_file_metadata_cache(),
    ))
}

/// The physical predicate of `filters` (ANDed) over `schema`, if there is any filter.
pub(crate) fn predicate(
    state: &dyn Session,
    schema: &SchemaRef,
    filters: Vec<Expr>,
) -> Result<Option<Arc<dyn PhysicalExpr>>> {
    let schema = DFSchema::try_from(schema.as_ref().clone())?;
    match conjunction(filters) {
        Some(expr) => state.create_physical_expr(expr, &schema).map(Some),
        None => Ok(None),
    }
}

/// `file` as DataFusion names it: the local object store reads absolute paths only (a
/// relative data directory, `./strata-data`, the server's default, would be taken from
/// `/`). The file carries `file` itself, so compaction or retention cannot delete it while
/// the plan lives. Its modification time is the file's (the epoch for a bucket's).
pub(crate) fn partitioned_file(file: &SnapshotFile) -> Result<PartitionedFile> {
    let path = std::path::absolute(file.path()).map_err(|e| {
        DataFusionError::Execution(format!("cannot resolve {}: {e}", file.path().display()))
    })?;
    let path = path
        .to_str()
        .ok_or_else(|| DataFusionError::Execution(format!("non-UTF-8 path {}", path.display())))?;
    // The modification time keys the footer cache with the size (`footers.rs`). A
    // bucket's file may not be fetched yet; its object never changes under its name.
    let modified = if file.in_bucket() {
        std::time::UNIX_EPOCH
    } else {
        std::fs::metadata(path)
            .and_then(|m| m.modified())
            .map_err(|e| DataFusionError::Execution(format!("cannot stat {path}: {e}")))?
    };
    let mut pf = PartitionedFile::new(path, file.samples_bytes()).with_extension(file.clone());
    pf.object_meta.last_modified = chrono::DateTime::<chrono::Utc>::from(modified);
    Ok(pf)
}

/// Where the session's scans read files: the local file system by absolute path, or, over
/// a bucket, [`bucket::BUCKET_URL`] by key (so the workers of a distributed query
/// find them in their own caches).
fn store_url(state: &dyn Session) -> ObjectStoreUrl {
    match state.config().get_extension::<BucketNames>() {
        Some(_) => bucket::bucket_url(),
        None => ObjectStoreUrl::local_filesystem(),
    }
}

/// A scan of `files` by `source`, spread over the session's target partitions.
pub(crate) fn parquet_exec(
    state: &dyn Session,
    source: ParquetSource,
    mut files: Vec<PartitionedFile>,
    projection: Option<Vec<usize>>,
    limit: Option<usize>,
) -> Result<Arc<dyn ExecutionPlan>> {
    if let Some(names) = state.config().get_extension::<BucketNames>() {
        for f in &mut files {
            let abs = std::path::Path::new("/").join(f.object_meta.location.as_ref());
            if let Some(key) = bucket::key_of(&names.root, &abs) {
                f.object_meta.location = object_store::path::Path::from(key.as_str());
            }
        }
    }
    let n = state
        .config()
        .target_partitions()
        .clamp(1, files.len().max(1));
    let mut groups: Vec<Vec<PartitionedFile>> = (0..n).map(|_| Vec::new()).collect();
    for (i, f) in files.into_iter().enumerate() {
        groups[i % n].push(f);
    }
    let config = FileScanConfigBuilder::new(store_url(state), Arc::new(source))
        .with_file_groups(groups.into_iter().map(FileGroup::new).collect())
        .with_projection_indices(projection)?
        .with_limit(limit)
        .build();
    Ok(DataSourceExec::from_data_source(config))
}

/// A scan of snapshot batches (schema `schema`), one partition per batch.
pub(crate) fn memory_exec(
    schema: SchemaRef,
    batches: &[&RecordBatch],
    projection: Option<Vec<usize>>,
    limit: Option<usize>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let partitions: Vec<Vec<RecordBatch>> = batches.iter().map(|b| vec![(*b).clone()]).collect();
    let source = MemorySourceConfig::try_new(&partitions, schema, projection)?.with_limit(limit);
    Ok(DataSourceExec::from_data_source(source))
}
