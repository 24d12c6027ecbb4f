//! The label, series and index endpoints, answered from the streams of the range
//! (`strata_query::logql::streams_in_range`): stream labels only, as Loki's index holds.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use strata_query::logql::{self, Expr, Labels, Matcher, StreamStats};

use super::Ctx;
use super::params::Params;
use super::response::{self, push_labels, string_array};
use crate::http::error::ApiError;

/// A stream selector parameter (a query without a pipeline).
fn selector(text: &str) -> Result<Vec<Matcher>, ApiError> {
    match logql::parse(text).map_err(|e| ApiError::BadRequest(e.to_string()))? {
        Expr::Log(log) => Ok(log.selector),
        Expr::Metric(_) => Err(ApiError::BadRequest(format!(
            "{text:?} is not a stream selector"
        ))),
    }
}

/// `start`/`end` as Loki's bounds (the last hour by default), `end` made exclusive.
fn lookback(params: &Params<'_>, now_ns: i64) -> Result<(i64, i64), ApiError> {
    let (start, end) = params.range(now_ns)?;
    Ok((start, end.saturating_add(1)))
}

async fn streams_of(
    ctx: &Ctx,
    selectors: &[Vec<Matcher>],
    range: (i64, i64),
    steps: logql::Steps,
) -> Result<Vec<StreamStats>, ApiError> {
    let (streams, _) = ctx
        .timed(logql::streams_in_range(
            &ctx.session,
            &ctx.sql,
            selectors,
            range,
            steps,
        ))
        .await?;
    Ok(streams)
}

fn optional_selector(params: &Params<'_>) -> Result<Vec<Vec<Matcher>>, ApiError> {
    params
        .get("query")
        .map(selector)
        .transpose()
        .map(|s| s.into_iter().collect())
}

/// `labels`: the stream label names of the range, sorted.
pub(crate) async fn labels(ctx: Ctx, pairs: Vec<(String, String)>) -> Result<String, ApiError> {
    let params = Params(&pairs);
    let range = lookback(&params, ctx.now_ns)?;
    let sel = optional_selector(&params)?;
    let streams = streams_of(&ctx, &sel, range, None).await?;
    let names: BTreeSet<&str> = streams
        .iter()
        .flat_map(|s| s.labels.iter().map(|(k, _)| k.as_str()))
        .collect();
    Ok(response::data(&string_array(names)))
}

/// `label/{name}/values`: the values of one label, sorted.
pub(crate) async fn label_values(
    ctx: Ctx,
    pairs: Vec<(String, String)>,
    name: &str,
) -> Result<String, ApiError> {
    let params = Params(&pairs);
    let range = lookback(&params, ctx.now_ns)?;
    let sel = optional_selector(&params)?;
    let streams = streams_of(&ctx, &sel, range, None).await?;
    let values: BTreeSet<&str> = streams
        .iter()
        .filter_map(|s| {
            s.labels
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        })
        .collect();
    Ok(response::data(&string_array(values)))
}

/// `series`: the label sets of the streams matching any `match[]` selector.
pub(crate) async fn series(ctx: Ctx, pairs: Vec<(String, String)>) -> Result<String, ApiError> {
    let params = Params(&pairs);
    let range = lookback(&params, ctx.now_ns)?;
    let mut matches: Vec<&str> = params.all("match[]");
    matches.extend(params.all("match"));
    if matches.is_empty() {
        return Err(ApiError::BadRequest(
            "at least one match[] selector is required".into(),
        ));
    }
    let selectors = matches
        .iter()
        .map(|m| selector(m))
        .collect::<Result<Vec<_>, _>>()?;
    let streams = streams_of(&ctx, &selectors, range, None).await?;
    let mut out = String::from("[");
    for (i, s) in streams.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_labels(&mut out, &s.labels);
    }
    out.push(']');
    Ok(response::data(&out))
}

/// `index/stats`: streams, chunks (one per stream and hour partition read), entries and
/// bytes of the streams a selector matches.
pub(crate) async fn stats(ctx: Ctx, pairs: Vec<(String, String)>) -> Result<String, ApiError> {
    let params = Params(&pairs);
    let range = params.range(ctx.now_ns)?;
    let sel = optional_selector(&params)?;
    let streams = streams_of(&ctx, &sel, range, None).await?;
    let entries: u64 = streams.iter().map(|s| s.entries).sum();
    let bytes: u64 = streams.iter().map(|s| s.bytes).sum();
    Ok(format!(
        r#"{{"streams":{},"chunks":{},"entries":{entries},"bytes":{bytes}}}"#,
        streams.len(),
        streams.len()
    ))
}

/// `index/volume` and `index/volume_range` (Loki HTTP API, "Query log volume"): bytes by
/// the selector's label names (or `targetLabels`), largest first, at most `limit`
/// (default 100); `aggregateBy=labels` gives one series per label name, valued `""`.
pub(crate) async fn volume(
    ctx: Ctx,
    pairs: Vec<(String, String)>,
    range_query: bool,
) -> Result<String, ApiError> {
    let params = Params(&pairs);
    let (start, end) = params.range(ctx.now_ns)?;
    let text = params
        .get("query")
        .ok_or_else(|| ApiError::BadRequest("query parameter is required".into()))?;
    let sel = selector(text)?;
    let limit = params.limit(100)?;
    let by_labels = match params.get("aggregateBy") {
        None | Some("series") => false,
        Some("labels") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "invalid aggregateBy {other:?}: series or labels"
            )));
        }
    };
    let targets: Vec<String> = match params.get("targetLabels") {
        Some(t) => t
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        None => sel.iter().map(|m| m.name.clone()).collect(),
    };
    let step = if range_query {
        params.step(start, end)?
    } else {
        end - start + 1
    };
    let steps = usize::try_from((end - start) / step.max(1) + 1).unwrap_or(1);
    let streams = streams_of(
        &ctx,
        std::slice::from_ref(&sel),
        (start, end.saturating_add(1)),
        Some((start, step)),
    )
    .await?;
    let mut groups: BTreeMap<Labels, Vec<u64>> = BTreeMap::new();
    for s in &streams {
        let keys: Vec<Labels> = if by_labels {
            s.labels
                .iter()
                .filter(|(name, _)| targets.contains(name))
                .map(|(name, _)| vec![(name.clone(), String::new())])
                .collect()
        } else {
            vec![
                s.labels
                    .iter()
                    .filter(|(name, _)| targets.contains(name))
                    .cloned()
                    .collect(),
            ]
        };
        for key in keys {
            let sums = groups.entry(key).or_insert_with(|| vec![0; steps]);
            for (sum, b) in sums.iter_mut().zip(&s.bytes_by_step) {
                *sum += b;
            }
        }
    }
    let mut ranked: Vec<(Labels, Vec<u64>)> = groups.into_iter().collect();
    ranked.sort_by(|a, b| {
        b.1.iter()
            .sum::<u64>()
            .cmp(&a.1.iter().sum::<u64>())
            .then(a.0.cmp(&b.0))
    });
    ranked.truncate(limit.max(1));
    let mut out = String::from("[");
    for (i, (labels, bytes)) in ranked.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(r#"{"metric":"#);
        push_labels(&mut out, labels);
        if range_query {
            out.push_str(r#","values":["#);
            for (k, b) in bytes.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                let t = start + k as i64 * step;
                let _ = write!(out, r#"[{},"{b}"]"#, t / 1_000_000_000);
            }
            out.push_str("]}");
        } else {
            let total: u64 = bytes.iter().sum();
            let _ = write!(out, r#","value":[{},"{total}"]}}"#, end / 1_000_000_000);
        }
    }
    out.push(']');
    let kind = if range_query { "matrix" } else { "vector" };
    Ok(response::data(&format!(
        r#"{{"resultType":"{kind}","result":{out}}}"#
    )))
}
