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
//! A query longer than `[tempo] max_traceql_length` bytes, a search over a range longer
//! than `[tempo] max_search_duration` (a week by default, Tempo's), one that does not parse
//! (the message says where), or parameters Tempo would refuse are a 400.

use axum::extract::{RawQuery, State};
use strata_engine::{Clock, SystemClock};
use strata_query::traceql::{self, MetricsParams, Query, SearchParams};

use super::params::{self, NS_PER_S, Params};
use super::{Answer, Error, bad, internal, json_response, render};
use crate::auth::ReadTenant;
use crate::runtime::queries::Queries;

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
pub(crate) fn check_length(q: &str, queries: &Queries) -> Result<(), Error> {
    let max = queries.tempo().max_traceql_length;
    if q.len() > max {
        return Err(bad(format!(
            "TraceQL query is {} bytes, over the limit of {max} bytes ([tempo] max_traceql_length)",
            q.len()
        )));
    }
    Ok(())
}

/// A 400 for a search range over `[tempo] max_search_duration` (Tempo's message).
fn check_search_range(start_ns: i64, end_ns: i64, queries: &Queries) -> Result<(), Error> {
    let max = queries.tempo().max_search_duration;
    let max_ns = i64::try_from(max.as_nanos()).unwrap_or(i64::MAX);
    // In whole seconds, as Tempo compares (`end` counts its whole second here): a range of
    // exactly the limit, Grafana's "Last 7 days" under the default, is within it.
    let span = end_ns.saturating_sub(start_ns);
    if max_ns > 0 && span - span.rem_euclid(NS_PER_S) > max_ns {
        return Err(bad(format!(
            "range specified by start and end exceeds {}. received start={} end={} ([tempo] max_search_duration)",
            humantime::format_duration(max),
            start_ns / NS_PER_S,
            end_ns / NS_PER_S
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
fn parse(q: &str, queries: &Queries) -> Result<Query, Error> {
    check_length(q, queries)?;
    traceql::parse(q).map_err(traceql_error)
}

fn now_ns() -> i64 {
    SystemClock.now_ms().saturating_mul(1_000_000)
}

/// The query of a search request: `q`, or the legacy `tags`/`minDuration`/`maxDuration`.
fn search_query(p: &Params, queries: &Queries) -> Result<Query, Error> {
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
            let query = parse(q, queries)?;
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
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = Params::parse(raw.as_deref())?;
    let query = search_query(&p, &queries)?;
    let (start_ns, end_ns) = p.range(now_ns(), DEFAULT_WINDOW_NS)?;
    check_search_range(start_ns, end_ns, &queries)?;
    let limit = p.positive("limit")?.unwrap_or(DEFAULT_LIMIT).min(MAX_LIMIT);
    let spss = match p.get("spss") {
        Some(t) => t
            .trim()
            .parse::<usize>()
            .map_err(|_| bad(format!("invalid spss {t:?}: not a number")))?,
        None => DEFAULT_SPSS,
    };
    let engine = queries.engine()?;
    let params = SearchParams {
        start_ns,
        end_ns,
        limit,
        spans_per_spanset: spss,
    };
    let found = traceql::search(&engine, &tenant, &queries.sql().query, &query, &params)
        .await
        .map_err(traceql_error)?;
    Ok(json_response(&render::search_response(&found)))
}

/// The metrics query of a request (`q`, else `query`) and its range.
fn metrics_request(p: &Params, queries: &Queries) -> Result<(Query, i64, i64), Error> {
    let q = p
        .get("q")
        .or_else(|| p.get("query"))
        .ok_or_else(|| bad("parameter 'q' (a TraceQL metrics query) is required"))?;
    let query = parse(q, queries)?;
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
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = Params::parse(raw.as_deref())?;
    let (query, start_ns, end_ns) = metrics_request(&p, &queries)?;
    let step_ns = match p.get("step") {
        Some(s) => params::step_ns(s).map_err(bad)?,
        None => params::default_step_ns(start_ns, end_ns),
    };
    if (end_ns - start_ns) / step_ns > MAX_POINTS {
        return Err(bad(format!(
            "step {step_ns} ns is too small for the range: over {MAX_POINTS} points per series"
        )));
    }
    let engine = queries.engine()?;
    let mp = MetricsParams {
        start_ns,
        end_ns,
        step_ns,
    };
    let series = traceql::metrics_range(&engine, &tenant, &queries.sql().query, &query, &mp)
        .await
        .map_err(traceql_error)?;
    Ok(json_response(&render::range_response(&series)))
}

/// Steps an instant query may be split into to align with its range exactly.
const MAX_INSTANT_STEPS: i64 = 10_000;

fn gcd(a: i64, b: i64) -> i64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// How an instant query is answered from a range query's points.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Combine {
    /// Sum of the points (counts, sums).
    Sum,
    /// Sum of per-second rates, scaled to the whole range.
    Rate,
    /// The least point.
    Min,
    /// The greatest point.
    Max,
    /// Not decomposable: one step as long as the range, its last point.
    Last,
}

fn combine(query: &Query) -> Combine {
    use traceql::ast::MetricsFn as F;
    match query.metrics.as_ref().map(|m| &m.func) {
        Some(F::Rate) => Combine::Rate,
        Some(F::CountOverTime | F::SumOverTime(_)) => Combine::Sum,
        Some(F::MinOverTime(_)) => Combine::Min,
        Some(F::MaxOverTime(_)) => Combine::Max,
        _ => Combine::Last,
    }
}

/// The step and combination of an instant query over `[start, end]`: a step dividing both
/// (so that the engine's grid, aligned to multiples of the step, covers exactly
/// `(start, end]`) when the function can be combined from steps; else one step.
fn instant_plan(query: &Query, start_ns: i64, end_ns: i64) -> (i64, Combine) {
    let how = combine(query);
    let g = gcd(start_ns, end_ns).max(1);
    if how != Combine::Last && (end_ns - start_ns) / g <= MAX_INSTANT_STEPS {
        (g, how)
    } else {
        (end_ns - start_ns, Combine::Last)
    }
}

/// One value per series from the points of an [`instant_plan`] run.
fn instant_values(
    series: Vec<traceql::MetricSeries>,
    how: Combine,
    (start_ns, end_ns, step_ns): (i64, i64, i64),
) -> Vec<(Vec<(String, traceql::Value)>, f64)> {
    let (start_ms, end_ms) = (start_ns / 1_000_000, end_ns / 1_000_000);
    series
        .into_iter()
        .filter_map(|s| {
            let inside = s
                .points
                .iter()
                .filter(|(t, _)| *t > start_ms && *t <= end_ms)
                .map(|&(_, v)| v);
            let value = match how {
                Combine::Last => s.points.last().map(|&(_, v)| v),
                Combine::Sum => inside.reduce(|a, b| a + b),
                Combine::Rate => inside
                    .reduce(|a, b| a + b)
                    .map(|r| r * step_ns as f64 / (end_ns - start_ns) as f64),
                Combine::Min => inside.reduce(f64::min),
                Combine::Max => inside.reduce(f64::max),
            }?;
            Some((s.labels, value))
        })
        .collect()
}

/// `GET /api/metrics/query`: one value per series over the whole range. Counts, sums,
/// rates, minimums and maximums are exact: the range query runs on a step that divides
/// `start` and `end` and the steps inside are combined. Averages, quantiles and histograms
/// take one step as long as the range, aligned as the range query aligns it.
pub(crate) async fn query_instant(
    State(queries): State<Queries>,
    ReadTenant(tenant): ReadTenant,
    RawQuery(raw): RawQuery,
) -> Answer {
    let p = Params::parse(raw.as_deref())?;
    let (query, start_ns, end_ns) = metrics_request(&p, &queries)?;
    let (step_ns, how) = instant_plan(&query, start_ns, end_ns);
    let engine = queries.engine()?;
    let mp = MetricsParams {
        start_ns,
        end_ns,
        step_ns,
    };
    let series = traceql::metrics_range(&engine, &tenant, &queries.sql().query, &query, &mp)
        .await
        .map_err(traceql_error)?;
    let values = instant_values(series, how, (start_ns, end_ns, step_ns));
    Ok(json_response(&render::instant_response(&values)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(points: Vec<(i64, f64)>) -> traceql::MetricSeries {
        traceql::MetricSeries {
            labels: vec![],
            points,
        }
    }

    #[test]
    fn instant_queries_combine_aligned_steps() {
        let s = 1_000 * NS_PER_S;
        let e = 1_060 * NS_PER_S;
        let q = |text: &str| traceql::parse(text).expect("parses");
        let (step, how) = instant_plan(&q("{} | count_over_time()"), s, e);
        assert_eq!((step, how), (20 * NS_PER_S, Combine::Sum));
        let (step, how) = instant_plan(&q("{} | quantile_over_time(duration, 0.9)"), s, e);
        assert_eq!((step, how), (60 * NS_PER_S, Combine::Last));
        // Points at step ends: the one at `start` belongs to the step before the range.
        let pts = vec![
            (1_000_000, 9.0),
            (1_020_000, 1.0),
            (1_040_000, 2.0),
            (1_060_000, 3.0),
        ];
        let grid = (s, e, 20 * NS_PER_S);
        let v = instant_values(vec![series(pts.clone())], Combine::Sum, grid);
        assert_eq!(v[0].1, 6.0);
        let v = instant_values(vec![series(pts.clone())], Combine::Rate, grid);
        assert!(
            (v[0].1 - 2.0).abs() < 1e-12,
            "6 per 20 s step sums, over 60 s: {v:?}"
        );
        let v = instant_values(vec![series(pts.clone())], Combine::Max, grid);
        assert_eq!(v[0].1, 3.0);
        let v = instant_values(vec![series(pts)], Combine::Last, grid);
        assert_eq!(v[0].1, 3.0);
        assert!(instant_values(vec![series(vec![])], Combine::Sum, grid).is_empty());
    }
}
