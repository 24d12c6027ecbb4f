//! strata-engine: the storage engine Strata is built around.
//!
//! It owns tenants and their limits, the series model (Prometheus's: a metric name and a
//! label set; samples are millisecond timestamps with f64 values), stable series ids, and
//! the write path: validate, apply limits, log to the write-ahead log ([`strata_wal`]),
//! apply to the in-memory head. On open it replays the WAL. It knows nothing of SQL, PromQL
//! or the network.
//!
//! Built so far (issue #3 is open): tenants, series ids with collision handling, the WAL
//! record, the head with the out-of-order and duplicate policy, label, series-count and
//! rate limits with per-tenant overrides, durable writes with exact outcomes, replay, and
//! reads by matchers. Not yet: flushing to Parquet partitions, compaction, retention,
//! memory backpressure.
//!
//! ```
//! use strata_engine::{Engine, EngineConfig, MatchOp, Matcher, Sample, SeriesSamples, TenantId};
//!
//! let dir = tempfile::tempdir()?;
//! let tenant = TenantId::new("acme")?;
//! let engine = Engine::open(dir.path(), EngineConfig::default())?;
//! let up = SeriesSamples {
//!     labels: vec![("__name__".into(), "up".into()), ("job".into(), "api".into())],
//!     samples: vec![Sample { ts: 1_000, value: 1.0 }, Sample { ts: 2_000, value: 0.0 }],
//! };
//! let outcome = engine.write(&tenant, &[up])?; // durable when this returns
//! assert_eq!(outcome.accepted, 2);
//! engine.close()?;
//!
//! let engine = Engine::open(dir.path(), EngineConfig::default())?; // replays the WAL
//! let job = Matcher::new("job", MatchOp::Equal, "api")?;
//! let series = engine.select(&tenant, &[job], 0, i64::MAX)?;
//! assert_eq!(series[0].samples.len(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod clock;
mod codec;
mod compact;
mod config;
mod engine;
mod error;
mod flush;
mod handle;
mod head;
mod index;
mod labels;
mod matcher;
mod outcome;
mod parquet_io;
mod partition;
mod scan;
mod series;
mod tenant;

pub use clock::{Clock, ManualClock, SystemClock};
pub use compact::CompactStats;
pub use config::{EngineConfig, Limits};
pub use engine::{Sample, SeriesData, SeriesSamples, TenantStats};
pub use error::{Error, Result};
pub use flush::{FlushStats, FlushStop};
pub use handle::Engine;
pub use labels::{Label, Labels, METRIC_NAME};
pub use matcher::{MAX_REGEX_SIZE, MatchOp, Matcher};
pub use outcome::{RejectReason, WriteOutcome};
pub use scan::ScanStats;
pub use series::SeriesId;
pub use tenant::{MAX_TENANT_LEN, TenantId};
