//! SQL over the engine with DataFusion: a per-tenant catalog and its tables.
//!
//! Tables (see `docs/sql.md`): `samples(series_id, ts, value)` read from the tenant's
//! Parquet file sets and memory, pruned by time filters, Parquet statistics and the page
//! index, and deduplicated where sources overlap; `series(series_id, metric, labels)`;
//! `metrics(metric, labels, ts, value)`, their join; `spans` and `logs`, the engine's spans
//! and log records, pruned by time and, for `trace_id` lookups, by bloom filters;
//! `histograms` and `histogram_buckets`, the native histogram samples and their buckets.
//!
//! The rooms, lowest first: `error` and `config` are used by all; `pages/` reads
//! Parquet pages in place; `scan/` builds the tables' scans (the bucket's files by key,
//! footers kept between queries, time ranges, the merge of overlapping samples); `search/`
//! is log line and trace-id search over those files; `runtime` is a query's DataFusion
//! runtime; `distributed/` spreads scans over workers; `catalog/` is the per-tenant
//! session, its tables, and running or describing a query in it.

mod catalog;
mod config;
mod distributed;
mod error;
mod pages;
mod runtime;
mod scan;
mod search;

pub use catalog::describe::{Described, bound_schema, describe};
pub(crate) use catalog::signal_table::logs_source;
pub use catalog::stream::{SqlStream, read_only};
pub use catalog::{run_sql, tenant_session};
pub use config::{ClusterToken, SqlConfig};
pub use distributed::health::{DOWN_FOR, SpreadStats, note_local_run, spread_stats};
pub use distributed::{worker, worker_for};
pub use error::{Error, Result};
pub use scan::bucket::{BUCKET_URL, EngineSlot, register as register_bucket};
pub use scan::footers::cached_bytes as footer_cache_bytes;
pub use scan::footers::shed_footer_cache;
pub use search::trace_rows::trace_rows;

/// An engine in `dir` holding one log record of service `shop` with `body`, flushed to a
/// logs file, and its tenant (tests).
#[cfg(test)]
pub(crate) fn engine_with_one_log(
    dir: &std::path::Path,
    body: &str,
) -> (
    std::sync::Arc<strata_engine::Engine>,
    strata_engine::TenantId,
) {
    let engine = std::sync::Arc::new(
        strata_engine::Engine::open(dir, strata_engine::EngineConfig::default()).expect("open"),
    );
    let tenant = strata_engine::TenantId::new("t").expect("tenant");
    let record = strata_engine::LogRecord {
        time_ns: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos() as i64,
        service_name: "shop".into(),
        body: Some(strata_engine::AnyValue::String(body.into())),
        ..strata_engine::LogRecord::default()
    };
    engine.write_logs(&tenant, &[record]).expect("write");
    engine.flush().expect("flush");
    (engine, tenant)
}
