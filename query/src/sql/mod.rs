//! SQL over the engine with DataFusion: a per-tenant catalog and its tables.
//!
//! Tables (see `docs/sql.md`): `samples(series_id, ts, value)` read from the tenant's
//! Parquet file sets and memory, pruned by time filters, Parquet statistics and the page
//! index, and deduplicated where sources overlap; `series(series_id, metric, labels)`;
//! `metrics(metric, labels, ts, value)`, their join; `spans` and `logs`, the engine's spans
//! and log records, pruned by time and, for `trace_id` lookups, by bloom filters.

mod catalog;
mod config;
mod conjuncts;
mod dedup;
mod error;
mod footers;
mod line_filter;
mod local_reader;
mod samples;
mod scan;
mod series;
mod signal_table;
mod stream;
mod time_range;
mod trace_ids;

pub use catalog::{read_only, run_sql, tenant_session};
pub use config::SqlConfig;
pub use error::{Error, Result};
pub use footers::cached_bytes as footer_cache_bytes;
pub(crate) use signal_table::logs_source;
pub use stream::SqlStream;
