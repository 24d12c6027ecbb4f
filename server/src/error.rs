//! The server crate's error type: startup and command-line failures, and why a SQL result
//! could not be written ([`OutputError`], shared by `/api/v1/sql` and `strata sql`). Errors
//! answered to a client are `ApiError`s (`http/error.rs`) instead.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use arrow::error::ArrowError;

/// Everything that stops a `strata` command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration key with a value that cannot work (or a file that does not parse).
    #[error("config{}: {reason}", if key.is_empty() { String::new() } else { format!(" key {key}") })]
    Config {
        /// The key, dotted (`limits.tenants.acme.ingest_rate`); empty when the parser names it
        /// in `reason`.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The config file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A listener could not be bound.
    #[error("cannot listen on {addr} ({what}): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Which listener.
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The engine failed to open, write or close.
    #[error("engine on {}: {source}", dir.display())]
    Engine {
        /// The data directory.
        dir: PathBuf,
        /// The engine's error.
        #[source]
        source: strata_engine::Error,
    },
    /// A PromQL query failed.
    #[error("query: {0}")]
    Query(#[from] strata_query::promql::Error),
    /// A SQL query failed (its message names the kind: plan, budget, timeout, execution).
    #[error("{0}")]
    Sql(#[from] strata_query::sql::Error),
    /// A SQL result could not be printed in the asked format.
    #[error("{0}")]
    SqlOutput(#[from] OutputError),
    /// A bad argument to a subcommand.
    #[error("{0}")]
    Usage(String),
    /// The runtime or a server task failed.
    #[error("server: {0}")]
    Server(String),
    /// Writing the output failed.
    #[error("output: {0}")]
    Output(#[from] std::io::Error),
}

impl Error {
    pub(crate) fn config(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Config {
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// Names the file a config error came from.
    pub(crate) fn in_file(self, path: &Path) -> Self {
        match self {
            Self::Config { key, reason } => Self::Config {
                key,
                reason: format!("{reason} (in {})", path.display()),
            },
            other => other,
        }
    }
}

/// Why a SQL result could not be written (`api/sql/output.rs`): `/api/v1/sql` answers it
/// (422 or 500), `strata sql` ends with it ([`Error::SqlOutput`]).
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The serialized result grew past the limit.
    #[error(
        "the result is larger than {limit} bytes (sql.max_result_bytes); select fewer rows or columns (LIMIT, WHERE, aggregation)"
    )]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// An arrow writer failed (a type it cannot represent).
    #[error("cannot write the result as {format}: {source}")]
    Encode {
        /// `JSON`, `CSV` or `Arrow`.
        format: &'static str,
        /// The writer's error.
        #[source]
        source: ArrowError,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
