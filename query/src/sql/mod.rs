//! SQL over the engine with DataFusion: a per-tenant catalog and its tables.
//!
//! Tables (see `docs/sql.md`): `samples(series_id, ts, value)` read from the tenant's
//! Parquet file sets and memory, pruned by time filters, Parquet statistics and the page
//! index, and deduplicated where sources overlap; `series(series_id, metric, labels)`;
//! `metrics(metric, labels, ts, value)`, their join; `spans` and `logs`, the engine's spans
//! and log records, pruned by time and, for `trace_id` lookups, by bloom filters;
//! `histograms` and `histogram_buckets`, the native histogram samples and their buckets.

mod bucket;
mod catalog;
mod codec;
mod config;
mod conjuncts;
mod dedup;
mod describe;
mod distributed;
mod error;
mod exemplars;
mod footers;
mod histograms;
mod hybrid;
mod line_filter;
mod line_search;
mod local_reader;
mod lookup_exec;
mod map_rows;
mod placement;
mod pread;
mod raw_pages;
mod runtime;
mod samples;
mod scan;
mod series;
mod signal_table;
mod stream;
mod time_range;
mod trace_ids;
mod trace_rows;

pub use bucket::{BUCKET_URL, EngineSlot, register as register_bucket};
pub use catalog::{run_sql, tenant_session};
pub use config::{ClusterToken, SqlConfig};
pub use describe::{Described, bound_schema, describe};
pub use distributed::{worker, worker_for};
pub use error::{Error, Result};
pub use footers::cached_bytes as footer_cache_bytes;
pub use footers::shed_footer_cache;
pub(crate) use signal_table::logs_source;
pub use stream::{SqlStream, read_only};
pub use trace_rows::trace_rows;

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
