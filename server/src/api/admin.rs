//! The admin API: snapshots and deletes, for a token with the `admin` scope (any request
//! when auth is off). Parameters, errors and answers are `strata_query::prom_api`'s
//! (`admin.rs`), Prometheus's where Prometheus has the endpoint:
//!
//! - `POST|PUT /api/v1/admin/tsdb/snapshot` (`skip_head`): a checkpoint of every tenant's
//!   data under `<data_dir>/snapshots/<name>`; `{"status":"success","data":{"name":...}}`.
//! - `POST|PUT /api/v1/admin/tsdb/delete_series` (`match[]`, `start`, `end`): the token's
//!   tenant's samples; 204.
//! - `POST|PUT /api/v1/admin/delete_records` (`signal` = `spans` or `logs`, `query`,
//!   `start`, `end`): the token's tenant's spans or log records; the counts.
//!
//! Each runs on a blocking thread: a checkpoint flushes and links files, a delete rewrites
//! Parquet files.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use strata_engine::{Engine, TenantId};
use strata_query::prom_api::{self, PromApi};

use crate::auth::AdminTenant;
use crate::http::error::ApiError;
use crate::http::params::request_params;
use crate::runtime::state::AppState;

/// The routes, for the router (`router.rs`) to merge.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/tsdb/snapshot", post(snapshot).put(snapshot))
        .route(
            "/api/v1/admin/tsdb/delete_series",
            post(delete_series).put(delete_series),
        )
        .route(
            "/api/v1/admin/delete_records",
            post(delete_records).put(delete_records),
        )
}

/// Which admin call a request is.
#[derive(Debug, Clone, Copy)]
enum Call {
    Snapshot,
    DeleteSeries,
    DeleteRecords,
}

async fn snapshot(
    state: State<AppState>,
    t: AdminTenant,
    m: Method,
    u: Uri,
    h: HeaderMap,
    b: Body,
) -> Response {
    run(state, t, m, u, h, b, Call::Snapshot).await
}

async fn delete_series(
    state: State<AppState>,
    t: AdminTenant,
    m: Method,
    u: Uri,
    h: HeaderMap,
    b: Body,
) -> Response {
    run(state, t, m, u, h, b, Call::DeleteSeries).await
}

async fn delete_records(
    state: State<AppState>,
    t: AdminTenant,
    m: Method,
    u: Uri,
    h: HeaderMap,
    b: Body,
) -> Response {
    run(state, t, m, u, h, b, Call::DeleteRecords).await
}

async fn run(
    State(state): State<AppState>,
    AdminTenant(tenant): AdminTenant,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
    call: Call,
) -> Response {
    match answer(&state, tenant, method, uri, headers, body, call).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn answer(
    state: &AppState,
    tenant: TenantId,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
    call: Call,
) -> Result<Response, ApiError> {
    let engine: Arc<Engine> = state.engine()?;
    let body = state.body.read_body(&headers, body).await?;
    // A PUT's form body counts as a POST's (Prometheus takes both).
    let as_form = if method == Method::PUT {
        Method::POST
    } else {
        method
    };
    let params = request_params(&as_form, uri.query(), &headers, &body)?;
    let resp = tokio::task::spawn_blocking(move || {
        let api = PromApi::default();
        match call {
            Call::Snapshot => api.snapshot(&engine, &params),
            Call::DeleteSeries => api.delete_series(&engine, &tenant, &params),
            Call::DeleteRecords => api.delete_records(&engine, &tenant, &params),
        }
    })
    .await
    .map_err(|e| ApiError::Internal(format!("admin task failed: {e}")))?;
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::NO_CONTENT {
        return Ok(status.into_response());
    }
    let mut out = (status, resp.body).into_response();
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(prom_api::Response::CONTENT_TYPE),
    );
    Ok(out)
}
