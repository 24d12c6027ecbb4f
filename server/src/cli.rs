//! The `strata` command line. Every config key set by a flag can also be set by its
//! `STRATA_*` environment variable; flags win over the environment, which wins over the
//! config file (`docs/configuration.md`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::{Config, Overrides};

/// Strata: an embedded columnar telemetry store.
#[derive(Debug, Parser)]
#[command(name = "strata", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands of `strata`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server on a data directory (default ./strata-data, HTTP on 127.0.0.1:4318,
    /// OTLP gRPC on 127.0.0.1:4317).
    Serve(ServeArgs),
    /// Run a PromQL query (instant, or range with --start) on a data directory, offline.
    Promql(PromqlArgs),
    /// Run a read-only SQL query (DataFusion) on a data directory, offline.
    Sql(SqlArgs),
    /// Load and validate the configuration, print a summary, and exit.
    CheckConfig(ConfigArgs),
    /// Print the version and exit.
    Version,
}

/// The configuration: a file and the overrides of its most used keys.
#[derive(Debug, Clone, Args)]
pub struct ConfigArgs {
    /// TOML config file (see docs/configuration.md). Without one, the defaults.
    #[arg(long, env = "STRATA_CONFIG")]
    pub config: Option<PathBuf>,
    /// Directory holding the WAL and the partitions [default: ./strata-data].
    #[arg(long, env = "STRATA_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address of the HTTP listener [default: 127.0.0.1:4318]; port 0 picks a free port.
    #[arg(long, env = "STRATA_HTTP_ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// Address of the OTLP gRPC listener [default: 127.0.0.1:4317].
    #[arg(long, env = "STRATA_GRPC_ADDR")]
    pub grpc_addr: Option<SocketAddr>,
    /// Largest request body, as sent and once decompressed [default: 67108864].
    #[arg(long, env = "STRATA_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<u64>,
    /// Estimated memory the ingest requests in progress may hold together; a request
    /// that does not fit waits up to 5 s, then gets 503 [default: 268435456].
    #[arg(long, env = "STRATA_MAX_INFLIGHT_BYTES")]
    pub max_inflight_bytes: Option<u64>,
    /// WAL durability: fsync, interval or none [default: fsync].
    #[arg(long, env = "STRATA_WAL_DURABILITY")]
    pub wal_durability: Option<String>,
    /// How long metrics are kept, e.g. 30d [default: 30d].
    #[arg(long, env = "STRATA_RETENTION_METRICS")]
    pub retention_metrics: Option<String>,
}

impl ConfigArgs {
    /// Defaults < file < environment < flags, validated.
    pub fn load(&self) -> crate::Result<Config> {
        let overrides = Overrides {
            data_dir: self.data_dir.clone(),
            http_addr: self.http_addr,
            grpc_addr: self.grpc_addr,
            max_body_bytes: self.max_body_bytes,
            max_inflight_bytes: self.max_inflight_bytes,
            wal_durability: self.wal_durability.clone(),
            retention_metrics: self.retention_metrics.clone(),
        };
        Config::load(self.config.as_deref(), &overrides)
    }
}

/// Flags of `strata serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The configuration.
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// How query results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns.
    Table,
    /// Comma-separated values with a header line.
    Csv,
    /// JSON: for `promql` the Prometheus API's `data` object, for `sql` an array of one
    /// object per row.
    Json,
}

/// Flags of `strata promql`.
#[derive(Debug, Args)]
pub struct PromqlArgs {
    /// The configuration (the data directory, and the limits and retention it is opened with).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Tenant to query.
    #[arg(long, default_value = "default")]
    pub tenant: String,
    /// Evaluation time of an instant query: RFC 3339 or Unix seconds [default: now].
    #[arg(long, conflicts_with = "start")]
    pub time: Option<String>,
    /// Start of a range query: RFC 3339 or Unix seconds.
    #[arg(long, requires = "end")]
    pub start: Option<String>,
    /// End of a range query.
    #[arg(long, requires = "start")]
    pub end: Option<String>,
    /// Step of a range query: a duration (15s, 1m) or seconds.
    #[arg(long, default_value = "15s")]
    pub step: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// The PromQL expression.
    pub query: String,
}

/// Flags of `strata sql`.
#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The configuration (the data directory, and the `[sql]` memory budget and timeout).
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Tenant to query.
    #[arg(long, default_value = "default")]
    pub tenant: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    pub format: OutputFormat,
    /// The query, e.g. "SELECT metric, ts, value FROM metrics LIMIT 10" (tables: docs/sql.md).
    pub query: String,
}
