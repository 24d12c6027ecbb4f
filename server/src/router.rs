//! The HTTP router: which handler answers which path. Health and self-metrics are here;
//! remote-write, OTLP/HTTP and Loki's push come from `ingest/`, the Prometheus, Jaeger, log
//! search and SQL APIs from `api/`. Around all of them, the request-metrics layer (counts by
//! route and status, latency). Routes go into [`router`] and get auth, limits and metrics the same
//! way. (The gRPC listener's services, OTLP, Flight SQL and a worker's, are put together in
//! `serve.rs`: `ingest/otlp/grpc.rs`, `api/flightsql/`.)

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::StreamExt as _;

use crate::auth::ReadTenant;
use crate::http::error::ApiError;
use crate::ingest::remote_write;
use crate::runtime::queries::Queries;
use crate::runtime::self_metrics::Metrics;
use crate::runtime::state::AppState;

/// The HTTP routes of the server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/live", get(live))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .route("/-/reload", post(reload).put(reload))
        .route("/api/v1/write", post(remote_write::write))
        .merge(crate::api::prom::routes())
        .merge(crate::api::exemplars::routes())
        .merge(crate::api::export::routes())
        .merge(crate::api::remote_read::routes())
        .merge(crate::api::rules::routes())
        .merge(crate::ingest::otlp::http::routes())
        .merge(crate::ingest::loki::routes())
        .merge(crate::ingest::import::routes())
        .merge(crate::api::loki::routes())
        .merge(crate::api::jaeger::routes())
        .merge(crate::api::logs::routes())
        .merge(crate::api::sql::routes())
        .merge(crate::api::admin::routes())
        .merge(crate::api::tempo::routes())
        .merge(crate::api::status::routes())
        .merge(crate::console::routes())
        .merge(crate::scrape::api::routes())
        // The body limit is enforced by each handler (413 with a message, and again after
        // decompression); axum's default 2 MiB cap would answer first and without one.
        .layer(axum::extract::DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn_with_state(
            state.queries.clone(),
            admit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            count_requests,
        ))
        .with_state(state)
}

/// `/live`: 200 while the process serves HTTP.
/// `POST|PUT /-/reload`: reads the rule files and the scrape configuration again (an admin
/// token with no tenant binding when auth is on), as SIGHUP does. A failure answers 500 with the reason, as
/// Prometheus does; what did not fail is applied.
async fn reload(
    _: crate::auth::ServerAdmin,
    rules: Option<axum::Extension<crate::rules::Rules>>,
    scraper: Option<axum::Extension<crate::scrape::Scraper>>,
) -> Response {
    if rules.is_none() && scraper.is_none() {
        return ApiError::Unavailable {
            message: "rules and scrapes do not run in this process (only a writer runs them)"
                .into(),
            retry_after: 0,
        }
        .into_response();
    }
    let mut done = Vec::new();
    let mut failed = Vec::new();
    if let Some(axum::Extension(rules)) = rules {
        match rules.reload().await {
            Ok(n) => done.push(format!("{n} rule groups")),
            Err(e) => failed.push(format!("failed to reload rules: {e}")),
        }
    }
    if let Some(axum::Extension(scraper)) = scraper {
        match scraper.reload().await {
            Ok(n) => done.push(format!("{n} scrape targets")),
            Err(e) => failed.push(format!("failed to reload the scrape configuration: {e}")),
        }
    }
    if failed.is_empty() {
        (StatusCode::OK, format!("reloaded: {}\n", done.join(", "))).into_response()
    } else {
        ApiError::Internal(failed.join("; ")).into_response()
    }
}

async fn live() -> &'static str {
    "live\n"
}

/// `/ready`: 503 until the engine has opened (WAL recovery done), then 200.
async fn ready(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.engine().map(|_| "ready\n")
}

/// `/metrics`: the self-metrics. Needs the read scope when auth is on; a token bound to
/// one tenant sees only that tenant's per-tenant series.
async fn metrics(
    State(state): State<AppState>,
    ReadTenant(_): ReadTenant,
    headers: axum::http::HeaderMap,
) -> Response {
    let engine = state.engine().ok();
    let only = state.auth.bound_tenant(&headers);
    let mut text = state.metrics.render(engine.as_deref(), only.as_ref());
    state.ingest.inflight().render(&mut text);
    crate::runtime::self_metrics::memory::render(&mut text, &state);
    state.ingest.render_derived(&mut text, only.as_ref());
    let mut resp = (StatusCode::OK, text).into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    resp
}

/// The most of a refused query's body read before the refusal is sent.
const QUERY_BODY_DRAIN: usize = 1 << 20;

/// Gives a query a turn (`runtime/admission.rs`) before its handler runs, and holds it
/// until the answer's last byte is sent; other requests pass.
async fn admit(State(queries): State<Queries>, req: Request, next: Next) -> Response {
    let query = req
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|p| crate::runtime::admission::is_query(p.as_str()));
    if !query {
        return next.run(req).await;
    }
    let turn = match queries.admission().admit().await {
        Ok(t) => t,
        Err(e) => {
            // Read the (small) query body first: a connection whose request body was left
            // unread is closed after the answer, and the client's next request on it fails.
            let drain = axum::body::to_bytes(req.into_body(), QUERY_BODY_DRAIN);
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), drain).await;
            return e.into_response();
        }
    };
    let (parts, body) = next.run(req).await.into_parts();
    let body = axum::body::Body::from_stream(body.into_data_stream().map(move |chunk| {
        let _held = &turn;
        chunk
    }));
    Response::from_parts(parts, body)
}

/// Counts every request by route pattern and status, with its latency, and tells the
/// client that latency in `Server-Timing: app;dur=<ms>` (the console shows it beside the
/// round trip). For a streamed body it is the time to the first byte.
async fn count_requests(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let endpoint = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let start = Instant::now();
    let mut resp = next.run(req).await;
    let elapsed = start.elapsed();
    metrics.record_request(&endpoint, resp.status().as_u16(), elapsed);
    let timing = format!("app;dur={:.3}", elapsed.as_secs_f64() * 1000.0);
    if let Ok(v) = HeaderValue::from_str(&timing) {
        resp.headers_mut().insert("server-timing", v);
    }
    resp
}
