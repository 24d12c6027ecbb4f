//! strata-query: SQL and PromQL over the Strata engine, and the embedding handle.
//!
//! It owns the PromQL evaluator ([`promql`]: parsed by `promql-parser`, evaluated here with
//! Prometheus 3.x semantics, reading series through [`promql::SeriesSource`]), the
//! per-tenant DataFusion catalog ([`sql`]: tables `samples`, `series`, `metrics`, `spans`
//! and `logs` over the engine's Parquet partitions and memory), and [`Strata`], the one handle an embedding
//! program uses. It does not own storage layout (the engine's) or the network (the
//! server's). [`prom_api`] renders PromQL and label lookups as Prometheus's HTTP API JSON,
//! for the server to route requests to.
//!
//! ```
//! use strata_engine::{Clock, Sample, SeriesSamples, SystemClock, TenantId};
//! use strata_query::promql::Value;
//! use strata_query::{Strata, StrataConfig};
//!
//! let dir = tempfile::tempdir()?;
//! let db = Strata::open(dir.path(), StrataConfig::default())?;
//! let acme = TenantId::new("acme")?;
//! let now = SystemClock.now_ms();
//! let up = |job: &str, v: f64| SeriesSamples {
//!     labels: vec![("__name__".into(), "up".into()), ("job".into(), job.into())],
//!     samples: vec![Sample { ts: now - 1_000, value: v }],
//! };
//! db.write(&acme, &[up("api", 1.0), up("db", 0.0)])?; // visible to the next query
//!
//! let res = db.promql_instant(&acme, "sum(up)", now)?;
//! let Value::Vector(v) = res.value else { panic!("a vector") };
//! assert_eq!(v[0].value, 1.0);
//!
//! let sql = "SELECT labels['job'] AS job, value FROM metrics WHERE metric = 'up' ORDER BY job";
//! let batches = db.sql(&acme, sql)?;
//! assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod go;
pub mod logql;
pub mod memory;
pub mod prom_api;
pub mod promql;
pub mod sql;
mod strata;
pub mod traceql;

pub use strata::{Error, Result, Strata, StrataConfig};
