//! The Loki HTTP API for Grafana's Loki datasource (`docs/logql.md`): queries
//! (`query`, `query_range`), labels and series, the index endpoints (`index/stats`,
//! `index/volume`, `index/volume_range`), `detected_fields`, `detected_field/{name}/values`,
//! `detected_labels`, `patterns`, `tail` (WebSocket) and `status/buildinfo`, GET and POST, with the tenant from the token
//! or `X-Scope-OrgID` as every read API. LogQL itself is `strata_query::logql`'s; this
//! module reads requests, applies the `[logql]` limits and writes Loki's JSON.

mod detected;
mod index;
mod params;
mod query;
mod response;
mod tail;

use std::future::Future;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use datafusion::prelude::SessionContext;
use strata_engine::{Clock, SystemClock, TenantId};
use strata_query::logql;
use strata_query::sql::{self, SqlConfig};

use crate::api::sql::sql_error;
use crate::auth::ReadTenant;
use crate::http::error::ApiError;
use crate::http::params::request_params;
use crate::runtime::queries::Queries;
use crate::runtime::state::AppState;

/// The routes, for the router (`router.rs`) to merge.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/loki/api/v1/query", get(query).post(query))
        .route(
            "/loki/api/v1/query_range",
            get(query_range).post(query_range),
        )
        .route("/loki/api/v1/labels", get(labels).post(labels))
        .route("/loki/api/v1/label", get(labels).post(labels))
        .route(
            "/loki/api/v1/label/{name}/values",
            get(label_values).post(label_values),
        )
        .route("/loki/api/v1/series", get(series).post(series))
        .route("/loki/api/v1/index/stats", get(stats).post(stats))
        .route("/loki/api/v1/index/volume", get(volume).post(volume))
        .route(
            "/loki/api/v1/index/volume_range",
            get(volume_range).post(volume_range),
        )
        .route(
            "/loki/api/v1/detected_fields",
            get(detected_fields).post(detected_fields),
        )
        .route(
            "/loki/api/v1/detected_field/{name}/values",
            get(detected_field_values).post(detected_field_values),
        )
        .route(
            "/loki/api/v1/detected_labels",
            get(detected_labels).post(detected_labels),
        )
        .route("/loki/api/v1/patterns", get(patterns).post(patterns))
        .route("/loki/api/v1/tail", get(tail_socket))
        .route("/loki/api/v1/status/buildinfo", get(buildinfo))
}

/// What a request needs to run: the tenant's SQL session, settings and the time.
pub(crate) struct Ctx {
    queries: Queries,
    session: SessionContext,
    sql: SqlConfig,
    now_ns: i64,
}

impl Ctx {
    /// Runs `fut` within the SQL timeout, mapping LogQL failures to Loki's statuses.
    async fn timed<T>(&self, fut: impl Future<Output = logql::Result<T>>) -> Result<T, ApiError> {
        match tokio::time::timeout(self.sql.timeout, fut).await {
            Ok(result) => result.map_err(logql_error),
            Err(_) => Err(sql_error(sql::Error::Timeout(self.sql.timeout))),
        }
    }
}

/// Maps a LogQL failure to the status Loki answers with: 400 for the client's, the SQL
/// mapping for the scan's.
fn logql_error(e: logql::Error) -> ApiError {
    match e {
        logql::Error::Sql(e) => sql_error(e),
        logql::Error::Internal(_) => {
            tracing::error!(error = %e, "logql query failed");
            ApiError::Internal(e.to_string())
        }
        e => ApiError::BadRequest(e.to_string()),
    }
}

/// Which endpoint a request is for.
enum Call {
    Query,
    QueryRange,
    Labels,
    LabelValues(String),
    Series,
    Stats,
    Volume { range: bool },
    DetectedFields,
    DetectedFieldValues(String),
    DetectedLabels,
    Patterns,
}

macro_rules! handler {
    ($name:ident, $call:expr) => {
        async fn $name(
            queries: State<Queries>,
            t: ReadTenant,
            m: Method,
            u: Uri,
            h: HeaderMap,
            b: Body,
        ) -> Response {
            run(queries, t, m, u, h, b, $call).await
        }
    };
}

handler!(query, Call::Query);
handler!(query_range, Call::QueryRange);
handler!(labels, Call::Labels);
handler!(series, Call::Series);
handler!(stats, Call::Stats);
handler!(volume, Call::Volume { range: false });
handler!(volume_range, Call::Volume { range: true });
handler!(detected_fields, Call::DetectedFields);
handler!(detected_labels, Call::DetectedLabels);
handler!(patterns, Call::Patterns);

async fn detected_field_values(
    queries: State<Queries>,
    t: ReadTenant,
    Path(name): Path<String>,
    m: Method,
    u: Uri,
    h: HeaderMap,
    b: Body,
) -> Response {
    run(queries, t, m, u, h, b, Call::DetectedFieldValues(name)).await
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

/// `tail`: checks the query, then upgrades to a WebSocket that streams new entries.
async fn tail_socket(
    State(queries): State<Queries>,
    crate::auth::SocketReadTenant(tenant): crate::auth::SocketReadTenant,
    uri: Uri,
    upgrade: axum::extract::ws::WebSocketUpgrade,
) -> Response {
    let start = async {
        let engine = queries.engine()?;
        let pairs = request_params(&Method::GET, uri.query(), &HeaderMap::new(), &[])?;
        let now_ns = SystemClock.now_ms().saturating_mul(1_000_000);
        let spec = tail::parse(&pairs, now_ns, queries.logql().max_entries_limit_per_query)?;
        let sql = queries.sql().query.clone();
        let session = sql::tenant_session(engine, &tenant, &sql).map_err(sql_error)?;
        let ctx = Ctx {
            queries: queries.clone(),
            session,
            sql,
            now_ns,
        };
        Ok::<_, ApiError>((ctx, spec))
    };
    match start.await {
        // A browser that offered the console's subprotocol gets it back (else it drops
        // the socket); Grafana and Loki's clients offer none.
        Ok((ctx, spec)) => upgrade
            .protocols([crate::auth::SOCKET_PROTOCOL])
            .on_upgrade(move |socket| tail::run(ctx, spec, socket)),
        Err(e) => e.into_response(),
    }
}

/// `status/buildinfo`: a Loki 3 version, so that Grafana turns on the features it gates
/// on the version.
async fn buildinfo(ReadTenant(_): ReadTenant) -> Response {
    let body = format!(
        r#"{{"version":"3.5.0","revision":"strata-{}","branch":"main","buildUser":"strata","buildDate":"","goVersion":""}}"#,
        env!("CARGO_PKG_VERSION")
    );
    json(body)
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
    match answer(queries, tenant, method, uri, headers, body, call).await {
        Ok(body) => json(body),
        Err(e) => e.into_response(),
    }
}

async fn answer(
    queries: Queries,
    tenant: TenantId,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
    call: Call,
) -> Result<String, ApiError> {
    let engine = queries.engine()?;
    let body = queries.read_body(&headers, body).await?;
    let pairs = request_params(&method, uri.query(), &headers, &body)?;
    let sql = queries.sql().query.clone();
    let session = sql::tenant_session(engine, &tenant, &sql).map_err(sql_error)?;
    let ctx = Ctx {
        queries,
        session,
        sql,
        now_ns: SystemClock.now_ms().saturating_mul(1_000_000),
    };
    match call {
        Call::Query => query::instant(ctx, pairs).await,
        Call::QueryRange => query::range(ctx, pairs, headers).await,
        Call::Labels => index::labels(ctx, pairs).await,
        Call::LabelValues(name) => index::label_values(ctx, pairs, &name).await,
        Call::Series => index::series(ctx, pairs).await,
        Call::Stats => index::stats(ctx, pairs).await,
        Call::Volume { range } => index::volume(ctx, pairs, range).await,
        Call::DetectedFields => detected::fields(ctx, pairs).await,
        Call::DetectedFieldValues(name) => detected::field_values(ctx, pairs, &name).await,
        Call::DetectedLabels => detected::labels(ctx, pairs).await,
        Call::Patterns => detected::patterns(ctx, pairs).await,
    }
}

fn json(body: String) -> Response {
    let mut out = (StatusCode::OK, body).into_response();
    out.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    out
}
