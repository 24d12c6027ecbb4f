//! Prometheus's HTTP API (`/api/v1/...`) over the engine, independent of any web framework.
//!
//! [`PromApi`] has one method per endpoint: `query`, `query_range`, `series`, `labels`,
//! `label_values`, `metadata`, `buildinfo` and `query_exemplars` (`exemplars.rs`); the TSDB admin endpoints `snapshot` and
//! `delete_series`, and Strata's `delete_records` (`admin.rs`). Each takes the request's
//! parameters as (name, value) pairs, the query string and a form-encoded body merged by
//! the caller, and
//! returns a [`Response`]: the HTTP status and the JSON body, byte-compatible with
//! Prometheus 3's. Parameters are parsed with Prometheus's rules and errors are worded as
//! Prometheus words them, with its `errorType` and status: `bad_data` 400, `execution` 422,
//! `timeout` and `canceled` 503, `internal` 500 ([`ApiError`]).
//!
//! The number formats follow Prometheus's encoders exactly: sample timestamps as seconds
//! with three decimals when not whole (`1700000000.500`), sample values as strings in Go's
//! shortest format (`"1.5"`, `"NaN"`, `"+Inf"`, `"1e+21"`), scalars as
//! `[1700000000.5,"1"]`. See `docs/prometheus-api.md` for the endpoints and the few
//! differences from Prometheus.
//!
//! ```
//! use strata_engine::{Engine, EngineConfig, ManualClock, Sample, SeriesSamples, TenantId};
//! use strata_query::prom_api::PromApi;
//!
//! let dir = tempfile::tempdir()?;
//! let now = 1_700_000_000_000;
//! let engine = Engine::open_with_clock(dir.path(), EngineConfig::default(), ManualClock::new(now))?;
//! let tenant = TenantId::new("acme")?;
//! let up = SeriesSamples {
//!     labels: vec![("__name__".into(), "up".into()), ("job".into(), "api".into())],
//!     samples: vec![Sample { ts: now - 10_000, value: 1.0 }],
//! };
//! engine.write(&tenant, &[up])?;
//!
//! let api = PromApi::default();
//! let params = vec![("query".to_string(), "up".to_string())];
//! let resp = api.query(&engine, &tenant, &params, now + 500);
//! assert_eq!(resp.status, 200);
//! assert_eq!(
//!     resp.body_text(),
//!     r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"api"},"value":[1700000000.500,"1"]}]}}"#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod admin;
mod endpoints;
mod error;
mod exemplars;
mod json;
mod params;
mod response;

pub use endpoints::{BuildInfo, PromApi};
pub use error::{ApiError, Result};
pub use params::{MAX_TIME_MS, MIN_TIME_MS, parse_duration, series_selectors, time_window};
pub use response::{Response, query_data_json};
