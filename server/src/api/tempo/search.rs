//! `/api/search` and the TraceQL metrics endpoints, through the TraceQL engine
//! (`strata_query::traceql`):
//!
//! - `GET /api/search?q=&start=&end=&limit=&spss=`: a TraceQL search, answered as Tempo's
//!   `SearchResponse` ([`super::render`]); or, as older clients ask, `tags=` (logfmt) with
//!   `minDuration`/`maxDuration`, turned into the equivalent TraceQL filter
//!   ([`traceql::query_from_tags`]);
//! - `GET /api/metrics/query_range?q=&start=&end=&step=` (`query=` as well, as Tempo takes
//!   it) and `GET /api/metrics/query?q=&start=&end=` (instant: one value per series over
//!   the whole range).
//!
//! A query longer than `[tempo] max_traceql_length` bytes, one that does not parse (the
//! message says where), or parameters Tempo would refuse are a 400.

use axum::extract::{RawQuery, State};
use strata_engine::{Clock, SystemClock};
use strata_query::traceql::{self, MetricsParams, Query, SearchParams};

use super::params::{self, NS_PER_S, Params};
use super::{Answer, Error, bad, internal, json_response, render};
use crate::auth::ReadTenant;
use crate::runtime::state::AppState;

/// Without `start`/`end`, a search looks this far back (Tempo: its recent data).
const DEFAULT_WINDOW_NS: i64 = 3_600 * NS_PER_S;
/// Tempo's default `limit` and `spss`.
const DEFAULT_LIMIT: usize = 20;
const DEFAULT_SPSS: usize = 3;
/// The most traces one search returns.
const MAX_LIMIT: usize = 10_000;
/// The most points a series of a range query may have (as Prometheus).
const MAX_POINTS: i64 = 11_000;

/// A 400 for a TraceQL text over `[tempo] max_traceql_length`.
pub(crate) fn check_length(q: &str, state: &AppState) -> Result<(), Error> {
    let max = state.tempo().max_traceql_length;
    if q.len() > max {
        return Err(bad(format!(
            "TraceQL query is {} bytes, over the limit of {max} bytes ([tempo] max_traceql_length)",
            q.len()
        )));
    }
    Ok(())
}

/// A TraceQL failure: the client's (does not parse, cannot run as asked) is a 400.
fn traceql_error(e: traceql::Error) -> Error {
    if e.is_client_error() {
        return bad(format!("invalid TraceQL query: {e}"));
    }
    match e {
        traceql::Error::Sql(s) => Error::Api(crate::api::sql::sql_error(s)),
        other => internal("TraceQL query failed", other),
    }
}

/// `q` checked and parsed.
fn parse(q: &str, state: &AppState) -> Result<Query, Error> {
    check_length(q, state)?;
    traceql::parse(q).map_err(traceql_error)
}

fn now_ns() -> i64 {
    SystemClock.now_ms().saturating_mul(1_000_000)
}

/// The query of a search request: `q`, or the legacy `tags`/`minDuration`/`maxDuration`.
fn search_query(p: &Params, state: &AppState) -> Result<Query, Error> {
    let duration = |name: &str| {
        p.get(name)
            .map(|d| params::duration_ns(d).map_err(|e| bad(format!("invalid {name}: {e}"))))
            .transpose()
    };
    let (min, max) = (duration("minDuration")?, duration("maxDuration")?);
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        return Err(bad("invalid maxDuration: must be greater than minDuration"));
    }
    match (p.get("q"), p.get("tags")) {
        (Some(_), Some(_)) => Err(bad(
            "invalid request: can't specify tags and q in the same query",
        )),
        (Some(q), None) => {
            let query = parse(q, state)?;
            if query.is_metrics() {
                return Err(bad(
                    "invalid TraceQL query: a metrics query goes to /api/metrics/query_range",
                ));
            }
            Ok(query)
        }
        (None, tags) => {
            let tags = params::logfmt(tags.unwrap_or("")).map_err(bad)?;
            Ok(traceql::query_from_tags(&tags, min, max))
        }
    }
}

/// `GET /api/search`.
pub(crate) async fn search(
    State(state): State<AppState>,
    ReadTenant(tenant): ReadTenant,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = Params::parse(raw.as_deref())?;
    let query = search_query(&p, &state)?;
    let (start_ns, end_ns) = p.range(now_ns(), DEFAULT_WINDOW_NS)?;
    let limit = p.positive("limit")?.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let spss = match p.get("spss") {
        Some(t) => t
            .trim()
            .parse::<usize>()
            .map_err(|_| bad(format!("invalid spss {t:?}: not a number")))?,
        None => DEFAULT_SPSS,
    };
    let engine = state.engine()?;
    let params = SearchParams {
        start_ns,
        end_ns,
        limit,
        spans_per_spanset: spss,
    };
    let found = traceql::search(&engine, &tenant, &state.sql().query, &query, &params)
        .await
        .map_err(traceql_error)?;
    Ok(json_response(&render::search_response(&found)))
}

/// The metrics query of a request (`q`, else `query`) and its range.
fn metrics_request(p: &Params, state: &AppState) -> Result<(Query, i64, i64), Error> {
    let q = p
        .get("q")
        .or_else(|| p.get("query"))
        .ok_or_else(|| bad("parameter 'q' (a TraceQL metrics query) is required"))?;
    let query = parse(q, state)?;
    if !query.is_metrics() {
        return Err(bad(
            "invalid TraceQL query: not a metrics query (end it with e.g. | rate())",
        ));
    }
    let (start_ns, end_ns) = p.metrics_range(now_ns())?;
    Ok((query, start_ns, end_ns))
}

/// `GET /api/metrics/query_range`.
pub(crate) async fn query_range(
    State(state): State<AppState>,
    ReadTenant(tenant): ReadTenant,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = Params::parse(raw.as_deref())?;
    let (query, start_ns, end_ns) = metrics_request(&p, &state)?;
    let step_ns = match p.get("step") {
        Some(s) => params::step_ns(s).map_err(bad)?,
        None => params::default_step_ns(start_ns, end_ns),
    };
    if (end_ns - start_ns) / step_ns > MAX_POINTS {
        return Err(bad(format!(
            "step {step_ns} ns is too small for the range: over {MAX_POINTS} points per series"
        )));
    }
    let engine = state.engine()?;
    let mp = MetricsParams {
        start_ns,
        end_ns,
        step_ns,
    };
    let series = traceql::metrics_range(&engine, &tenant, &state.sql().query, &query, &mp)
        .await
        .map_err(traceql_error)?;
    Ok(json_response(&render::range_response(&series)))
}

/// `GET /api/metrics/query`: the range query with one step over the whole range, each
/// series' last value.
pub(crate) async fn query_instant(
    State(state): State<AppState>,
    ReadTenant(tenant): ReadTenant,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = Params::parse(raw.as_deref())?;
    let (query, start_ns, end_ns) = metrics_request(&p, &state)?;
    let engine = state.engine()?;
    let mp = MetricsParams {
        start_ns,
        end_ns,
        step_ns: end_ns - start_ns,
    };
    let series = traceql::metrics_range(&engine, &tenant, &state.sql().query, &query, &mp)
        .await
        .map_err(traceql_error)?;
    let values: Vec<_> = series
        .into_iter()
        .filter_map(|s| s.points.last().map(|&(_, v)| (s.labels, v)))
        .collect();
    Ok(json_response(&render::instant_response(&values)))
}
