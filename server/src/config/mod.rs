//! Server configuration: one TOML file, overridden by `STRATA_*` environment variables and
//! then by flags (defaults < file < environment < flags). Every key is documented in
//! `docs/configuration.md`.
//!
//! [`Config`] is the resolved result; `file.rs` is the TOML as written, [`resolve`] turns
//! it and the [`resolve::Overrides`] into a `Config`, [`args`] holds the flags (and their
//! environment variables) and [`tokens`] the `[[auth.tokens]]`.

pub(crate) mod args;
pub(crate) mod derive;
mod file;
mod filters;
pub(crate) mod memory;
pub(crate) mod relabel;
pub(crate) mod resolve;
pub(crate) mod rules;
pub(crate) mod scrape;
mod storage;
pub(crate) mod tempo;
pub(crate) mod tokens;
pub(crate) mod view;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use strata_engine::EngineConfig;
use strata_query::promql::QueryOptions;
use strata_query::sql::SqlConfig;

use self::tokens::TokenConfig;
use crate::error::{Error, Result};

/// Default HTTP listener address.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:4318";
/// Default OTLP gRPC listener address.
pub const DEFAULT_GRPC_ADDR: &str = "127.0.0.1:4317";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./strata-data";
/// Default largest request body, compressed or decompressed: 64 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 64 << 20;
/// Default ingest memory budget (`server.max_inflight_bytes`): 256 MiB.
pub const DEFAULT_MAX_INFLIGHT_BYTES: u64 = 256 << 20;
/// Default largest serialized SQL result: 64 MiB.
pub const DEFAULT_SQL_MAX_RESULT_BYTES: u64 = 64 << 20;
/// Default fsync period of `durability = "interval"`.
pub const DEFAULT_FSYNC_INTERVAL: Duration = Duration::from_millis(100);

/// The server's resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Directory holding the WAL and the partitions.
    pub data_dir: PathBuf,
    /// HTTP listener (OTLP/HTTP, remote-write, query APIs, health, self-metrics).
    pub http_addr: SocketAddr,
    /// OTLP gRPC listener.
    pub grpc_addr: SocketAddr,
    /// Largest request body accepted, both as sent and after decompression.
    pub max_body_bytes: u64,
    /// Estimated memory the ingest requests in progress may hold together
    /// (`runtime/inflight.rs`).
    pub max_inflight_bytes: u64,
    /// The storage engine's configuration (WAL durability, limits, retention of every
    /// signal).
    pub engine: EngineConfig,
    /// Bearer tokens; none means auth is off.
    pub tokens: Vec<TokenConfig>,
    /// SQL queries (`/api/v1/sql`, `strata sql`): memory, time and result size.
    pub sql: SqlSettings,
    /// PromQL evaluation (`/api/v1/query*`, `strata promql`): the `[promql]` section sets
    /// `delayed_name_removal`; the rest keeps [`QueryOptions`]'s defaults.
    pub promql: QueryOptions,
    /// LogQL queries (`/loki/api/v1/*`): the `[logql]` section's limits.
    pub logql: LogqlSettings,
    /// The Tempo API (`/api/search`, `/api/metrics/*`): the `[tempo]` section's limits.
    pub tempo: tempo::TempoSettings,
    /// `[[retention.filters]]`: series kept shorter than the metrics retention, set on the
    /// engine once it is open.
    pub retention_filters: Vec<strata_engine::RetentionFilter>,
    /// How `strata serve` writes its log lines to stderr.
    pub log_format: LogFormat,
    /// What this process is (`[cluster] role`, `--role`): the writer, a query process
    /// reading the writer's bucket, or a worker.
    pub role: Role,
    /// `[server.tls]`: serve both listeners over TLS with this certificate and key.
    pub tls: Option<TlsFiles>,
    /// `[rules]` and `[alerting]`: rule files per tenant, and where alerts go.
    pub rules: rules::RulesSettings,
    /// `[relabel]`: ingest-time rules over metric series and span and log attributes.
    pub relabel: crate::relabel::RelabelSettings,
    /// `[scrape]`: the Prometheus configuration files each tenant scrapes.
    pub scrape: scrape::ScrapeSettings,
    /// `[otlp]`: how OTLP metrics map onto series.
    pub otlp: OtlpSettings,
    /// `[derived]`: RED metrics and the service graph computed from spans.
    pub derived: derive::DerivedSettings,
    /// What the configuration says of memory: `server.memory_limit`, the budgets set
    /// explicitly, `server.max_concurrent_queries` ([`Config::plan_memory`] divides the rest).
    pub memory_settings: memory::MemorySettings,
    /// The memory limit and its division into the budgets above (set by
    /// [`Config::plan_memory`], which [`Config::load`] calls).
    pub memory: crate::memory::MemoryPlan,
    /// How long a query waits for a turn when `max_concurrent_queries` run
    /// (`server.query_queue_timeout`): then 503 with Retry-After.
    pub query_queue_timeout: Duration,
    /// The pool rule evaluations take their memory from (`server.rules_memory_bytes`).
    pub rules_memory: strata_query::memory::QueryMemory,
    /// The configuration file as written (parsed), the base of the view
    /// `/api/v1/status/config` shows with its secrets hidden (`view.rs`); `None` without a
    /// file.
    pub file: Option<toml::Table>,
}

/// The PEM files of the server's certificate chain and private key (`[server.tls]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// `self_signed = true`: the server makes its own certificate at first start and keeps
    /// it under the data directory (`crate::tls::self_signed`); the two paths below are
    /// then set when it starts.
    pub self_signed: bool,
    /// The certificate, then any intermediates.
    pub cert_file: PathBuf,
    /// Its private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
    /// The CA certificates client certificates must chain to (mutual TLS); `None`: clients
    /// present none.
    pub client_ca_file: Option<PathBuf>,
}

/// What a process is in a deployment over object storage (`docs/scale-out.md`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Role {
    /// Takes writes and, with `[storage] backend = "s3"`, mirrors them to the bucket.
    #[default]
    Writer,
    /// Reads the bucket `[storage]` names, read-only: answers queries, refuses writes.
    Query,
    /// A query process that also runs the parts of distributed SQL queries that query
    /// processes send it (`[cluster] workers`), on its gRPC listener.
    Worker,
}

impl Role {
    /// `writer` or `query`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Writer => "writer",
            Self::Query => "query",
            Self::Worker => "worker",
        }
    }

    /// Whether this process reads a bucket (a query process or a worker).
    pub fn reads_bucket(self) -> bool {
        matches!(self, Self::Query | Self::Worker)
    }
}

/// How `strata serve` writes its log lines to stderr (`log.format`, `STRATA_LOG_FORMAT`,
/// `--log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// A line of text per event, coloured only when stderr is a terminal.
    #[default]
    Text,
    /// A JSON object per line, for log shippers: `timestamp`, `level`, `target`,
    /// `message` and the event's own fields.
    Json,
}

impl LogFormat {
    /// `text` or `json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }
}

/// The `[otlp]` section.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OtlpSettings {
    /// `convert_histograms_to_nhcb`: explicit-bucket histograms stored as native
    /// histograms with custom buckets (Prometheus's option of that name).
    pub convert_histograms_to_nhcb: bool,
    /// `delta_to_cumulative`: delta sums and histograms taken, made cumulative per series
    /// in memory (Prometheus 3's `otlp-deltatocumulative`).
    pub delta_to_cumulative: bool,
}

/// The `[sql]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlSettings {
    /// Largest serialized result `/api/v1/sql` answers (422 beyond it); `strata sql` prints
    /// any size.
    pub max_result_bytes: u64,
    /// Memory budget and timeout of one query and the footer cache's size
    /// (`memory_pool_bytes`, `timeout`, `metadata_cache_bytes`), and the workers its scans
    /// are spread over (`[cluster] workers`, `bytes_per_partition`); the rest keeps
    /// [`SqlConfig`]'s defaults.
    pub query: SqlConfig,
    /// Whether `sql.memory_pool_bytes` was set (it then lowers SQL's share of the query
    /// pool; otherwise a SQL query gets the whole per-query share).
    pub pool_explicit: bool,
    /// What SQL queries may spill to `<data_dir>/spill`, all together (`sql.max_spill_bytes`;
    /// 0: nothing spills, a query over its share fails).
    pub max_spill_bytes: u64,
}

impl Default for SqlSettings {
    fn default() -> Self {
        Self {
            max_result_bytes: DEFAULT_SQL_MAX_RESULT_BYTES,
            query: SqlConfig::default(),
            pool_explicit: false,
            max_spill_bytes: memory::DEFAULT_MAX_SPILL_BYTES,
        }
    }
}

/// The `[logql]` section: bounds on one LogQL query (Loki's names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogqlSettings {
    /// `max_query_length`: the longest `end - start` a query may ask for (Loki's default
    /// 721h).
    pub max_query_length: std::time::Duration,
    /// `max_entries_limit_per_query`: the largest `limit` a log query may ask for
    /// (Loki's default 5,000).
    pub max_entries_limit_per_query: usize,
    /// `max_query_series` (default 500) and `max_query_bytes_read` (default 0: none).
    pub limits: strata_query::logql::Limits,
}

impl Default for LogqlSettings {
    fn default() -> Self {
        Self {
            max_query_length: std::time::Duration::from_secs(721 * 3_600),
            max_entries_limit_per_query: 5_000,
            limits: strata_query::logql::Limits::default(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            http_addr: parse_default(DEFAULT_HTTP_ADDR),
            grpc_addr: parse_default(DEFAULT_GRPC_ADDR),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_inflight_bytes: DEFAULT_MAX_INFLIGHT_BYTES,
            engine: EngineConfig::default(),
            tokens: Vec::new(),
            sql: SqlSettings::default(),
            promql: QueryOptions::default(),
            logql: LogqlSettings::default(),
            tempo: tempo::TempoSettings::default(),
            retention_filters: Vec::new(),
            log_format: LogFormat::default(),
            role: Role::default(),
            tls: None,
            rules: rules::RulesSettings::default(),
            scrape: scrape::ScrapeSettings::default(),
            otlp: OtlpSettings::default(),
            relabel: crate::relabel::RelabelSettings::default(),
            derived: derive::DerivedSettings::default(),
            memory_settings: memory::MemorySettings::default(),
            memory: crate::memory::MemoryPlan::divide(
                crate::memory::plan::FALLBACK_LIMIT,
                crate::memory::plan::Source::Fallback,
                |_| None,
                None,
                2,
            ),
            query_queue_timeout: memory::DEFAULT_QUERY_QUEUE_TIMEOUT,
            rules_memory: strata_query::memory::QueryMemory::default(),
            file: None,
        }
    }
}

fn parse_default(addr: &str) -> SocketAddr {
    // The constants above are valid socket addresses; a test checks it.
    addr.parse()
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)))
}

impl Config {
    /// Rejects values that cannot work, naming the key.
    pub fn validate(&self) -> Result<()> {
        if self.max_body_bytes == 0 {
            return Err(Error::config("server.max_body_bytes", "must be at least 1"));
        }
        if self.max_inflight_bytes < 1 << 20 {
            return Err(Error::config(
                "server.max_inflight_bytes",
                "must be at least 1048576 (1 MiB)",
            ));
        }
        if self.http_addr == self.grpc_addr && self.http_addr.port() != 0 {
            return Err(Error::config(
                "server.grpc_addr",
                "must differ from server.http_addr",
            ));
        }
        self.engine.validate().map_err(|e| match e {
            strata_engine::Error::InvalidConfig { key, reason } => Error::config(key, reason),
            other => Error::config("limits", other.to_string()),
        })?;
        if self.sql.max_result_bytes == 0 {
            return Err(Error::config("sql.max_result_bytes", "must be at least 1"));
        }
        self.sql.query.validate().map_err(|e| match e {
            strata_query::sql::Error::Config { key, reason } => Error::config(key, reason),
            other => Error::config("sql", other.to_string()),
        })?;
        if self.logql.max_entries_limit_per_query == 0 {
            return Err(Error::config(
                "logql.max_entries_limit_per_query",
                "must be at least 1",
            ));
        }
        if self.logql.limits.max_query_series == 0 {
            return Err(Error::config(
                "logql.max_query_series",
                "must be at least 1",
            ));
        }
        if self.logql.max_query_length.is_zero() {
            return Err(Error::config("logql.max_query_length", "must be positive"));
        }
        for (i, token) in self.tokens.iter().enumerate() {
            token.checked(i)?;
        }
        Ok(())
    }

    /// The effective configuration as `strata check-config` prints it: every key of the
    /// file's schema with its value in force (the file's, the environment's, the flags' or
    /// the default), as TOML with secrets hidden, then the keys that have no value.
    pub fn effective_text(&self) -> String {
        view::effective_text(self)
    }

    /// Per-tenant limit overrides by tenant id (for `check-config`'s summary).
    pub fn tenant_overrides(&self) -> &BTreeMap<String, strata_engine::Limits> {
        &self.engine.tenant_limits
    }
}

/// The config file at `path`, read again, with only its sections `keys` (a reload of
/// those: the others are checked at start and ignored here).
pub(crate) fn sections_of(path: &std::path::Path, keys: &[&str]) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadConfig {
        path: path.to_owned(),
        source,
    })?;
    let table: toml::Table =
        toml::from_str(&text).map_err(|e| Error::config("", e.to_string()).in_file(path))?;
    Ok(table
        .into_iter()
        .filter(|(k, _)| keys.contains(&k.as_str()))
        .collect())
}

/// Parses a duration such as `90m`, `7d`, `100ms` or `36500d`.
pub(crate) fn parse_duration(key: &str, text: &str) -> Result<Duration> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        Error::config(
            key,
            format!("{text:?} is not a duration like \"90m\" or \"7d\": {e}"),
        )
    })
}

#[cfg(test)]
mod keys_tests;
#[cfg(test)]
mod tests;
