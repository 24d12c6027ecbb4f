//! `detected_fields`, `detected_field/{name}/values`, `detected_labels` and `patterns`:
//! what Grafana's Logs Drilldown and the query builder read. Fields and patterns come from
//! a bounded sample, the newest entries of the query (`line_limit`, default 1,000, at
//! most 50,000 for patterns), as Loki's come from what its queriers and pattern ingesters
//! hold.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use strata_query::logql::{self, Direction, Expr, LogExpr, LogOptions, Stream};

use super::Ctx;
use super::params::Params;
use super::response::{push_str, string_array};
use crate::http::error::ApiError;

const DEFAULT_LINE_LIMIT: usize = 1_000;
const PATTERN_LINES: usize = 50_000;

/// The log query of a `query` parameter (a metric query's log part is not taken).
fn log_query(params: &Params<'_>) -> Result<LogExpr, ApiError> {
    let text = params
        .get("query")
        .ok_or_else(|| ApiError::BadRequest("query parameter is required".into()))?;
    match logql::parse(text).map_err(|e| ApiError::BadRequest(e.to_string()))? {
        Expr::Log(log) => Ok(log),
        Expr::Metric(_) => Err(ApiError::BadRequest(
            "only log queries are supported here".into(),
        )),
    }
}

/// The newest `limit` entries of the request's query, with labels by category.
async fn sample(ctx: &Ctx, params: &Params<'_>, limit: usize) -> Result<Vec<Stream>, ApiError> {
    let log = log_query(params)?;
    let range = params.range(ctx.now_ns)?;
    let (streams, _) = ctx
        .timed(logql::select_logs(
            &ctx.session,
            &ctx.sql,
            &ctx.queries.logql().limits,
            &log,
            range,
            &LogOptions {
                limit,
                direction: Direction::Backward,
                categorize: true,
                interval_ns: 0,
            },
        ))
        .await?;
    Ok(streams)
}

fn line_limit(params: &Params<'_>) -> Result<usize, ApiError> {
    match params.get("line_limit") {
        None => Ok(DEFAULT_LINE_LIMIT),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .map(|n| n.min(PATTERN_LINES))
            .ok_or_else(|| ApiError::BadRequest("line_limit must be a positive value".into())),
    }
}

fn field_limit(params: &Params<'_>) -> Result<usize, ApiError> {
    match params.get("limit").or_else(|| params.get("field_limit")) {
        None => Ok(1_000),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ApiError::BadRequest("limit must be a positive value".into())),
    }
}

/// `detected_fields`: `{"fields":[{label, type, cardinality, parsers}], "limit"}`.
pub(crate) async fn fields(ctx: Ctx, pairs: Vec<(String, String)>) -> Result<String, ApiError> {
    let params = Params(&pairs);
    let limit = field_limit(&params)?;
    let streams = sample(&ctx, &params, line_limit(&params)?).await?;
    let mut out = String::from(r#"{"fields":["#);
    for (i, f) in logql::detect_fields(&streams)
        .iter()
        .take(limit)
        .enumerate()
    {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"label":"#);
        push_str(&mut out, &f.label);
        let _ = write!(
            out,
            r#","type":"{}","cardinality":{},"parsers":"#,
            f.kind,
            f.values.len()
        );
        match &f.parsers {
            None => out.push_str("null"),
            Some(p) => out.push_str(&string_array(p.iter().copied())),
        }
        out.push('}');
    }
    let _ = write!(out, r#"],"limit":{limit}}}"#);
    Ok(out)
}

/// `detected_field/{name}/values`: `{"values":[...], "limit"}`.
pub(crate) async fn field_values(
    ctx: Ctx,
    pairs: Vec<(String, String)>,
    name: &str,
) -> Result<String, ApiError> {
    let params = Params(&pairs);
    let limit = field_limit(&params)?;
    let streams = sample(&ctx, &params, line_limit(&params)?).await?;
    let values: BTreeSet<String> = logql::detect_fields(&streams)
        .into_iter()
        .filter(|f| f.label == name)
        .flat_map(|f| f.values)
        .take(limit)
        .collect();
    Ok(format!(
        r#"{{"values":{},"limit":{limit}}}"#,
        string_array(values.iter().map(String::as_str))
    ))
}

/// `detected_labels`: the stream labels of the range with their distinct values,
/// `{"detectedLabels":[{label, cardinality}]}`.
pub(crate) async fn labels(ctx: Ctx, pairs: Vec<(String, String)>) -> Result<String, ApiError> {
    let params = Params(&pairs);
    let range = params.range(ctx.now_ns)?;
    let selectors: Vec<Vec<logql::Matcher>> = match params.get("query") {
        Some(q) if q.trim() != "{}" => vec![log_query(&params)?.selector],
        _ => Vec::new(),
    };
    let (streams, _) = ctx
        .timed(logql::streams_in_range(
            &ctx.session,
            &ctx.sql,
            &selectors,
            range,
            None,
        ))
        .await?;
    let mut values: std::collections::BTreeMap<&str, BTreeSet<&str>> = Default::default();
    for s in &streams {
        for (k, v) in s.labels.iter() {
            values.entry(k).or_default().insert(v);
        }
    }
    let mut out = String::from(r#"{"detectedLabels":["#);
    for (i, (label, vals)) in values.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"label":"#);
        push_str(&mut out, label);
        let _ = write!(out, r#","cardinality":{}}}"#, vals.len());
    }
    out.push_str("]}");
    Ok(out)
}

/// `patterns`: Drain patterns of the newest lines (at most 50,000) with their counts per
/// `step`, `{"status":"success","data":[{pattern, level, samples:[[s, n]]}]}`.
pub(crate) async fn patterns(ctx: Ctx, pairs: Vec<(String, String)>) -> Result<String, ApiError> {
    let params = Params(&pairs);
    let (start, end) = params.range(ctx.now_ns)?;
    let step = params.step(start, end)?;
    let streams = sample(&ctx, &params, PATTERN_LINES).await?;
    let mut out = String::from(r#"{"status":"success","data":["#);
    for (i, p) in logql::patterns(&streams, step).iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"pattern":"#);
        push_str(&mut out, &p.pattern);
        out.push_str(r#","level":"#);
        push_str(&mut out, &p.level);
        out.push_str(r#","samples":["#);
        for (j, (ts, n)) in p.samples.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(out, "[{},{n}]", ts.div_euclid(1_000_000_000));
        }
        out.push_str("]}");
    }
    out.push_str("]}");
    Ok(out)
}
