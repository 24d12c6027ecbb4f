//! `GET|POST /api/v1/query_exemplars` (`docs/exemplars.md`): the exemplars of the series a
//! PromQL expression selects, as Prometheus answers it (`strata_query::prom_api`). Grafana's
//! Prometheus data source calls it when a panel's exemplar toggle is on. Auth and tenancy
//! as for the other Prometheus endpoints (`api/prom.rs`).

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use strata_engine::Engine;
use strata_query::prom_api::{self, PromApi};

use crate::auth::ReadTenant;
use crate::http::error::ApiError;
use crate::http::params::request_params;
use crate::runtime::queries::Queries;
use crate::runtime::state::AppState;

/// The route, for the router (`router.rs`) to merge.
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(
        "/api/v1/query_exemplars",
        get(query_exemplars).post(query_exemplars),
    )
}

async fn query_exemplars(
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let answer = async {
        let engine: Arc<Engine> = queries.engine()?;
        let body = queries.read_body(&headers, body).await?;
        let params = request_params(&method, uri.query(), &headers, &body)?;
        let api = PromApi::new(*queries.promql());
        tokio::task::spawn_blocking(move || api.query_exemplars(&engine, &tenant, &params))
            .await
            .map_err(|e| ApiError::Internal(format!("query task failed: {e}")))
    };
    match answer.await {
        Ok(resp) => json(resp),
        Err(e) => e.into_response(),
    }
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
