//! strata-server: the `strata` binary's library half.
//!
//! It owns the network surface: configuration ([`Config`]: TOML file, `STRATA_*`
//! environment, flags), bearer-token auth and tenancy ([`Auth`], the [`ReadTenant`] and
//! [`WriteTenant`] extractors), the HTTP router (health, self-metrics, Prometheus
//! remote-write, OTLP, the Prometheus API, SQL) and the gRPC listener, graceful shutdown,
//! and the offline `promql` and `sql` commands.
//! It does not own storage (strata-engine) or query evaluation (strata-query).
//!
//! ```
//! use strata_server::{Config, Overrides};
//!
//! let config = Config::from_toml(r#"
//!     data_dir = "/var/lib/strata"
//!     [retention]
//!     metrics = "90d"
//!     [limits.tenants.acme]
//!     max_active_series = 1000
//! "#)?;
//! assert_eq!(config.engine.limits.metrics_retention.as_secs(), 90 * 86_400);
//! assert_eq!(config.engine.tenant_limits["acme"].max_active_series, 1000);
//! assert!(Config::from_toml("[server]\nhttp_adr = \"x\"").unwrap_err().to_string().contains("http_adr"));
//! # let _ = Overrides::default();
//! # Ok::<(), strata_server::Error>(())
//! ```

pub mod allocator;
mod api_error;
mod auth;
mod cli;
mod config;
pub mod decoders;
mod error;
mod grpc;
mod http;
pub mod inflight;
mod jaeger;
mod log_search;
mod metrics;
mod offline;
mod otlp;
mod otlp_ingest;
mod params;
mod prom_routes;
mod promql_cmd;
pub mod remote_write;
mod serve;
mod sql_api;
mod sql_cmd;
mod sql_output;
mod state;
#[cfg(test)]
mod test_rng;
mod utf8;

pub use api_error::ApiError;
pub use auth::{Auth, AuthError, ReadTenant, Scope, TENANT_HEADER, TokenConfig, WriteTenant};
pub use cli::{Cli, Command, ConfigArgs, OutputFormat, PromqlArgs, ServeArgs, SqlArgs};
pub use config::{
    Config, DEFAULT_DATA_DIR, DEFAULT_FSYNC_INTERVAL, DEFAULT_GRPC_ADDR, DEFAULT_HTTP_ADDR,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_INFLIGHT_BYTES, DEFAULT_SQL_MAX_RESULT_BYTES, Overrides,
    SqlSettings,
};
pub use error::{Error, Result};
pub use grpc::routes as grpc_routes;
pub use http::router as http_router;
pub use metrics::{Metrics, Signal};
pub use params::request_params;
pub use promql_cmd::run as run_promql;
pub use serve::run as run_server;
pub use sql_cmd::run as run_sql;
pub use state::{AppState, RETRY_AFTER_SECS};
