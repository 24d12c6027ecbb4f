//! Errors of PromQL parsing and evaluation.

/// Why a PromQL query failed. The `Display` text is Prometheus's own message where
/// Prometheus has one, so an HTTP layer can pass it through unchanged.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The query text does not parse (a client error, HTTP 400 `bad_data`).
    #[error("{0}")]
    Parse(String),
    /// The query parses but cannot be evaluated as written (a client error, HTTP 422
    /// `execution`), e.g. many-to-many matching or a duplicate label set in the output.
    #[error("{0}")]
    Execution(String),
    /// The query would hold more memory than its share of the query pool (a client error,
    /// HTTP 422 `execution`, naming the limit).
    #[error("{0}")]
    OverMemory(#[from] crate::memory::MemoryError),
    /// More samples would be held in memory at once than `max_samples` allows.
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// A range query would return more points per series than Prometheus allows.
    #[error(
        "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)"
    )]
    TooManyPoints,
    /// The query ran past its timeout.
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The storage under the query failed (a server error, HTTP 500).
    #[error("storage error: {0}")]
    Storage(String),
}

/// Result of PromQL operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn exec<T>(msg: impl Into<String>) -> Result<T> {
    Err(Error::Execution(msg.into()))
}
