//! The endpoints: each parses its parameters in Prometheus's order (so the first bad one is
//! the one reported, as in Prometheus), runs against one tenant of the engine and renders
//! the `data`.

use std::collections::BTreeSet;
use std::time::Duration;

use strata_engine::{Engine, TenantId};

use super::error::{ApiError, Result};
use super::json::{self, Escape};
use super::params::{
    self, MAX_TIME_MS, MIN_TIME_MS, Params, Time, engine_matchers, go_quote, limit_param,
    lookback_param, matcher_sets, parse_duration, parse_time, time_param, timeout_param,
};
use super::response::{Response, Success, query_data, text_bytes};
use crate::memory::QueryBudget;
use crate::promql::{
    EngineSource, LabelMatcher, Labels, MAX_POINTS_PER_SERIES, PromqlEngine, QueryOptions,
    QueryResult,
};

/// The warning Prometheus adds when `limit` cut a result.
const TRUNCATED: &str = "results truncated due to limit";

/// What `/api/v1/status/buildinfo` reports. Grafana reads `version` to pick the Prometheus
/// features it may use, so the default names the Prometheus API version Strata follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// `version`: the Prometheus API level answered (default `3.0.0`).
    pub version: String,
    /// `revision`: Strata's own version.
    pub revision: String,
    /// `branch`.
    pub branch: String,
    /// `buildUser`.
    pub build_user: String,
    /// `buildDate`.
    pub build_date: String,
    /// `goVersion`: the toolchain (here the Rust one, when known).
    pub go_version: String,
}

impl Default for BuildInfo {
    fn default() -> Self {
        Self {
            version: "3.0.0".into(),
            revision: format!("strata-{}", env!("CARGO_PKG_VERSION")),
            branch: String::new(),
            build_user: String::new(),
            build_date: String::new(),
            go_version: String::new(),
        }
    }
}

/// The Prometheus HTTP API over a [`strata_engine::Engine`], independent of any web
/// framework: each method takes the request's parameters as (name, value) pairs (query
/// string and form body merged) and the current time, and returns the status and JSON body.
#[derive(Debug, Clone, Default)]
pub struct PromApi {
    /// PromQL settings: lookback, sample limit, and the timeout a request's `timeout` can
    /// only shorten.
    pub options: QueryOptions,
    /// What `buildinfo` reports.
    pub build_info: BuildInfo,
    /// The query memory pool each query takes its share of (`None`: `options.max_samples`
    /// alone bounds a query).
    pub memory: Option<crate::memory::QueryMemory>,
}

impl PromApi {
    /// An API evaluating PromQL with `options`.
    pub fn new(options: QueryOptions) -> Self {
        Self {
            options,
            build_info: BuildInfo::default(),
            memory: None,
        }
    }

    /// The API with each query charging a share of `pool`.
    pub fn with_memory(mut self, pool: crate::memory::QueryMemory) -> Self {
        self.memory = Some(pool);
        self
    }

    /// `/api/v1/query`: `query`, `time` (default `now_ms`), `timeout`, `limit`,
    /// `lookback_delta`.
    pub fn query(
        &self,
        engine: &Engine,
        tenant: &TenantId,
        params: &[(String, String)],
        now_ms: i64,
    ) -> Response {
        self.instant(engine, tenant, Params::new(params), now_ms)
            .into()
    }

    /// `/api/v1/query_range`: `query`, `start`, `end`, `step`, `timeout`, `limit`,
    /// `lookback_delta`.
    pub fn query_range(
        &self,
        engine: &Engine,
        tenant: &TenantId,
        params: &[(String, String)],
    ) -> Response {
        self.range(engine, tenant, Params::new(params)).into()
    }

    /// `/api/v1/series`: `match[]` (one or more), `start`, `end` (default: all time),
    /// `limit`.
    pub fn series(
        &self,
        engine: &Engine,
        tenant: &TenantId,
        params: &[(String, String)],
    ) -> Response {
        series(engine, tenant, Params::new(params)).into()
    }

    /// `/api/v1/labels`: `match[]` (optional), `start`, `end`, `limit`.
    pub fn labels(
        &self,
        engine: &Engine,
        tenant: &TenantId,
        params: &[(String, String)],
    ) -> Response {
        label_names(engine, tenant, Params::new(params)).into()
    }

    /// `/api/v1/label/<name>/values`: `name` as taken from the (percent-decoded) path, in
    /// `U__` escaping or not; `match[]`, `start`, `end`, `limit`.
    pub fn label_values(
        &self,
        engine: &Engine,
        tenant: &TenantId,
        name: &str,
        params: &[(String, String)],
    ) -> Response {
        label_values(engine, tenant, name, Params::new(params)).into()
    }

    /// `/api/v1/metadata`: the tenant's metric metadata (remote-write and OTLP store it,
    /// [`Engine::metadata`]), by metric family name; `metric` picks one, `limit` caps the
    /// metrics (negative: all; 0: none, as Prometheus), `limit_per_metric` the entries per
    /// metric (0 or negative: all).
    pub fn metadata(
        &self,
        engine: &Engine,
        tenant: &TenantId,
        params: &[(String, String)],
    ) -> Response {
        metadata(engine, tenant, Params::new(params)).into()
    }

    /// `/api/v1/status/buildinfo`.
    pub fn buildinfo(&self) -> Response {
        let b = &self.build_info;
        let mut out = String::from("{");
        for (i, (k, v)) in [
            ("version", &b.version),
            ("revision", &b.revision),
            ("branch", &b.branch),
            ("buildUser", &b.build_user),
            ("buildDate", &b.build_date),
            ("goVersion", &b.go_version),
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                out.push(',');
            }
            json::string(&mut out, k, Escape::Jsoniter);
            out.push(':');
            json::string(&mut out, v, Escape::Jsoniter);
        }
        out.push('}');
        Response::from(Ok(Success {
            data: out,
            ..Success::default()
        }))
    }

    /// The PromQL evaluator for one request: the request's `timeout` can only shorten the
    /// configured one; `lookback_delta` replaces the lookback. With a memory pool, also the
    /// query's share of it, which the answer's text is charged to as well ([`answer`]).
    fn evaluator(
        &self,
        timeout: Option<Duration>,
        lookback: Option<Duration>,
    ) -> (PromqlEngine, Option<QueryBudget>) {
        let mut o = self.options;
        if let Some(t) = timeout {
            o.timeout = o.timeout.min(t);
        }
        if let Some(l) = lookback {
            o.lookback = l;
        }
        match &self.memory {
            Some(pool) => {
                let budget = pool.query();
                (
                    PromqlEngine::new(o).with_memory(budget.clone()),
                    Some(budget),
                )
            }
            None => (PromqlEngine::new(o), None),
        }
    }

    fn instant(
        &self,
        engine: &Engine,
        tenant: &TenantId,
        p: Params<'_>,
        now_ms: i64,
    ) -> Result<Success> {
        let limit = limit_param(&p)?;
        let t = time_param(&p, "time", Time::from_ms(now_ms))?;
        let timeout = timeout_param(&p)?;
        let lookback = lookback_param(&p)?;
        let t_ms = t.ms();
        let (promql, budget) = self.evaluator(timeout, lookback);
        let res = promql
            .instant(&EngineSource::new(engine, tenant), p.value("query"), t_ms)
            .map_err(|e| ApiError::from_promql(e, true))?;
        let (data, truncated) = answer(&res, t_ms, limit, budget.as_ref(), true)?;
        let mut warnings = res.warnings;
        if truncated {
            warnings.push(TRUNCATED.into());
        }
        Ok(Success {
            data,
            warnings,
            infos: res.infos,
        })
    }

    fn range(&self, engine: &Engine, tenant: &TenantId, p: Params<'_>) -> Result<Success> {
        let limit = limit_param(&p)?;
        let start =
            parse_time(p.value("start")).map_err(|e| ApiError::invalid_param("start", e))?;
        let end = parse_time(p.value("end")).map_err(|e| ApiError::invalid_param("end", e))?;
        if end < start {
            return Err(ApiError::invalid_param(
                "end",
                "end timestamp must not be before start time",
            ));
        }
        let step =
            parse_duration(p.value("step")).map_err(|e| ApiError::invalid_param("step", e))?;
        if step <= 0 {
            return Err(ApiError::invalid_param(
                "step",
                "zero or negative query resolution step widths are not accepted. Try a positive integer",
            ));
        }
        // Go's `end.Sub(start) / step`: a Duration saturating at its maximum, then integer
        // division.
        let span = (end.ns() - start.ns()).min(i128::from(i64::MAX));
        if span / i128::from(step) > i128::from(MAX_POINTS_PER_SERIES) {
            return Err(ApiError::BadData(
                "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into(),
            ));
        }
        let timeout = timeout_param(&p)?;
        let lookback = lookback_param(&p)?;
        let (promql, budget) = self.evaluator(timeout, lookback);
        let res = promql
            .range(
                &EngineSource::new(engine, tenant),
                p.value("query"),
                start.ms(),
                end.ms(),
                step / 1_000_000,
            )
            .map_err(|e| ApiError::from_promql(e, false))?;
        let (data, truncated) = answer(&res, end.ms(), limit, budget.as_ref(), false)?;
        let mut warnings = res.warnings;
        if truncated {
            warnings.push(TRUNCATED.into());
        }
        Ok(Success {
            data,
            warnings,
            infos: res.infos,
        })
    }
}

/// The `data` text of `res` ([`query_data`]); under a `budget`, its size is charged to the
/// query's share first, and a text over the share is refused as the evaluation would be.
/// The answer's points are no longer charged once evaluated: the estimate (48 bytes a
/// point) covers them (16) beside the text (about 30).
fn answer(
    res: &QueryResult,
    eval_ms: i64,
    limit: usize,
    budget: Option<&QueryBudget>,
    instant: bool,
) -> Result<(String, bool)> {
    let _held = match budget {
        Some(b) => {
            let mut c = b.charge("promql answer text");
            c.add(text_bytes(res))
                .map_err(|e| ApiError::from_promql(crate::promql::Error::OverMemory(e), instant))?;
            Some(c)
        }
        None => None,
    };
    Ok(query_data(res, eval_ms, limit))
}

/// The label sets of the series matching any of `sets` with samples in `[start, end]`,
/// sorted and deduplicated.
fn matching_series(
    engine: &Engine,
    tenant: &TenantId,
    sets: &[Vec<LabelMatcher>],
    start: i64,
    end: i64,
) -> Result<BTreeSet<Labels>> {
    let mut out = BTreeSet::new();
    for set in sets {
        let ms = engine_matchers(set)?;
        for s in engine
            .select(tenant, &ms, start, end)
            .map_err(ApiError::from_engine)?
        {
            out.insert(Labels::from_pairs(
                s.labels.iter().map(|l| (l.name.as_str(), l.value.as_str())),
            ));
        }
    }
    Ok(out)
}

/// The start and end of the metadata endpoints (defaults: all time).
fn window(p: &Params<'_>) -> Result<(i64, i64)> {
    let start = time_param(p, "start", Time::from_ms(MIN_TIME_MS))?;
    let end = time_param(p, "end", Time::from_ms(MAX_TIME_MS))?;
    Ok((start.ms(), end.ms()))
}

/// Cuts `items` to `limit` (0: no limit), with Prometheus's warning when it cut.
fn truncate<T>(items: &mut Vec<T>, limit: usize) -> Vec<String> {
    if limit > 0 && items.len() > limit {
        items.truncate(limit);
        vec![TRUNCATED.into()]
    } else {
        Vec::new()
    }
}

fn series(engine: &Engine, tenant: &TenantId, p: Params<'_>) -> Result<Success> {
    if p.values("match[]").is_empty() {
        return Err(ApiError::BadData("no match[] parameter provided".into()));
    }
    let limit = limit_param(&p)?;
    let (start, end) = window(&p)?;
    let sets = matcher_sets(&p, true)?;
    let mut found: Vec<Labels> = matching_series(engine, tenant, &sets, start, end)?
        .into_iter()
        .collect();
    let warnings = truncate(&mut found, limit);
    let mut data = String::from("[");
    for (i, l) in found.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        json::labels(&mut data, l);
    }
    data.push(']');
    Ok(Success {
        data,
        warnings,
        infos: Vec::new(),
    })
}

fn label_names(engine: &Engine, tenant: &TenantId, p: Params<'_>) -> Result<Success> {
    let limit = limit_param(&p)?;
    let (start, end) = window(&p)?;
    let sets = matcher_sets(&p, false)?;
    let mut names: Vec<String> = if sets.is_empty() {
        engine
            .label_names(tenant, start, end)
            .map_err(ApiError::from_engine)?
    } else {
        let mut all = BTreeSet::new();
        for l in matching_series(engine, tenant, &sets, start, end)? {
            all.extend(l.iter().map(|(n, _)| n.to_owned()));
        }
        all.into_iter().collect()
    };
    names.sort();
    let warnings = truncate(&mut names, limit);
    let mut data = String::new();
    json::string_array(&mut data, &names);
    Ok(Success {
        data,
        warnings,
        infos: Vec::new(),
    })
}

fn label_values(engine: &Engine, tenant: &TenantId, name: &str, p: Params<'_>) -> Result<Success> {
    let name = params::unescape_name(name);
    // Prometheus 3 validates names as UTF-8 (any non-empty string is a valid label name).
    if name.is_empty() {
        return Err(ApiError::BadData(format!(
            "invalid label name: {}",
            go_quote(&name)
        )));
    }
    let limit = limit_param(&p)?;
    let (start, end) = window(&p)?;
    let sets = matcher_sets(&p, false)?;
    let mut values: Vec<String> = if sets.is_empty() {
        engine
            .label_values(tenant, &name, start, end)
            .map_err(ApiError::from_engine)?
    } else {
        let mut all = BTreeSet::new();
        for l in matching_series(engine, tenant, &sets, start, end)? {
            if l.has(&name) {
                all.insert(l.get(&name).to_owned());
            }
        }
        all.into_iter().collect()
    };
    values.sort();
    let warnings = truncate(&mut values, limit);
    let mut data = String::new();
    json::string_array(&mut data, &values);
    Ok(Success {
        data,
        warnings,
        infos: Vec::new(),
    })
}

/// Prometheus's `metricMetadata` (web/api/v1/api.go), over the engine's store instead of
/// the scrape targets: metrics sorted by name, each metric's entries oldest first.
fn metadata(engine: &Engine, tenant: &TenantId, p: Params<'_>) -> Result<Success> {
    let mut limits = [None; 2];
    for (i, name) in ["limit", "limit_per_metric"].into_iter().enumerate() {
        let v = p.value(name);
        if !v.is_empty() {
            let n = params::go_atoi(v)
                .map_err(|_| ApiError::BadData(format!("{name} must be a number")))?;
            // `limit` counts from 0, `limit_per_metric` from 1: Prometheus's checks.
            let floor = if i == 0 { 0 } else { 1 };
            limits[i] = (n >= floor).then(|| usize::try_from(n).unwrap_or(usize::MAX));
        }
    }
    let metric = Some(p.value("metric")).filter(|m| !m.is_empty());
    let read = engine.metadata(tenant, metric, limits[0], limits[1]);
    let mut data = String::from("{");
    for (i, (name, entries)) in read.iter().enumerate() {
        if i > 0 {
            data.push(',');
        }
        json::string(&mut data, name, Escape::Jsoniter);
        data.push_str(":[");
        for (j, m) in entries.iter().enumerate() {
            if j > 0 {
                data.push(',');
            }
            data.push_str("{\"type\":");
            json::string(&mut data, m.kind.as_str(), Escape::Jsoniter);
            data.push_str(",\"help\":");
            json::string(&mut data, &m.help, Escape::Jsoniter);
            data.push_str(",\"unit\":");
            json::string(&mut data, &m.unit, Escape::Jsoniter);
            data.push('}');
        }
        data.push(']');
    }
    data.push('}');
    Ok(Success {
        data,
        ..Success::default()
    })
}
