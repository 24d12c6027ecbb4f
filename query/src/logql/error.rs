//! Errors of LogQL queries: [`Error`], and the [`ParseError`] of the lexer and the parser.
//! Everything but [`Error::Internal`] and storage failures is the client's (the server answers
//! 400, as Loki does).

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

/// Why a query could not be parsed. `Display` gives Loki's form:
/// `parse error at line 1, col 15: syntax error: unexpected IDENTIFIER "foo"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The text does not follow the grammar: a bad literal or a token out of place.
    #[error("parse error at line {line}, col {col}: syntax error: {message}")]
    Syntax {
        /// Byte offset in the query.
        pos: usize,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        col: usize,
        /// What is wrong.
        message: String,
    },
    /// Well-formed but not a valid query: a bad regexp, an aggregation without its `unwrap`,
    /// a selector that matches every stream, ...
    #[error("parse error at line {line}, col {col}: {message}")]
    Invalid {
        /// Byte offset in the query (0 when there is no query, see [`super::parser::check_selector`]).
        pos: usize,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        col: usize,
        /// What is wrong.
        message: String,
    },
}

impl ParseError {
    pub(crate) fn syntax(src: &str, pos: usize, message: impl Into<String>) -> Self {
        let (line, col) = line_col(src, pos);
        ParseError::Syntax {
            pos,
            line,
            col,
            message: message.into(),
        }
    }

    pub(crate) fn invalid(src: &str, pos: usize, message: impl Into<String>) -> Self {
        let (line, col) = line_col(src, pos);
        ParseError::Invalid {
            pos,
            line,
            col,
            message: message.into(),
        }
    }

    /// The byte offset of the error in the query.
    pub fn pos(&self) -> usize {
        match self {
            ParseError::Syntax { pos, .. } | ParseError::Invalid { pos, .. } => *pos,
        }
    }

    /// The 1-based line and column (in characters) of the error.
    pub fn line_col(&self) -> (usize, usize) {
        match self {
            ParseError::Syntax { line, col, .. } | ParseError::Invalid { line, col, .. } => {
                (*line, *col)
            }
        }
    }

    /// The message without the position prefix.
    pub fn message(&self) -> &str {
        match self {
            ParseError::Syntax { message, .. } | ParseError::Invalid { message, .. } => message,
        }
    }
}

fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let mut end = pos.min(src.len());
    while !src.is_char_boundary(end) {
        end -= 1;
    }
    let before = src.get(..end).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}
