//! Grafana Tempo's HTTP query API, so that Grafana's Tempo datasource (its TraceQL editor,
//! search, trace view and Traces Drilldown) works against `http://host:4318` unchanged:
//!
//! - `/api/echo` and `/api/status/buildinfo` (the datasource's health check);
//! - `/api/traces/{id}` (v1, a `Trace`) and `/api/v2/traces/{id}` (a `TraceByIDResponse`), in
//!   OTLP protobuf or Tempo's OTLP JSON by `Accept` ([`trace`], [`otlp`], [`json`]);
//! - tag names and values, v1 and v2 ([`tags`]), as SQL over the tenant's `spans` table;
//! - `/api/search` (TraceQL `q`, or the legacy logfmt `tags`) and `/api/metrics/query_range`
//!   and `/api/metrics/query` through the TraceQL engine ([`search`]).
//!
//! Auth and tenancy as everywhere: a read token, `X-Scope-OrgID` where the token may choose.
//! Errors are plain text with their status, as Tempo answers them; each is counted in
//! `strata_http_requests_total` by route and code.

mod json;
mod otlp;
mod params;
mod render;
mod search;
mod tags;
mod trace;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::auth::ReadTenant;
use crate::http::error::ApiError;
use crate::runtime::state::AppState;

/// The routes, for the router (`router.rs`) to merge.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/echo", get(echo))
        .route("/api/status/buildinfo", get(buildinfo))
        .route("/api/traces/{trace_id}", get(trace::v1))
        .route("/api/v2/traces/{trace_id}", get(trace::v2))
        .route("/api/search", get(search::search))
        .route("/api/search/tags", get(tags::names_v1))
        .route("/api/v2/search/tags", get(tags::names_v2))
        .route("/api/search/tag/{tag}/values", get(tags::values_v1))
        .route("/api/v2/search/tag/{tag}/values", get(tags::values_v2))
        .route("/api/metrics/query_range", get(search::query_range))
        .route("/api/metrics/query", get(search::query_instant))
}

/// Why a Tempo API request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// 400: a parameter, trace id or query the API cannot use.
    #[error("{0}")]
    BadRequest(String),
    /// 404: no trace with that id (in the range asked).
    #[error("trace not found")]
    NotFound,
    /// The server's own failures (not ready, a SQL limit, storage), with their status.
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl Error {
    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Api(e) => e.status(),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        match self {
            Self::Api(e) => e.into_response(),
            other => (
                other.status(),
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                other.to_string(),
            )
                .into_response(),
        }
    }
}

/// The result of a handler.
type Answer = Result<Response, Error>;

/// A 400 with `msg`.
fn bad(msg: impl Into<String>) -> Error {
    Error::BadRequest(msg.into())
}

/// A storage or task failure: a 500, logged.
fn internal(what: &str, e: impl std::fmt::Display) -> Error {
    tracing::error!(error = %e, "tempo api: {what}");
    Error::Api(ApiError::Internal(format!("{what}: {e}")))
}

/// `body` as JSON, 200.
fn json_response(body: &serde_json::Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /api/echo`: `echo`, as Tempo's query frontend answers when it is up. It takes the
/// read scope, so that Grafana's "Save & test" also checks the datasource's token.
async fn echo(ReadTenant(_): ReadTenant) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "echo",
    )
        .into_response()
}

/// `GET /api/status/buildinfo`: Tempo's (Prometheus's) build info fields with our version.
async fn buildinfo(ReadTenant(_): ReadTenant) -> Response {
    json_response(&serde_json::json!({
        "version": env!("CARGO_PKG_VERSION"),
        "revision": "",
        "branch": "",
        "buildUser": "",
        "buildDate": "",
        "goVersion": "",
    }))
}
