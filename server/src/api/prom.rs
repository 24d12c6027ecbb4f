//! The Prometheus HTTP API routes (`/api/v1/query`, `query_range`, `series`, `labels`,
//! `label/<name>/values`, `metadata`, `status/buildinfo`), GET and POST. Parsing, evaluation
//! and the JSON are `strata_query::prom_api`'s; this module reads the request (auth, body
//! limit, parameters), runs the call on a blocking thread (queries read Parquet), and sends
//! the answer.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use strata_engine::{Clock, Engine, SystemClock, TenantId};
use strata_query::prom_api::{self, PromApi};

use crate::auth::ReadTenant;
use crate::http::error::ApiError;
use crate::http::params::request_params;
use crate::runtime::queries::Queries;
use crate::runtime::state::AppState;

/// The routes, for the router (`router.rs`) to merge.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/query", get(query).post(query))
        .route("/api/v1/query_range", get(query_range).post(query_range))
        .route("/api/v1/series", get(series).post(series))
        .route("/api/v1/labels", get(labels).post(labels))
        .route("/api/v1/label/{name}/values", get(label_values))
        .route("/api/v1/metadata", get(metadata))
        .route("/api/v1/status/buildinfo", get(buildinfo))
}

/// Which endpoint a request is for.
enum Call {
    Query,
    QueryRange,
    Series,
    Labels,
    LabelValues(String),
}

async fn query(
    queries: State<Queries>,
    t: ReadTenant,
    m: Method,
    u: Uri,
    h: HeaderMap,
    b: Body,
) -> Response {
    run(queries, t, m, u, h, b, Call::Query).await
}

async fn query_range(
    queries: State<Queries>,
    t: ReadTenant,
    m: Method,
    u: Uri,
    h: HeaderMap,
    b: Body,
) -> Response {
    run(queries, t, m, u, h, b, Call::QueryRange).await
}

async fn series(
    queries: State<Queries>,
    t: ReadTenant,
    m: Method,
    u: Uri,
    h: HeaderMap,
    b: Body,
) -> Response {
    run(queries, t, m, u, h, b, Call::Series).await
}

async fn labels(
    queries: State<Queries>,
    t: ReadTenant,
    m: Method,
    u: Uri,
    h: HeaderMap,
    b: Body,
) -> Response {
    run(queries, t, m, u, h, b, Call::Labels).await
}

async fn label_values(
    queries: State<Queries>,
    t: ReadTenant,
    Path(name): Path<String>,
    m: Method,
    u: Uri,
    h: HeaderMap,
    b: Body,
) -> Response {
    run(queries, t, m, u, h, b, Call::LabelValues(name)).await
}

async fn metadata(
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    uri: Uri,
) -> Response {
    let params = match request_params(&Method::GET, uri.query(), &HeaderMap::new(), &[]) {
        Ok(params) => params,
        Err(e) => return e.into_response(),
    };
    match queries.engine() {
        Ok(engine) => json(PromApi::default().metadata(&engine, &tenant, &params)),
        Err(e) => e.into_response(),
    }
}

async fn buildinfo(ReadTenant(_): ReadTenant) -> Response {
    json(PromApi::default().buildinfo())
}

async fn run(
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
    call: Call,
) -> Response {
    match answer(&queries, tenant, method, uri, headers, body, call).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn answer(
    queries: &Queries,
    tenant: TenantId,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
    call: Call,
) -> Result<Response, ApiError> {
    let engine: Arc<Engine> = queries.engine()?;
    let body = queries.read_body(&headers, body).await?;
    let params = request_params(&method, uri.query(), &headers, &body)?;
    let api = PromApi::new(*queries.promql()).with_memory(queries.query_memory().clone());
    let resp = tokio::task::spawn_blocking(move || {
        let e = engine.as_ref();
        match call {
            Call::Query => api.query(e, &tenant, &params, SystemClock.now_ms()),
            Call::QueryRange => api.query_range(e, &tenant, &params),
            Call::Series => api.series(e, &tenant, &params),
            Call::Labels => api.labels(e, &tenant, &params),
            Call::LabelValues(name) => api.label_values(e, &tenant, &name, &params),
        }
    })
    .await
    .map_err(|e| ApiError::Internal(format!("query task failed: {e}")))?;
    Ok(json(resp))
}

fn json(resp: prom_api::Response) -> Response {
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = (status, resp.body).into_response();
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(prom_api::Response::CONTENT_TYPE),
    );
    out
}
