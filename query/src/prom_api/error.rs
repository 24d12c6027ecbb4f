//! Errors of the Prometheus API layer, each with Prometheus's `errorType` and HTTP status.

use crate::go::quote as go_quote;
use crate::promql;

/// Why a request failed. The `Display` text is the `error` field of the response, worded as
/// Prometheus words it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed: a bad parameter or a query that does not parse
    /// (`bad_data`, 400).
    #[error("{0}")]
    BadData(String),
    /// The query is valid but cannot be evaluated (`execution`, 422): many-to-many matching,
    /// too many samples, duplicate label sets.
    #[error("{0}")]
    Execution(String),
    /// The query ran out of time (`timeout`, 503).
    #[error("{0}")]
    Timeout(String),
    /// The query was canceled (`canceled`, 503).
    #[error("{0}")]
    Canceled(String),
    /// Storage failed under the request (`internal`, 500).
    #[error("{0}")]
    Internal(String),
    /// What the request names does not exist (`not_found`, 404: Prometheus's
    /// `errorNotFound`).
    #[error("{0}")]
    NotFound(String),
}

impl ApiError {
    /// Prometheus's `invalidParamError`: `invalid parameter "name": reason`.
    pub(crate) fn invalid_param(name: &str, reason: impl std::fmt::Display) -> Self {
        Self::BadData(format!("invalid parameter {}: {reason}", go_quote(name)))
    }

    /// The `errorType` field.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::BadData(_) => "bad_data",
            Self::Execution(_) => "execution",
            Self::Timeout(_) => "timeout",
            Self::Canceled(_) => "canceled",
            Self::Internal(_) => "internal",
            Self::NotFound(_) => "not_found",
        }
    }

    /// The HTTP status Prometheus answers with.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadData(_) => 400,
            Self::Execution(_) => 422,
            Self::Timeout(_) | Self::Canceled(_) => 503,
            Self::Internal(_) => 500,
            Self::NotFound(_) => 404,
        }
    }

    /// Maps an evaluation error as Prometheus's `returnAPIError` does. Parse errors of an
    /// instant query carry the `invalid parameter "query"` prefix, those of a range query do
    /// not (Prometheus's asymmetry).
    pub(crate) fn from_promql(e: promql::Error, instant: bool) -> Self {
        let msg = e.to_string();
        match e {
            promql::Error::Parse(_) if instant => Self::invalid_param("query", msg),
            promql::Error::Parse(_) | promql::Error::TooManyPoints => Self::BadData(msg),
            promql::Error::Execution(_)
            | promql::Error::TooManySamples(_)
            | promql::Error::OverMemory(_) => Self::Execution(msg),
            promql::Error::Timeout(_) => Self::Timeout(msg),
            promql::Error::Storage(_) => Self::Internal(msg),
        }
    }

    /// Maps a storage error of a metadata lookup (series, labels).
    pub(crate) fn from_engine(e: strata_engine::Error) -> Self {
        Self::Internal(e.to_string())
    }
}

/// Result of the API layer.
pub type Result<T, E = ApiError> = std::result::Result<T, E>;
