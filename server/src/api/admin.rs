//! The admin API: snapshots and deletes, for a token with the `admin` scope (any request
//! when auth is off). Parameters, errors and answers are `strata_query::prom_api`'s
//! (`admin.rs`), Prometheus's where Prometheus has the endpoint:
//!
//! - `POST|PUT /api/v1/admin/tsdb/snapshot` (`skip_head`): a checkpoint under
//!   `<data_dir>/snapshots/<name>`, `{"status":"success","data":{"name":...}}`: of every
//!   tenant's data for a token with no tenant binding (any request when auth is off)
//!   without `X-Scope-OrgID`; of one tenant's only for a tenant-bound token, or with
//!   `X-Scope-OrgID` ([`AdminReach`]).
//! - `GET /api/v1/admin/tsdb/snapshots`: the snapshots of that reach (a tenant's, or all),
//!   and `DELETE /api/v1/admin/tsdb/snapshots/<name>`: removes one of them (204).
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
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use strata_engine::{Engine, TenantId};
use strata_query::prom_api::{self, PromApi};

use crate::auth::{AdminReach, AdminTenant};
use crate::http::error::ApiError;
use crate::http::params::request_params;
use crate::runtime::state::AppState;

/// The routes, for the router (`router.rs`) to merge.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/tsdb/snapshot", post(snapshot).put(snapshot))
        .route("/api/v1/admin/tsdb/snapshots", get(list_snapshots))
        .route(
            "/api/v1/admin/tsdb/snapshots/{name}",
            delete(remove_snapshot),
        )
        .route(
            "/api/v1/admin/tsdb/delete_series",
            post(delete_series).put(delete_series),
        )
        .route(
            "/api/v1/admin/delete_records",
            post(delete_records).put(delete_records),
        )
}

/// Which admin call a request is, with the tenant it acts on (`None`: every tenant).
#[derive(Debug, Clone)]
enum Call {
    Snapshot(Option<TenantId>),
    DeleteSeries(TenantId),
    DeleteRecords(TenantId),
}

async fn snapshot(
    state: State<AppState>,
    AdminReach(reach): AdminReach,
    m: Method,
    u: Uri,
    h: HeaderMap,
    b: Body,
) -> Response {
    run(state, m, u, h, b, Call::Snapshot(reach)).await
}

async fn list_snapshots(State(state): State<AppState>, AdminReach(reach): AdminReach) -> Response {
    let engine = match state.engine() {
        Ok(e) => e,
        Err(e) => return e.into_response(),
    };
    let resp =
        tokio::task::spawn_blocking(move || PromApi::default().snapshots(&engine, reach.as_ref()))
            .await;
    answer_of(resp)
}

async fn remove_snapshot(
    State(state): State<AppState>,
    AdminReach(reach): AdminReach,
    Path(name): Path<String>,
) -> Response {
    let engine = match state.engine() {
        Ok(e) => e,
        Err(e) => return e.into_response(),
    };
    let resp = tokio::task::spawn_blocking(move || {
        PromApi::default().remove_snapshot(&engine, reach.as_ref(), &name)
    })
    .await;
    answer_of(resp)
}

async fn delete_series(
    state: State<AppState>,
    AdminTenant(t): AdminTenant,
    m: Method,
    u: Uri,
    h: HeaderMap,
    b: Body,
) -> Response {
    run(state, m, u, h, b, Call::DeleteSeries(t)).await
}

async fn delete_records(
    state: State<AppState>,
    AdminTenant(t): AdminTenant,
    m: Method,
    u: Uri,
    h: HeaderMap,
    b: Body,
) -> Response {
    run(state, m, u, h, b, Call::DeleteRecords(t)).await
}

async fn run(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
    call: Call,
) -> Response {
    match answer(&state, method, uri, headers, body, call).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn answer(
    state: &AppState,
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
            Call::Snapshot(reach) => api.snapshot(&engine, reach.as_ref(), &params),
            Call::DeleteSeries(t) => api.delete_series(&engine, &t, &params),
            Call::DeleteRecords(t) => api.delete_records(&engine, &t, &params),
        }
    })
    .await;
    Ok(answer_of(resp))
}

/// The HTTP answer of an admin call's [`prom_api::Response`] (its task's panic as 500).
fn answer_of(resp: Result<prom_api::Response, tokio::task::JoinError>) -> Response {
    let resp = match resp {
        Ok(r) => r,
        Err(e) => return ApiError::Internal(format!("admin task failed: {e}")).into_response(),
    };
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status == StatusCode::NO_CONTENT {
        return status.into_response();
    }
    let mut out = (status, resp.body).into_response();
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(prom_api::Response::CONTENT_TYPE),
    );
    out
}
