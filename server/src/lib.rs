//! strata-server: the `strata` binary's library half.
//!
//! It owns the network surface: configuration ([`Config`]: TOML file, `STRATA_*`
//! environment, flags), bearer-token auth and tenancy ([`Auth`], the [`ReadTenant`] and
//! [`WriteTenant`] extractors), the HTTP router (health, self-metrics, Prometheus
//! remote-write, OTLP, Loki's push, the Prometheus API, SQL) and the gRPC listener,
//! graceful shutdown, and the offline `promql` and `sql` commands.
//! It does not own storage (strata-engine) or query evaluation (strata-query).
//!
//! Its folders, bottom up: each imports only from those above it in this list, and from
//! `error.rs` (the crate's error types), which imports nothing of the crate.
//!
//! - `config/`: the configuration: the TOML file, flags and environment, the tokens.
//! - `http/`: what a handler answers and takes: [`ApiError`] (also as a gRPC status),
//!   request parameters.
//! - `auth/`: bearer tokens to tenants; the [`ReadTenant`] and [`WriteTenant`] extractors.
//! - `runtime/`: the running server: the handles handlers take (ingest, queries, body
//!   limits) and [`AppState`], the router's state that bundles them; the ingest memory
//!   budget ([`inflight`]), the self-metrics, the [`allocator`].
//! - `ingest/`: remote-write, OTLP (HTTP and gRPC) and Loki's push into the engine;
//!   [`decoders`].
//! - `api/`: the Prometheus, SQL, Jaeger and log search APIs (it and `ingest/` do not
//!   import each other).
//! - `console/`: the built-in console's HTML, CSS and JavaScript, embedded and served at `/`.
//! - `scrape/`: the built-in scraper (Prometheus `scrape_configs`) and `/api/v1/targets`.
//! - `offline/`: `strata sql` and `strata promql` on a data directory; `migrate/`: `strata
//!   import` into a running server.
//!
//! On top: `router.rs` (which handler answers which path), `serve.rs` (`strata serve`),
//! `cli.rs` (the command line), this file and `main.rs`.
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

mod api;
mod auth;
mod cli;
mod config;
mod console;
mod derive;
mod error;
mod http;
mod ingest;
pub mod memory;
mod migrate;
mod offline;
pub mod relabel;
mod router;
pub mod rules;
mod runtime;
mod scrape;
mod serve;
mod tls;

pub use auth::{
    AdminReach, AdminTenant, Auth, AuthError, ReadTenant, ServerAdmin, TENANT_HEADER, WriteTenant,
};
pub use cli::{Cli, Command, RulesCheckArgs, RulesCommand, ServeArgs};
pub use config::args::ConfigArgs;
pub use config::resolve::Overrides;
pub use config::rules::{AlertingSettings, RulesSettings, TenantRules, WebhookSettings};
pub use config::tokens::{Scope, TokenConfig};
pub use config::{
    Config, DEFAULT_DATA_DIR, DEFAULT_FSYNC_INTERVAL, DEFAULT_GRPC_ADDR, DEFAULT_HTTP_ADDR,
    DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_INFLIGHT_BYTES, DEFAULT_SQL_MAX_RESULT_BYTES, LogFormat,
    Role, SqlSettings,
};
pub use error::{Error, Result};
pub use http::error::{ApiError, RETRY_AFTER_SECS};
pub use http::params::request_params;
pub use ingest::otlp::grpc::routes as grpc_routes;
pub use ingest::{decoders, remote_write};
pub use migrate::ImportArgs;
pub use offline::OutputFormat;
pub use offline::promql::{PromqlArgs, run as run_promql};
pub use offline::sql::{SqlArgs, run as run_sql};
pub use router::router as http_router;
pub use runtime::self_metrics::rules::{Delivery, RuleMetrics};
pub use runtime::self_metrics::{Metrics, Signal};
pub use runtime::state::AppState;
pub use runtime::{allocator, inflight};
pub use serve::run as run_server;
