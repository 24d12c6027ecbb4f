//! The `strata` command line: its subcommands, each with the flags it owns (the
//! configuration's in `config/args.rs`, the offline queries' in `offline/`). Every config
//! key set by a flag can also be set by its `STRATA_*` environment variable; flags win over
//! the environment, which wins over the config file (`docs/configuration.md`).

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::config::LogFormat;
use crate::config::args::ConfigArgs;
use crate::error::Result;
use crate::offline::promql::PromqlArgs;
use crate::offline::sql::SqlArgs;

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

/// Flags of `strata serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The configuration.
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Log lines on stderr: text (coloured only on a terminal) or json (one object per
    /// line) [default: text].
    #[arg(long, env = "STRATA_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
}

impl ServeArgs {
    /// The configuration, as [`ConfigArgs::load`] gives it, with `--log-format` over the
    /// file's `log.format`.
    pub fn load(&self) -> Result<Config> {
        self.config.load_with_log_format(self.log_format)
    }
}
