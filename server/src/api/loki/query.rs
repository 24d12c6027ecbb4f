//! `/loki/api/v1/query` and `/loki/api/v1/query_range`: a LogQL query, bounded by the
//! `[logql]` limits and the SQL timeout, answered in Loki's JSON.

use std::time::Instant;

use axum::http::HeaderMap;
use strata_query::logql::{self, Expr, Grid, LogOptions, MetricExpr};

use super::Ctx;
use super::params::Params;
use super::response::{self, QueryStats};
use crate::http::error::ApiError;

/// Header through which Grafana asks for labels split by category.
const ENCODING_FLAGS: &str = "x-loki-response-encoding-flags";

/// Whether the request asks for `categorize-labels`.
pub(crate) fn categorize(headers: &HeaderMap) -> bool {
    headers
        .get_all(ENCODING_FLAGS)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|f| f.trim().eq_ignore_ascii_case("categorize-labels"))
}

/// Parses `query`, with Loki's 400 for a missing one.
pub(crate) fn parse_query(params: &Params<'_>) -> Result<Expr, ApiError> {
    let text = params
        .get("query")
        .ok_or_else(|| ApiError::BadRequest("query parameter is required".into()))?;
    logql::parse(text).map_err(|e| ApiError::BadRequest(e.to_string()))
}

fn duration_text(ns: i64) -> String {
    humantime::format_duration(std::time::Duration::from_nanos(ns.max(0) as u64)).to_string()
}

/// Loki's `max_query_length` and `max_entries_limit_per_query` checks.
fn check_limits(ctx: &Ctx, start: i64, end: i64, limit: Option<usize>) -> Result<(), ApiError> {
    let settings = ctx.queries.logql();
    let max_ns = i64::try_from(settings.max_query_length.as_nanos()).unwrap_or(i64::MAX);
    if end - start > max_ns {
        return Err(ApiError::BadRequest(format!(
            "the query time range exceeds the limit (query length: {}, limit: {})",
            duration_text(end - start),
            duration_text(max_ns)
        )));
    }
    if let Some(limit) = limit
        && limit > settings.max_entries_limit_per_query
    {
        return Err(ApiError::BadRequest(format!(
            "max entries limit per query exceeded, limit > max_entries_limit_per_query ({limit} > {})",
            settings.max_entries_limit_per_query
        )));
    }
    Ok(())
}

/// `query_range`: a log query's streams, or a metric query's matrix.
pub(crate) async fn range(
    ctx: Ctx,
    pairs: Vec<(String, String)>,
    headers: HeaderMap,
) -> Result<String, ApiError> {
    let params = Params(&pairs);
    let expr = parse_query(&params)?;
    let (start, end) = params.range(ctx.now_ns)?;
    let started = Instant::now();
    match expr {
        Expr::Log(log) => {
            let limit = params.limit(100)?;
            check_limits(&ctx, start, end, Some(limit))?;
            let direction = params.direction()?;
            let categorize = categorize(&headers);
            let settings = ctx.queries.logql();
            let (streams, scan) = ctx
                .timed(logql::select_logs(
                    &ctx.session,
                    &ctx.sql,
                    &settings.limits,
                    &log,
                    (start, end),
                    &LogOptions {
                        limit,
                        direction,
                        categorize,
                        interval_ns: params.duration("interval")?.unwrap_or(0).max(0),
                    },
                ))
                .await?;
            let stats = QueryStats {
                scan,
                exec_seconds: started.elapsed().as_secs_f64(),
                entries_returned: streams.iter().map(|s| s.entries.len() as u64).sum(),
            };
            Ok(response::streams(&streams, &stats, categorize))
        }
        Expr::Metric(metric) => {
            check_limits(&ctx, start, end, None)?;
            let grid = Grid::range(start, end, params.step(start, end)?);
            metric_answer(&ctx, &metric, grid, false, started).await
        }
    }
}

/// A metric query's answer over `grid`: a matrix, or for an instant query a vector or
/// scalar.
async fn metric_answer(
    ctx: &Ctx,
    metric: &MetricExpr,
    grid: Grid,
    instant: bool,
    started: Instant,
) -> Result<String, ApiError> {
    let limits = &ctx.queries.logql().limits;
    let (value, scan) = ctx
        .timed(logql::query_metric(
            &ctx.session,
            &ctx.sql,
            limits,
            metric,
            grid,
        ))
        .await?;
    let stats = QueryStats {
        scan,
        exec_seconds: started.elapsed().as_secs_f64(),
        entries_returned: 0,
    };
    Ok(response::metric(&value, &grid, instant, &stats))
}

/// `query`: an instant metric query (a log query is refused, as Loki refuses it).
pub(crate) async fn instant(ctx: Ctx, pairs: Vec<(String, String)>) -> Result<String, ApiError> {
    let params = Params(&pairs);
    let expr = parse_query(&params)?;
    let at = params.time("time", ctx.now_ns)?;
    let started = Instant::now();
    let Expr::Metric(metric) = expr else {
        return Err(ApiError::BadRequest(
            "log queries are not supported as an instant query type, please change your query to a range query type".into(),
        ));
    };
    metric_answer(&ctx, &metric, Grid::instant(at), true, started).await
}
