//! The Jaeger query API under `/jaeger/api/`, so that Grafana's Jaeger datasource and
//! Jaeger's UI work against `http://host:4318/jaeger`: `services`,
//! `services/{service}/operations`, `operations?service=&spanKind=`, `traces` (search) and
//! `traces/{traceID}`. Answers have Jaeger's envelope (`data`, `total`, `limit`, `offset`,
//! `errors`) and its trace model ([`model`]). Services, operations and searches with tags
//! run as SQL over the tenant's `spans` table ([`query`]); searches without tags through
//! the engine's own scan ([`strata_engine::Engine::search_traces`]); whole traces come from
//! the engine's bloom-filtered trace lookup.

mod dependencies;
mod model;
mod params;
mod query;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use strata_engine::{Clock, SystemClock};

use crate::auth::ReadTenant;
use crate::http::error::ApiError;
use crate::runtime::queries::Queries;
use crate::runtime::state::AppState;
use model::{Operation, Response as Envelope, ResponseError};

/// The routes, for the router (`router.rs`) to merge.
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/jaeger/api/services", get(services))
        .route(
            "/jaeger/api/services/{service}/operations",
            get(service_operations),
        )
        .route("/jaeger/api/operations", get(operations))
        .route("/jaeger/api/traces", get(search))
        .route("/jaeger/api/traces/{trace_id}", get(trace))
        .route("/jaeger/api/dependencies", get(dependencies::dependencies))
}

/// Default and largest number of traces a search returns.
const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 1_500;
/// A search looks back this far when the request gives no `start` (Jaeger UI's default).
const DEFAULT_LOOKBACK_NS: i64 = 3_600 * 1_000_000_000;
/// Spans of a found trace are gathered this far around the search window: a trace's spans
/// may start before or after the span that matched.
const TRACE_MARGIN_NS: i64 = 3_600 * 1_000_000_000;

/// A failure in Jaeger's envelope: `{"data":null,...,"errors":[{"code":..,"msg":..}]}`.
struct JaegerError(ApiError);

impl From<ApiError> for JaegerError {
    fn from(e: ApiError) -> Self {
        Self(e)
    }
}

impl IntoResponse for JaegerError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let body: Envelope<()> = Envelope {
            data: None,
            total: 0,
            limit: 0,
            offset: 0,
            errors: Some(vec![ResponseError {
                code: status.as_u16(),
                msg: self.0.to_string(),
            }]),
        };
        json(status, &body)
    }
}

type Answer = Result<Response, JaegerError>;

/// `body` as JSON with `status`.
fn json<T: serde::Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            bytes,
        )
            .into_response(),
        Err(e) => ApiError::Internal(format!("cannot encode the answer: {e}")).into_response(),
    }
}

/// A storage failure while reading traces (a server error: the data is there or it is not).
fn storage(e: strata_engine::Error) -> ApiError {
    tracing::error!(error = %e, "trace lookup failed");
    ApiError::Internal(format!("reading traces: {e}"))
}

fn ok<T: serde::Serialize>(data: T, total: usize) -> Answer {
    Ok(json(StatusCode::OK, &Envelope::ok(data, total)))
}

fn params(raw: Option<String>) -> Result<Vec<(String, String)>, JaegerError> {
    serde_urlencoded::from_str(raw.as_deref().unwrap_or(""))
        .map_err(|e| ApiError::BadRequest(format!("malformed query string: {e}")).into())
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

fn bad(msg: String) -> JaegerError {
    ApiError::BadRequest(msg).into()
}

/// A SQL session over the tenant's data.
fn session(
    queries: &Queries,
    tenant: &strata_engine::TenantId,
) -> Result<datafusion::prelude::SessionContext, JaegerError> {
    let engine = queries.engine()?;
    strata_query::sql::tenant_session(engine, tenant, &queries.sql().query)
        .map_err(|e| crate::api::sql::sql_error(e).into())
}

async fn services(State(queries): State<Queries>, ReadTenant(tenant): ReadTenant) -> Answer {
    let ctx = session(&queries, &tenant)?;
    let list = query::services(&ctx, &queries.sql().query)
        .await
        .map_err(crate::api::sql::sql_error)?;
    let n = list.len();
    ok(list, n)
}

async fn service_operations(
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    Path(service): Path<String>,
) -> Answer {
    let ctx = session(&queries, &tenant)?;
    let ops = query::operations(&ctx, &queries.sql().query, &service, None)
        .await
        .map_err(crate::api::sql::sql_error)?;
    let mut names: Vec<String> = ops.into_iter().map(|(name, _)| name).collect();
    names.dedup();
    let n = names.len();
    ok(names, n)
}

async fn operations(
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = params(raw)?;
    let service =
        param(&p, "service").ok_or_else(|| bad("parameter 'service' is required".into()))?;
    let kind = match param(&p, "spanKind") {
        None => None,
        Some(k) => Some(model::span_kind_number(k).ok_or_else(|| {
            bad(format!(
                "unsupported spanKind {k:?}: use server, client, producer, consumer or internal"
            ))
        })?),
    };
    let ctx = session(&queries, &tenant)?;
    let ops: Vec<Operation> = query::operations(&ctx, &queries.sql().query, service, kind)
        .await
        .map_err(crate::api::sql::sql_error)?
        .into_iter()
        .map(|(name, k)| Operation {
            name,
            span_kind: model::span_kind_name(k),
        })
        .collect();
    let n = ops.len();
    ok(ops, n)
}

/// The search of a `/api/traces` request.
fn search_params(p: &[(String, String)], now_ns: i64) -> Result<query::Search, JaegerError> {
    let service = param(p, "service")
        .ok_or_else(|| bad("parameter 'service' is required".into()))?
        .to_owned();
    let end_ns = match param(p, "end") {
        Some(t) => params::micros_param("end", t).map_err(bad)?,
        None => now_ns,
    };
    let start_ns = match (param(p, "start"), param(p, "lookback")) {
        (Some(t), _) => params::micros_param("start", t).map_err(bad)?,
        (None, Some(l)) if l != "custom" => {
            end_ns.saturating_sub(params::go_duration_ns(l).map_err(bad)?)
        }
        _ => end_ns.saturating_sub(DEFAULT_LOOKBACK_NS),
    };
    if start_ns > end_ns {
        return Err(bad(format!("start {start_ns} ns is after end {end_ns} ns")));
    }
    let duration = |name: &str| {
        param(p, name)
            .map(|d| params::go_duration_ns(d).map_err(bad))
            .transpose()
    };
    let limit = match param(p, "limit") {
        Some(l) => l
            .parse::<usize>()
            .map_err(|_| bad(format!("invalid limit {l:?}")))?
            .clamp(1, MAX_LIMIT),
        None => DEFAULT_LIMIT,
    };
    let mut tags = Vec::new();
    for (_, t) in p.iter().filter(|(k, _)| k == "tags" || k == "tag") {
        // `tag=k:v` is the older single-tag form.
        if t.contains(':') && !t.trim_start().starts_with('{') && !t.contains('=') {
            if let Some((k, v)) = t.split_once(':') {
                tags.push((k.to_owned(), v.to_owned()));
            }
        } else {
            tags.extend(params::tags(t).map_err(bad)?);
        }
    }
    Ok(query::Search {
        service,
        operation: param(p, "operation").map(str::to_owned),
        tags,
        start_ns,
        end_ns,
        min_duration_ns: duration("minDuration")?,
        max_duration_ns: duration("maxDuration")?,
        limit,
    })
}

/// Threads a search uses: its scan of a dense hour and the reading of the traces it found
/// spread over the cores.
fn search_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}

/// The traces of `ids` with their spans starting in `[from, to]`, in the order of `ids`;
/// an id without spans there is left out. Each task reads its share of the ids in one
/// pass over each file ([`strata_engine::Engine::find_traces`]).
async fn read_traces(
    engine: std::sync::Arc<strata_engine::Engine>,
    tenant: strata_engine::TenantId,
    ids: Vec<[u8; 16]>,
    from: i64,
    to: i64,
) -> Result<Vec<model::Trace>, JaegerError> {
    let per_task = ids.len().div_ceil(search_threads()).max(1);
    let tasks: Vec<_> = ids
        .chunks(per_task)
        .map(|chunk| {
            let (engine, tenant, chunk) = (engine.clone(), tenant.clone(), chunk.to_vec());
            tokio::task::spawn_blocking(move || {
                let found = engine.find_traces(&tenant, &chunk, from, to)?;
                Ok::<_, strata_engine::Error>(
                    chunk
                        .iter()
                        .zip(found)
                        .filter(|(_, spans)| !spans.is_empty())
                        .map(|(id, spans)| model::trace(id, &spans))
                        .collect::<Vec<_>>(),
                )
            })
        })
        .collect();
    let mut traces = Vec::with_capacity(ids.len());
    for task in tasks {
        traces.extend(
            task.await
                .map_err(|e| ApiError::Internal(format!("trace lookup task failed: {e}")))?
                .map_err(storage)?,
        );
    }
    Ok(traces)
}

async fn search(
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = params(raw)?;
    let now_ns = SystemClock.now_ms().saturating_mul(1_000_000);
    let s = search_params(&p, now_ns)?;
    let engine = queries.engine()?;
    let windows = engine.spans_partitions(&tenant, s.start_ns, s.end_ns);
    let started = std::time::Instant::now();
    let (ids, read) = match s.span_search() {
        Some(scan) => {
            let (engine, tenant, windows, s) =
                (engine.clone(), tenant.clone(), windows.clone(), s.clone());
            tokio::task::spawn_blocking(move || {
                query::search_scan(&engine, &tenant, &windows, &s, &scan, search_threads())
            })
            .await
            .map_err(|e| ApiError::Internal(format!("trace search task failed: {e}")))?
            .map_err(storage)?
        }
        None => {
            let ctx = session(&queries, &tenant)?;
            query::search(&ctx, &queries.sql().query, &windows, &s)
                .await
                .map_err(crate::api::sql::sql_error)?
        }
    };
    let search_ms = started.elapsed().as_secs_f64() * 1e3;
    let (from, to) = (
        s.start_ns.saturating_sub(TRACE_MARGIN_NS),
        s.end_ns.saturating_add(TRACE_MARGIN_NS),
    );
    let traces = read_traces(engine, tenant, ids, from, to).await?;
    let n = traces.len();
    tracing::debug!(
        hours = windows.len(),
        hours_read = read,
        traces = n,
        sql = s.span_search().is_none(),
        search_ms,
        lookups_ms = started.elapsed().as_secs_f64() * 1e3 - search_ms,
        "trace search"
    );
    ok(traces, n)
}

/// A trace id in hex: up to 32 digits, left-padded with zeros as Jaeger does.
fn parse_trace_id(text: &str) -> Result<[u8; 16], JaegerError> {
    let bad_id = || bad(format!("invalid trace id {text:?}: 1 to 32 hex digits"));
    if text.is_empty() || text.len() > 32 {
        return Err(bad_id());
    }
    let padded = format!("{text:0>32}");
    let mut id = [0u8; 16];
    hex::decode_to_slice(&padded, &mut id).map_err(|_| bad_id())?;
    Ok(id)
}

async fn trace(
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    Path(trace_id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = params(raw)?;
    let id = parse_trace_id(&trace_id)?;
    let from = match param(&p, "start") {
        Some(t) => params::micros_param("start", t).map_err(bad)?,
        None => i64::MIN,
    };
    let to = match param(&p, "end") {
        Some(t) => params::micros_param("end", t).map_err(bad)?,
        None => i64::MAX,
    };
    let engine = queries.engine()?;
    let spans = tokio::task::spawn_blocking(move || engine.find_trace(&tenant, id, from, to))
        .await
        .map_err(|e| ApiError::Internal(format!("trace lookup task failed: {e}")))?
        .map_err(storage)?;
    if spans.is_empty() {
        let body: Envelope<()> = Envelope {
            data: None,
            total: 0,
            limit: 0,
            offset: 0,
            errors: Some(vec![ResponseError {
                code: 404,
                msg: "trace not found".into(),
            }]),
        };
        return Ok(json(StatusCode::NOT_FOUND, &body));
    }
    ok(vec![model::trace(&id, &spans)], 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::params::owned as p;

    #[test]
    fn search_parameters() {
        let now = 10_000_000_000_000;
        let s = search_params(
            &p(&[
                ("service", "shop"),
                ("operation", "GET /cart"),
                ("lookback", "2h"),
                ("minDuration", "1.5ms"),
                ("limit", "5000"),
                ("tags", r#"{"error":"true"}"#),
            ]),
            now,
        )
        .ok()
        .expect("valid");
        assert_eq!(s.end_ns, now);
        assert_eq!(s.start_ns, now - 2 * 3_600 * 1_000_000_000);
        assert_eq!(s.min_duration_ns, Some(1_500_000));
        assert_eq!(s.limit, MAX_LIMIT);
        assert_eq!(s.tags, vec![("error".to_owned(), "true".to_owned())]);

        let s = search_params(&p(&[("service", "a"), ("start", "5"), ("end", "7")]), now)
            .ok()
            .expect("valid");
        assert_eq!(
            (s.start_ns, s.end_ns, s.limit),
            (5_000, 7_000, DEFAULT_LIMIT)
        );

        for bad in [
            p(&[]),
            p(&[("service", "a"), ("start", "x")]),
            p(&[("service", "a"), ("start", "9"), ("end", "7")]),
            p(&[("service", "a"), ("minDuration", "fast")]),
            p(&[("service", "a"), ("tags", "{")]),
        ] {
            assert!(search_params(&bad, now).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn trace_ids_are_left_padded_hex() {
        let id = parse_trace_id("abc").ok().expect("short id");
        assert_eq!(id[15], 0xbc);
        assert_eq!(id[14], 0x0a);
        assert!(parse_trace_id("").is_err());
        assert!(parse_trace_id("zz").is_err());
        assert!(parse_trace_id(&"a".repeat(33)).is_err());
    }
}
