//! [`ApiError`]: what a handler answers when it does not succeed, as a status, a plain-text
//! message and the headers that go with it (Retry-After, WWW-Authenticate).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// Seconds a client is told to wait on 429 and 503.
pub const RETRY_AFTER_SECS: u64 = 1;

/// A client-facing failure. Bad input is a 4xx with a message saying what was wrong;
/// backpressure is 429/503 with Retry-After; a broken server is a 500.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 400: the request cannot be used as it is.
    #[error("{0}")]
    BadRequest(String),
    /// 401: no valid token.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: a valid token that may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 413: a body over `server.max_body_bytes`, as sent or once decompressed.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 406: no representation the client accepts (the `Accept` header).
    #[error("{0}")]
    NotAcceptable(String),
    /// 415: a content type or encoding this endpoint does not take.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 422: a well-formed request the server will not complete as asked (a SQL query over
    /// its memory budget or with a result over `sql.max_result_bytes`).
    #[error("{0}")]
    Unprocessable(String),
    /// 429: over the tenant's ingest rate; retry after the given seconds.
    #[error("{message}")]
    RateLimited {
        /// What was refused.
        message: String,
        /// Seconds.
        retry_after: u64,
    },
    /// 503: not ready yet, or over capacity; retry after the given seconds.
    #[error("{message}")]
    Unavailable {
        /// Why.
        message: String,
        /// Seconds.
        retry_after: u64,
    },
    /// 500: the server cannot do its job (e.g. the engine is poisoned).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::NotAcceptable(_) => StatusCode::NOT_ACCEPTABLE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Seconds a client should wait before retrying, for 429 and 503.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after, .. } | Self::Unavailable { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// The gRPC status for the same failure, for the OTLP gRPC services: RESOURCE_EXHAUSTED
    /// for 413 (not retryable), and for 429 and 503 UNAVAILABLE with a `google.rpc.RetryInfo`
    /// detail holding the Retry-After delay, as the OTLP specification asks of a server that
    /// wants the client to come back later.
    pub fn to_grpc_status(&self) -> tonic::Status {
        use tonic_types::{ErrorDetails, StatusExt};

        let msg = self.to_string();
        match self {
            Self::BadRequest(_) | Self::UnsupportedMediaType(_) | Self::NotAcceptable(_) => {
                tonic::Status::invalid_argument(msg)
            }
            Self::Unprocessable(_) => tonic::Status::resource_exhausted(msg),
            Self::Unauthorized(_) => tonic::Status::unauthenticated(msg),
            Self::Forbidden(_) => tonic::Status::permission_denied(msg),
            Self::PayloadTooLarge(_) => tonic::Status::resource_exhausted(msg),
            Self::RateLimited { retry_after, .. } | Self::Unavailable { retry_after, .. } => {
                tonic::Status::with_error_details(
                    tonic::Code::Unavailable,
                    msg,
                    ErrorDetails::with_retry_info(Some(std::time::Duration::from_secs(
                        *retry_after,
                    ))),
                )
            }
            Self::Internal(_) => tonic::Status::internal(msg),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry = self.retry_after();
        let unauthorized = matches!(self, Self::Unauthorized(_));
        let mut body = self.to_string();
        body.push('\n');
        let mut resp = (status, body).into_response();
        let headers = resp.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if let Some(secs) = retry {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if unauthorized {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"strata\""),
            );
        }
        resp
    }
}
