//! The configuration on the command line: `--config` and the flags (each with its
//! `STRATA_*` environment variable) that override the file's most used keys. Flags win over
//! the environment, which wins over the file (`docs/configuration.md`).

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;

use super::resolve::Overrides;
use super::{Config, LogFormat, Role};
use crate::error::Result;

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
    /// The memory the whole process keeps under, e.g. 512MiB; every budget is a share of
    /// it [default: 0.75 of the container's memory limit, else of the machine's RAM].
    #[arg(long, env = "STRATA_MEMORY_LIMIT", value_parser = parse_memory_limit)]
    pub memory_limit: Option<u64>,
    /// WAL durability: fsync, interval or none [default: fsync].
    #[arg(long, env = "STRATA_WAL_DURABILITY")]
    pub wal_durability: Option<String>,
    /// How long metrics are kept, e.g. 30d [default: 30d].
    #[arg(long, env = "STRATA_RETENTION_METRICS")]
    pub retention_metrics: Option<String>,
    /// What this process is: the writer, a query process reading the writer's bucket
    /// (`[storage]`), or a worker (a query process that also runs parts of distributed SQL
    /// queries on its gRPC listener) [default: writer].
    #[arg(long, env = "STRATA_ROLE", value_enum)]
    pub role: Option<Role>,
}

impl ConfigArgs {
    /// Defaults < file < environment < flags, validated.
    pub fn load(&self) -> Result<Config> {
        Config::load(self.config.as_deref(), &self.overrides())
    }

    /// [`ConfigArgs::load`] with `log_format` (a flag of `strata serve` alone) over the
    /// file's `log.format`.
    pub(crate) fn load_with_log_format(&self, log_format: Option<LogFormat>) -> Result<Config> {
        let overrides = Overrides {
            log_format,
            ..self.overrides()
        };
        Config::load(self.config.as_deref(), &overrides)
    }

    /// The keys these flags (and their environment variables) set.
    fn overrides(&self) -> Overrides {
        Overrides {
            data_dir: self.data_dir.clone(),
            http_addr: self.http_addr,
            grpc_addr: self.grpc_addr,
            max_body_bytes: self.max_body_bytes,
            max_inflight_bytes: self.max_inflight_bytes,
            wal_durability: self.wal_durability.clone(),
            retention_metrics: self.retention_metrics.clone(),
            memory_limit: self.memory_limit,
            log_format: None,
            role: self.role,
        }
    }
}

/// `--memory-limit`'s value: a size such as `512MiB`.
fn parse_memory_limit(text: &str) -> std::result::Result<u64, String> {
    crate::memory::parse_size(text)
}
