//! Parquet footers and page indexes kept between queries: one cache per process, which
//! every tenant session's runtime shares (DataFusion's own is per runtime, and each query
//! builds a runtime for its memory budget, so it began empty every query).
//!
//! Entries are keyed by a file's absolute path and checked against its size and
//! modification time ([`super::partitioned_file`] gives DataFusion both), so a file
//! written again under a name a deleted one had is read afresh. Files are immutable once
//! listed; a tenant's session lists only its own, so what the cache holds of another
//! tenant's files is never reached from it. Least recently used entries go first once
//! their decoded size passes [`crate::sql::SqlConfig::metadata_cache_bytes`].

use std::sync::{Arc, OnceLock};

use datafusion::execution::cache::cache_manager::{CacheManagerConfig, CachedFileMetadataEntry};
use datafusion::execution::cache::default_cache::DefaultCache;
use datafusion::object_store::path::Path;

type Footers = DefaultCache<Path, CachedFileMetadataEntry>;

static SHARED: OnceLock<Arc<Footers>> = OnceLock::new();

/// The process's footer cache.
fn shared() -> &'static Arc<Footers> {
    SHARED.get_or_init(|| Arc::new(DefaultCache::new(0).with_name("StrataFooterCache")))
}

/// A session's cache settings: the process's footer cache, holding up to `limit_bytes`
/// (DataFusion applies the limit when it builds the runtime; the last session's limit
/// holds, and every session of a process is configured alike).
pub(crate) fn cache_config(limit_bytes: usize) -> CacheManagerConfig {
    CacheManagerConfig::default()
        .with_file_metadata_cache(Some(shared().clone()))
        .with_metadata_cache_limit(limit_bytes)
}

/// Bytes the process's footer cache holds now.
pub fn cached_bytes() -> usize {
    shared().memory_used()
}

/// Drops every footer the process's cache holds (under memory pressure, before queries
/// are refused); returns the bytes they held. Later queries decode them again.
pub fn shed_footer_cache() -> usize {
    use datafusion::execution::cache::Cache as _;
    let bytes = shared().memory_used();
    shared().clear();
    bytes
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::execution::cache::cache_manager::CachedFileMetadataEntry;
    use datafusion::execution::cache::{Cache, CacheValue};
    use datafusion::object_store::path::Path;

    use super::shared;
    use crate::sql::{SqlConfig, run_sql, tenant_session};

    /// The logs Parquet files under `dir`.
    fn logs_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).expect("read dir").flatten() {
                let p = e.path();
                if p.is_dir() {
                    todo.push(p);
                } else if p.extension().is_some_and(|x| x == "parquet")
                    && p.to_string_lossy().contains("logs-")
                {
                    found.push(p);
                }
            }
        }
        found
    }

    /// A file's footer is decoded by the first query that reads it and reused by the next
    /// query's session; a file whose modification time changed is read afresh.
    #[tokio::test]
    async fn sessions_share_footers_and_changed_files_are_read_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (engine, tenant) = crate::sql::engine_with_one_log(dir.path(), "a line");
        let files = logs_files(dir.path());
        assert_eq!(files.len(), 1, "{files:?}");
        let file = std::path::absolute(&files[0]).expect("absolute");
        let key = Path::from(file.to_str().expect("utf-8"));
        let config = SqlConfig::for_tests();
        let query = |engine: Arc<strata_engine::Engine>| {
            let (tenant, config) = (tenant.clone(), config.clone());
            async move {
                let ctx = tenant_session(engine, &tenant, &config).expect("session");
                let rows = run_sql(&ctx, "SELECT body FROM logs", &config)
                    .await
                    .expect("query");
                assert_eq!(rows.iter().map(|b| b.num_rows()).sum::<usize>(), 1);
            }
        };
        let cached = || -> CachedFileMetadataEntry {
            shared().get(&key).expect("the file's footer is cached")
        };

        query(engine.clone()).await;
        let first = cached();
        assert!(first.size() > 0);
        query(engine.clone()).await;
        let second = cached();
        assert!(
            Arc::ptr_eq(&first.file_metadata, &second.file_metadata),
            "the second session decoded the footer again"
        );

        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(5);
        std::fs::File::options()
            .append(true)
            .open(&file)
            .and_then(|f| f.set_modified(later))
            .expect("set mtime");
        query(engine).await;
        let third = cached();
        assert!(!Arc::ptr_eq(&first.file_metadata, &third.file_metadata));
        assert_ne!(first.meta.last_modified, third.meta.last_modified);
    }
}
