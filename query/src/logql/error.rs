//! Errors of LogQL queries. Everything but [`Error::Internal`] and storage failures is the
//! client's (the server answers 400, as Loki does).

use super::parser::ParseError;

/// A LogQL query that could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The query does not parse (with the position).
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// The query parses but cannot be evaluated as written (a bad regex or template, a
    /// pipeline error left in a metric query, many-to-many matching ...).
    #[error("{0}")]
    Query(String),
    /// Over a configured limit (Loki's wording).
    #[error("{0}")]
    Limit(String),
    /// The SQL scan failed: timeout, memory budget, storage.
    #[error(transparent)]
    Sql(#[from] crate::sql::Error),
    /// A broken invariant.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Whether the client is to blame (400), rather than the server.
    pub fn is_client_error(&self) -> bool {
        matches!(self, Self::Parse(_) | Self::Query(_) | Self::Limit(_))
    }
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;
