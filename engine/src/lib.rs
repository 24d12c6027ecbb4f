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
//! partitions; old days may move into downsampled tiers (`metrics_<res>/`,
//! [`Limits::downsampling`]). See `docs/architecture.md` for the design and the crash
//! argument.
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

mod api;
mod cache_hint;
mod clock;
mod config;
mod error;
mod exemplars;
mod lifecycle;
mod memory;
mod metrics;
mod model;
mod rate_limit;
mod signal_kind;
mod spans_logs;
mod storage;
mod telemetry;
mod tenant;
mod wal_records;

pub use api::Engine;
pub use api::status::{CompactionBacklog, PartitionDisk, SignalDisk};
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Downsampling, EngineConfig, Limits, ReaderConfig, RemoteConfig, TierMatch};
pub use error::{Error, RemoteError, Result};
pub use exemplars::file::exemplars_schema;
pub use lifecycle::checkpoint::{CheckpointOptions, CheckpointStats};
pub use lifecycle::snapshots::{SNAPSHOTS_DIR, SnapshotInfo};
pub use memory::set_memory_release;
pub use metrics::cardinality::{
    Cardinality, CardinalityQuery, HeadSummary, MAX_ADDED_LABELS, NamedCount,
};
pub use metrics::compact::CompactStats;
pub use metrics::flush::{FlushStats, FlushStop};
pub use metrics::raw_keys::KnownSeries;
pub use metrics::scan::ScanStats;
pub use metrics::snapshot::{Snapshot, histograms_schema, samples_schema, series_schema};
pub use metrics::tiers::format_resolution;
pub use metrics::write::{KeyedSeries, SeriesRef};
pub use model::anyvalue::{AnyValue, AnyValueError, Attributes};
pub use model::delete::{DeleteStats, RecordCondition, RecordField, RecordPredicate, RecordSignal};
pub use model::exemplar::{
    Exemplar, ExemplarOutcome, ExemplarReject, MAX_EXEMPLAR_LABELS_CHARS, SPAN_ID_LABEL,
    SeriesExemplars, SeriesExemplarsRead, TRACE_ID_LABEL,
};
pub use model::histogram::{
    Counts, Histogram, HistogramError, HistogramRun, HistogramSample, ResetHint, RunCounts,
    SCHEMA_CUSTOM, SCHEMA_MAX, SCHEMA_MAX_RESERVED, SCHEMA_MIN, Side, Span,
};
pub use model::interval::Interval;
pub use model::labels::{Label, Labels, METRIC_NAME};
pub use model::matcher::{MAX_REGEX_SIZE, MatchOp, Matcher};
pub use model::metadata::{
    FamilyMetadata, MAX_METADATA_HELP_BYTES, MAX_METADATA_METRICS, MAX_METADATA_NAME_BYTES,
    MAX_METADATA_PER_METRIC, Metadata, MetadataOutcome, MetadataRead, MetadataReject, MetricType,
};
pub use model::outcome::{RejectReason, WriteOutcome};
pub use model::records::{
    LogRecord, Scope, SpanEvent, SpanId, SpanLink, SpanRecord, TraceId, parse_id,
};
pub use model::retention_filter::{FilterTarget, RetentionFilter};
pub use model::sample::{Sample, SeriesData, SeriesHistograms, SeriesSamples};
pub use model::series::SeriesId;
pub use model::signal_outcome::{SignalOutcome, SignalReject, Truncation};
pub use model::stats::{HeadMemory, TenantStats};
pub use spans_logs::logs::arrow::{logs_from_batch, logs_schema};
pub use spans_logs::logs::summary::{
    BLOCK_ROWS, LineFilter, LogSummary, NS_PER_SECOND, SecondCount, SummaryGroup, second_of,
};
pub use spans_logs::read::{SignalSnapshot, TraceLookupStats};
pub use spans_logs::spans::arrow::{spans_from_batch, spans_schema};
pub use spans_logs::spans::columns::{KnownType, span_attribute_column};
pub use spans_logs::spans::search::SpanSearch;
pub use spans_logs::spans::summary::{
    AttrScope, AttrTest, CmpOp, Number, SpanSummary, SpanTest, StrTest,
};
pub use storage::remote::{ReaderStats, RemoteStats};
pub use storage::retention::RetentionStats;
pub use storage::snapshot_file::SnapshotFile;
pub use storage::tier_file::tier_schema;
pub use telemetry::DownsampleStats;
pub use telemetry::{DiskUsage, EngineTelemetry};
pub use tenant::{MAX_TENANT_LEN, TenantId};
pub use wal_records::pending::PendingWrite;

#[doc(hidden)]
pub use spans_logs::{flush_stages, record_memory};
