//! [`LokiError`]: what can be wrong with a Loki push, the whole request (answered at once,
//! nothing stored) or one of its streams (its entries rejected and counted, the other
//! streams stored). The per-stream messages are Loki's own (`pkg/validation/validate.go`).

use crate::http::error::ApiError;

/// Why a push, or one stream of it, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LokiError {
    /// A `Content-Type` other than `application/json` or `application/x-protobuf`: 415.
    #[error(
        "Loki's push takes Content-Type application/x-protobuf (snappy) or application/json, got {0:?}"
    )]
    UnsupportedContentType(String),
    /// A `Content-Encoding` the body's type does not take: 415.
    #[error("Content-Encoding {encoding:?} not supported for {content_type} bodies: {hint}")]
    UnsupportedContentEncoding {
        /// The encoding sent.
        encoding: String,
        /// `protobuf` or `JSON`.
        content_type: &'static str,
        /// What is taken instead.
        hint: &'static str,
    },
    /// The snappy-decompressed body is not a `logproto.PushRequest`: 400.
    #[error("invalid Loki push protobuf (logproto.PushRequest): {0}")]
    Protobuf(String),
    /// The body is not a Loki push request in JSON: 400.
    #[error("invalid Loki push JSON: {0}")]
    Json(String),
    /// More entries than one request may hold: 413, before anything is decoded.
    #[error(
        "request holds {count} entries, over the limit of {limit} per request: send smaller batches"
    )]
    TooManyEntries {
        /// Entries counted (an upper bound for JSON).
        count: usize,
        /// The limit.
        limit: usize,
    },
    /// A request without streams (Loki answers 422).
    #[error("error at least one valid stream is required for ingestion")]
    NoStreams,
    /// A stream whose label string does not parse, or names a label badly.
    #[error("error parsing labels '{labels}' with error: {reason}")]
    InvalidLabels {
        /// The label string as sent (JSON labels written the way Loki writes them).
        labels: String,
        /// What is wrong, with the position for a parse error (`1:6: parse error: ...`).
        reason: String,
    },
    /// A stream without a label (once empty values, which Loki treats as absent, are gone).
    #[error("error at least one label pair is required per stream")]
    MissingLabels,
    /// A stream naming one label twice.
    #[error("stream '{labels}' has duplicate label name: '{name}'")]
    DuplicateLabelName {
        /// The label string as sent.
        labels: String,
        /// The repeated name.
        name: String,
    },
}

impl LokiError {
    /// The self-metrics reason (`strata_rejected_samples_total{signal="logs",reason=...}`) of a
    /// stream's rejected entries: Loki's own reason names.
    pub(crate) fn reason(&self) -> &'static str {
        match self {
            Self::MissingLabels => "missing_labels",
            Self::DuplicateLabelName { .. } => "duplicate_label_names",
            _ => "invalid_labels",
        }
    }
}

impl From<LokiError> for ApiError {
    fn from(e: LokiError) -> Self {
        let message = e.to_string();
        match e {
            LokiError::UnsupportedContentType(_) | LokiError::UnsupportedContentEncoding { .. } => {
                Self::UnsupportedMediaType(message)
            }
            LokiError::TooManyEntries { .. } => Self::PayloadTooLarge(message),
            LokiError::NoStreams => Self::Unprocessable(message),
            _ => Self::BadRequest(message),
        }
    }
}
