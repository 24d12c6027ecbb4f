//! The status API behind the console's cardinality and status pages, usable without it
//! (`docs/http-api.md`, "Status and cardinality"): `/api/v1/status/tsdb` (cardinality of
//! the head), `/limits` (limits, rejections and the last hour of ingest), `/disk`
//! (partitions per signal), `/runtimeinfo` (the process), `/config` (the configuration
//! in force, secrets hidden) and `/tenants` (who the caller is, which tenants it may see).
//!
//! Every endpoint is a GET with the read scope, acts for the request's tenant (the token's,
//! or `X-Scope-OrgID` when auth is off or the token may choose), and answers Prometheus's
//! envelope: `{"status":"success","data":...}`, or `{"status":"error","errorType":
//! "bad_data","error":...}` with a 400 for a bad parameter.

mod process;
mod tenant;
mod tsdb;

use axum::Router;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use crate::http::error::ApiError;
use crate::http::params::request_params;
use crate::runtime::state::AppState;

/// The routes, for the router (`router.rs`) to merge.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/status/tsdb", get(tsdb::tsdb))
        .route("/api/v1/status/limits", get(tenant::limits))
        .route("/api/v1/status/disk", get(tenant::disk))
        .route("/api/v1/status/tenants", get(tenant::tenants))
        .route("/api/v1/status/runtimeinfo", get(process::runtimeinfo))
        .route("/api/v1/status/config", get(process::config))
}

/// A handler's failure, answered in Prometheus's error envelope.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StatusError {
    /// A bad parameter: 400, `bad_data`.
    #[error("{0}")]
    BadData(String),
    /// Anything else the server answers (not ready, a failed task).
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl IntoResponse for StatusError {
    fn into_response(self) -> Response {
        let (status, kind) = match &self {
            Self::BadData(_) => (StatusCode::BAD_REQUEST, "bad_data"),
            Self::Api(e) => {
                let s = e.status();
                let kind = match s.as_u16() {
                    400..=499 => "bad_data",
                    503 => "unavailable",
                    _ => "internal",
                };
                (s, kind)
            }
        };
        let body = json!({"status": "error", "errorType": kind, "error": self.to_string()});
        let mut resp = (status, body.to_string()).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Self::Api(e) = &self
            && let Some(secs) = e.retry_after()
        {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// `{"status":"success","data":data}`.
pub(crate) fn success(data: Value) -> Response {
    let body = json!({"status": "success", "data": data});
    let mut resp = (StatusCode::OK, body.to_string()).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The query string's parameters, repeated keys kept.
pub(crate) fn params(query: Option<&str>) -> Result<Vec<(String, String)>, StatusError> {
    request_params(&Method::GET, query, &HeaderMap::new(), &[]).map_err(|e| match e {
        ApiError::BadRequest(m) => StatusError::BadData(m),
        other => StatusError::Api(other),
    })
}

/// Whole seconds of `d`.
pub(crate) fn seconds(d: std::time::Duration) -> u64 {
    d.as_secs()
}
