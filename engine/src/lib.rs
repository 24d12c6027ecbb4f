//! strata-engine: the storage engine Strata is built around.
//!
//! It owns tenants and their limits, the series model (Prometheus's: a metric name and a
//! label set; samples are millisecond timestamps with f64 values), stable series ids, and
//! the write path: validate, apply limits, log to the write-ahead log ([`strata_wal`]),
//! apply to the in-memory head. On open it replays the WAL. It knows nothing of SQL, PromQL
//! or the network.
//!
//! Flushed data lives in time-partitioned Parquet (`metrics/tenant=…/date=…/hour=…/`), each
//! file set with its series table and an inverted index; reads go through the indexes and
//! fetch only the pages they need; closed partitions are compacted; retention drops whole
//! partitions. See `docs/architecture.md` for the design and the crash argument.
//!
//! ```
//! use strata_engine::{Clock, Engine, EngineConfig, MatchOp, Matcher, Sample, SeriesSamples};
//! use strata_engine::{SystemClock, TenantId};
//!
//! let dir = tempfile::tempdir()?;
//! let tenant = TenantId::new("acme")?;
//! let engine = Engine::open(dir.path(), EngineConfig::default())?;
//! let now = SystemClock.now_ms(); // samples older than the retention (30 d) are rejected
//! let up = SeriesSamples {
//!     labels: vec![("__name__".into(), "up".into()), ("job".into(), "api".into())],
//!     samples: vec![Sample { ts: now - 15_000, value: 1.0 }, Sample { ts: now, value: 0.0 }],
//! };
//! let outcome = engine.write(&tenant, &[up])?; // durable when this returns
//! assert_eq!(outcome.accepted, 2);
//! engine.close()?;
//!
//! let engine = Engine::open(dir.path(), EngineConfig::default())?; // replays the WAL
//! let job = Matcher::new("job", MatchOp::Equal, "api")?;
//! let series = engine.select(&tenant, &[job], now - 60_000, now)?;
//! assert_eq!(series[0].samples.len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod anyvalue;
mod cache_hint;
mod clock;
mod codec;
mod compact;
mod config;
mod engine;
mod error;
mod flush;
#[doc(hidden)]
pub mod flush_stages;
mod handle;
mod head;
mod index;
mod labels;
mod log_columns;
mod logs_arrow;
mod map_chunk;
mod matcher;
mod memory;
mod outcome;
mod page_cache;
mod parquet_io;
mod partition;
mod pending;
mod prefetch;
mod raw_keys;
#[doc(hidden)]
pub mod record_memory;
mod records;
mod replay;
mod retention;
mod scan;
mod series;
mod series_key;
mod shared_lists;
mod signal;
mod signal_arrow;
mod signal_bloom;
mod signal_check;
mod signal_codec;
mod signal_compact;
mod signal_copy;
mod signal_flush;
mod signal_merge;
mod signal_meta;
mod signal_outcome;
mod signal_read;
mod signal_store;
mod signal_writer;
mod snapshot;
mod span_columns;
mod span_search;
mod spans_arrow;
mod telemetry;
mod tenant;
mod trace_filter;
mod write;

pub use anyvalue::{AnyValue, AnyValueError, Attributes};
pub use clock::{Clock, ManualClock, SystemClock};
pub use compact::CompactStats;
pub use config::{EngineConfig, Limits};
pub use engine::{HeadMemory, Sample, SeriesData, SeriesSamples, TenantStats};
pub use error::{Error, Result};
pub use flush::{FlushStats, FlushStop};
pub use handle::Engine;
pub use labels::{Label, Labels, METRIC_NAME};
pub use logs_arrow::{logs_from_batch, logs_schema};
pub use matcher::{MAX_REGEX_SIZE, MatchOp, Matcher};
pub use memory::set_memory_release;
pub use outcome::{RejectReason, WriteOutcome};
pub use pending::PendingWrite;
pub use raw_keys::KnownSeries;
pub use records::{LogRecord, Scope, SpanEvent, SpanId, SpanLink, SpanRecord, TraceId, parse_id};
pub use retention::RetentionStats;
pub use scan::ScanStats;
pub use series::SeriesId;
pub use signal_outcome::{SignalOutcome, SignalReject, Truncation};
pub use signal_read::{SignalSnapshot, TraceLookupStats};
pub use snapshot::{Snapshot, SnapshotFile, samples_schema, series_schema};
pub use span_columns::{KnownType, span_attribute_column};
pub use span_search::SpanSearch;
pub use spans_arrow::{spans_from_batch, spans_schema};
pub use telemetry::{DiskUsage, EngineTelemetry};
pub use tenant::{MAX_TENANT_LEN, TenantId};
pub use write::{KeyedSeries, SeriesRef};
