//! Errors of OTLP decoding and translation, and how they are answered.

use crate::http::error::ApiError;

/// What went wrong with an OTLP request body, or with one name in it.
///
/// Every variant is the client's fault: the server answers 400 / `INVALID_ARGUMENT`, except
/// [`OtlpError::BodyTooLarge`], [`OtlpError::DeclaredTooLarge`] and [`OtlpError::TooManyItems`] (413 / `RESOURCE_EXHAUSTED`) and
/// [`OtlpError::UnsupportedContentEncoding`] (415 over HTTP).
#[derive(Debug, thiserror::Error)]
pub(crate) enum OtlpError {
    /// A `Content-Encoding` other than `gzip` or `identity`.
    #[error("unsupported content encoding {encoding:?}: use gzip or identity")]
    UnsupportedContentEncoding {
        /// The encoding the client sent.
        encoding: String,
    },
    /// The body, after decompression, is longer than the limit.
    #[error(
        "request body inflates to more than the limit of {limit} bytes (server.max_body_bytes)"
    )]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The gzip trailer declares a body longer than the limit: the body inflates to at
    /// least that much, or it is corrupt (truncated, or its trailer lies); refused without
    /// inflating it.
    #[error(
        "the gzip trailer declares {declared} bytes once inflated, over the limit of {limit} bytes (server.max_body_bytes)"
    )]
    DeclaredTooLarge {
        /// What the trailer declares (the last member's length, ISIZE).
        declared: u64,
        /// The limit in bytes.
        limit: usize,
    },
    /// More records (or JSON objects) than one request may hold: decoding them could take
    /// gigabytes (`request_items`).
    #[error(
        "request holds {count} {what}, over the limit of {limit} per request: send smaller batches"
    )]
    TooManyItems {
        /// How many the request holds.
        count: usize,
        /// `spans`, `log records`, `data points` or `JSON objects`.
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The gzip stream is corrupt or truncated.
    #[error("invalid gzip body: {source}")]
    Gzip {
        /// The decoder's error.
        source: std::io::Error,
    },
    /// The body is not a valid protobuf message of the expected type.
    #[error("invalid OTLP {signal} protobuf: {source}")]
    Protobuf {
        /// `metrics`, `traces` or `logs`.
        signal: &'static str,
        /// prost's error, naming the field.
        source: prost::DecodeError,
    },
    /// The body is not valid OTLP/JSON of the expected type.
    #[error("invalid OTLP {signal} JSON: {source}")]
    Json {
        /// `metrics`, `traces` or `logs`.
        signal: &'static str,
        /// serde_json's error, with line and column.
        source: serde_json::Error,
    },
    /// An OTLP/JSON metric whose data object does not match the schema.
    #[error("invalid OTLP metrics JSON: metric {name:?} has a malformed {kind:?} object")]
    MalformedMetricData {
        /// The metric's name.
        name: String,
        /// `gauge`, `sum`, `histogram`, `exponentialHistogram` or `summary`.
        kind: &'static str,
    },
    /// A response could not be written as JSON (a bug: responses hold no maps or floats).
    #[error("cannot encode the OTLP response as JSON: {source}")]
    EncodeJson {
        /// serde_json's error.
        source: serde_json::Error,
    },
    /// A metric name with nothing left after normalisation.
    #[error("metric name {name:?} normalises to the invalid name {normalized:?}")]
    InvalidMetricName {
        /// The OTLP name.
        name: String,
        /// What normalisation made of it.
        normalized: String,
    },
    /// An attribute key with nothing left after sanitisation.
    #[error("attribute key {key:?} sanitises to the invalid label name {normalized:?}")]
    InvalidLabelName {
        /// The OTLP attribute key.
        key: String,
        /// What sanitisation made of it.
        normalized: String,
    },
}

impl From<OtlpError> for ApiError {
    fn from(e: OtlpError) -> Self {
        match e {
            OtlpError::BodyTooLarge { .. }
            | OtlpError::DeclaredTooLarge { .. }
            | OtlpError::TooManyItems { .. } => Self::PayloadTooLarge(e.to_string()),
            OtlpError::UnsupportedContentEncoding { .. } => {
                Self::UnsupportedMediaType(e.to_string())
            }
            OtlpError::EncodeJson { .. } => Self::Internal(e.to_string()),
            _ => Self::BadRequest(e.to_string()),
        }
    }
}
