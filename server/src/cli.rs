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
    /// Work with rule files (Prometheus's format; Loki's for LogQL rules).
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Print the version and exit.
    Version,
}

/// `strata rules ...`.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Check rule files as `promtool check rules` does: every problem with its file and
    /// line; exit status 1 if any file has one.
    Check(RulesCheckArgs),
}

/// Flags of `strata rules check`.
#[derive(Debug, Args)]
pub struct RulesCheckArgs {
    /// The rule files.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
    /// The files hold LogQL rules (Loki's ruler format) instead of PromQL ones.
    #[arg(long)]
    pub logql: bool,
}

impl RulesCheckArgs {
    /// Checks every file, printing what it finds to `out`; fails if any file has a problem.
    pub fn run(&self, out: &mut impl std::io::Write) -> Result<()> {
        let lang = if self.logql {
            crate::rules::Lang::Logql
        } else {
            crate::rules::Lang::Promql
        };
        let mut failed = 0;
        for path in &self.files {
            writeln!(out, "Checking {}", path.display())?;
            match crate::rules::file::load(path, lang) {
                Ok(f) => {
                    let n: usize = f.groups.iter().map(|g| g.rules.len()).sum();
                    writeln!(out, "  SUCCESS: {n} rules found")?;
                }
                Err(e) => {
                    failed += 1;
                    writeln!(out, "  FAILED:")?;
                    for line in e.to_string().lines() {
                        writeln!(out, "{line}")?;
                    }
                }
            }
            writeln!(out)?;
        }
        if failed > 0 {
            return Err(crate::error::Error::Usage(format!(
                "{failed} of {} rule files have problems",
                self.files.len()
            )));
        }
        Ok(())
    }
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
