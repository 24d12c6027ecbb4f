//! Errors of TraceQL queries. [`Error::Parse`] and [`Error::Query`] are the client's (the
//! server answers 400, as Tempo does); the rest are the server's.

/// A TraceQL query that does not parse, with where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parse error at line {line}, col {col}: {message}")]
pub struct ParseError {
    /// Byte offset into the query text.
    pub offset: usize,
    /// Line, from 1.
    pub line: usize,
    /// Column (in characters), from 1.
    pub col: usize,
    /// What was expected or is wrong.
    pub message: String,
}

impl ParseError {
    /// An error at byte `offset` of `text`, its line and column computed.
    pub(crate) fn at(text: &str, offset: usize, message: impl Into<String>) -> Self {
        let offset = offset.min(text.len());
        let before = text.get(..offset).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        Self {
            offset,
            line,
            col,
            message: message.into(),
        }
    }
}

/// A TraceQL query that could not be answered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The query does not parse (with the position).
    #[error("{0}")]
    Parse(#[from] ParseError),
    /// The query parses but cannot be run as asked (a search of a metrics query, a bad
    /// regex, a step too small for the range ...).
    #[error("{0}")]
    Query(String),
    /// The SQL prefilter failed: timeout, memory budget, storage.
    #[error(transparent)]
    Sql(#[from] crate::sql::Error),
    /// Reading traces from the engine failed.
    #[error("reading traces: {0}")]
    Engine(#[from] strata_engine::Error),
    /// A broken invariant.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Whether the client is to blame (400), rather than the server.
    pub fn is_client_error(&self) -> bool {
        matches!(self, Self::Parse(_) | Self::Query(_))
    }
}

/// A session charge refused: the query is over its memory budget, as its SQL would be.
impl From<crate::memory::SessionChargeError> for Error {
    fn from(e: crate::memory::SessionChargeError) -> Self {
        Self::Sql(e.into())
    }
}

/// The result type of this module.
pub type Result<T, E = Error> = std::result::Result<T, E>;
