//! Errors of SQL planning and execution.

use std::time::Duration;

use datafusion::error::DataFusionError;

use crate::memory::SessionChargeError;

/// Why a SQL query failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The query does not parse, names an unknown table or column, or cannot be planned
    /// (a client error).
    #[error("sql: {0}")]
    Plan(String),
    /// The query needed more memory than its share of the query memory pool (at most
    /// `sql.memory_pool_bytes`) allows, and what could spill could not.
    #[error(
        "sql: query exceeded its memory budget of {budget} bytes (its share of the query memory pool; raise server.memory_limit or server.query_memory_bytes, or ask for less): {message}"
    )]
    OverMemoryBudget {
        /// The configured budget.
        budget: usize,
        /// DataFusion's account of which operator asked for how much.
        message: String,
    },
    /// The query ran longer than `sql.timeout`.
    #[error("sql: query timed out after {0:?}")]
    Timeout(Duration),
    /// A worker the query was spread over (`[cluster] workers`) could not be reached or
    /// went away mid-query: no answer, try again once it is back.
    #[error("sql: a worker is unavailable: {0}")]
    WorkerUnavailable(String),
    /// Execution failed (a server error).
    #[error("sql: {0}")]
    Execution(String),
    /// The storage under the query failed.
    #[error("sql: storage: {0}")]
    Storage(#[from] strata_engine::Error),
    /// A setting is invalid.
    #[error("invalid setting {key}: {reason}")]
    Config {
        /// The setting's name.
        key: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

/// Result of SQL operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Classifies a DataFusion error; `budget` is the memory budget of the query.
    pub(crate) fn from_datafusion(e: DataFusionError, budget: usize) -> Self {
        match e.find_root() {
            DataFusionError::ResourcesExhausted(message) => Self::OverMemoryBudget {
                budget,
                message: message.clone(),
            },
            DataFusionError::SQL(..)
            | DataFusionError::Plan(..)
            | DataFusionError::SchemaError(..)
            | DataFusionError::NotImplemented(..) => Self::Plan(e.to_string()),
            root if unreachable_worker(root) => Self::WorkerUnavailable(e.to_string()),
            _ => Self::Execution(e.to_string()),
        }
    }
}

/// A session charge of a LogQL or TraceQL query refused, as a SQL query over its budget
/// fails.
impl From<SessionChargeError> for Error {
    fn from(e: SessionChargeError) -> Self {
        Self::from_datafusion(e.error, e.share)
    }
}

/// Whether `root` (the innermost error) says a worker could not be reached:
/// `datafusion-distributed` fails a first connection with one of its messages, a call over
/// a connection that went away with gRPC's `UNAVAILABLE`, and a stream cut while a worker
/// died with `UNKNOWN`, `CANCELLED` or `INTERNAL` naming the broken connection in its
/// message or in the transport error beneath it (`operation was canceled`, caused by
/// hyper's `connection closed`).
fn unreachable_worker(root: &DataFusionError) -> bool {
    const CUT: [&str; 6] = [
        "transport error",
        "connection reset",
        "broken pipe",
        "h2 protocol error",
        "connection closed",
        "stream closed",
    ];
    match root {
        DataFusionError::External(inner) => {
            inner.downcast_ref::<tonic::Status>().is_some_and(|s| {
                use tonic::Code;
                let mut message = s.message().to_ascii_lowercase();
                let mut cause = std::error::Error::source(s);
                while let Some(e) = cause {
                    message.push_str(&format!(" {e} {e:?}").to_ascii_lowercase());
                    cause = e.source();
                }
                s.code() == Code::Unavailable
                    || (matches!(s.code(), Code::Unknown | Code::Cancelled | Code::Internal)
                        && CUT.iter().any(|c| message.contains(c)))
            })
        }
        DataFusionError::Execution(m) => {
            m.starts_with("Error connecting to Distributed DataFusion worker")
                || m.starts_with("Error waiting for Distributed DataFusion channel")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn external(s: tonic::Status) -> DataFusionError {
        DataFusionError::External(Box::new(s))
    }

    #[test]
    fn a_stream_cut_by_a_dying_worker_is_a_worker_failure() {
        let cut = |code, message: &str, source: Option<&str>| {
            let mut s = tonic::Status::new(code, message);
            if let Some(why) = source {
                let io =
                    std::io::Error::new(std::io::ErrorKind::ConnectionAborted, why.to_string());
                s.set_source(Arc::new(io));
            }
            unreachable_worker(&external(s))
        };
        use tonic::Code;
        assert!(cut(Code::Unavailable, "gone", None));
        assert!(cut(
            Code::Internal,
            "h2 protocol error: stream closed",
            None
        ));
        // The message says nothing; the transport error beneath it does.
        assert!(cut(
            Code::Cancelled,
            "operation was canceled",
            Some("connection closed")
        ));
        // A cancel with no broken connection, and other failures, are not.
        assert!(!cut(Code::Cancelled, "operation was canceled", None));
        assert!(!cut(
            Code::Cancelled,
            "operation was canceled",
            Some("deadline")
        ));
        assert!(!cut(
            Code::InvalidArgument,
            "bad plan",
            Some("connection closed")
        ));
        let e = Error::from_datafusion(external(tonic::Status::unavailable("x")), 1);
        assert!(matches!(e, Error::WorkerUnavailable(_)), "{e:?}");
    }
}
