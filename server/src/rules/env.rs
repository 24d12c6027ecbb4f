//! What a rule group reads and writes: one tenant of the running server. Queries run on
//! the embedded engine (PromQL on a blocking thread, LogQL through the tenant's SQL
//! session) and rule results go through the server's write path: the WAL, the tenant's
//! caps, and the same self-metrics as ingest.

use std::sync::Arc;

use strata_engine::{
    Engine, Histogram, HistogramSample, KeyedSeries, MatchOp, Matcher, PendingWrite,
    Sample as EngineSample, TenantId, WriteOutcome,
};

use crate::runtime::self_metrics::Signal;
use strata_query::logql::{self, Grid};
use strata_query::promql::native::FloatHistogram;
use strata_query::promql::{EngineSource, Labels, PromqlEngine, Value};
use strata_query::sql;

use super::Lang;
use super::error::EvalError;
use crate::runtime::state::AppState;

/// One tenant of the running server, with the labels and URL its alerts carry.
#[derive(Clone)]
pub struct Env {
    /// The server.
    pub state: AppState,
    /// The tenant the rules are evaluated for.
    pub tenant: TenantId,
}

/// A sample of a rule's result: its labels and value, a float or a native histogram.
#[derive(Debug, Clone)]
pub struct Point {
    /// The series' labels.
    pub labels: Labels,
    /// The float value (0 for a histogram, as Prometheus's rule manager reads `F`).
    pub value: f64,
    /// The native histogram, when the result is one.
    pub histogram: Option<Arc<FloatHistogram>>,
}

impl Point {
    /// A float sample.
    pub fn float(labels: Labels, value: f64) -> Self {
        Self {
            labels,
            value,
            histogram: None,
        }
    }
}

impl Env {
    fn engine(&self) -> Result<Arc<Engine>, EvalError> {
        self.state
            .engine()
            .map_err(|_| EvalError::Query("the engine is not open yet".into()))
    }

    /// `expr` evaluated at `t_ms`: an instant vector, or a scalar as one sample without
    /// labels (as Prometheus's rule manager takes it).
    pub async fn instant(
        &self,
        lang: Lang,
        expr: &str,
        t_ms: i64,
    ) -> Result<Vec<Point>, EvalError> {
        let engine = self.engine()?;
        match lang {
            Lang::Promql => {
                let (env, expr) = (self.clone(), expr.to_owned());
                tokio::task::spawn_blocking(move || env.promql_blocking(&expr, t_ms))
                    .await
                    .map_err(|e| EvalError::Query(format!("query task failed: {e}")))?
            }
            Lang::Logql => {
                let mut sql = self.state.queries.sql().query.clone();
                sql.memory = self.state.rules_memory.clone();
                let session = sql::tenant_session(engine, &self.tenant, &sql)
                    .map_err(|e| EvalError::Query(e.to_string()))?;
                let logql::Expr::Metric(metric) =
                    logql::parse(expr).map_err(|e| EvalError::Query(e.to_string()))?
                else {
                    return Err(EvalError::Query("a rule needs a metric query".into()));
                };
                let limits = self.state.queries.logql().limits;
                let grid = Grid::instant(t_ms.saturating_mul(1_000_000));
                let (value, _) = logql::query_metric(&session, &sql, &limits, &metric, grid)
                    .await
                    .map_err(|e| EvalError::Query(e.to_string()))?;
                Ok(match value {
                    logql::Value::Matrix(series) => series
                        .into_iter()
                        .filter_map(|s| {
                            let v = s.values.first().copied().flatten()?;
                            Some(Point::float(Labels::from_pairs(s.labels), v))
                        })
                        .collect(),
                    logql::Value::Scalar(v) => v
                        .first()
                        .map(|v| vec![Point::float(Labels::default(), *v)])
                        .unwrap_or_default(),
                })
            }
        }
    }

    /// PromQL `expr` evaluated at `t_ms`, as [`Env::instant`] does, on the calling thread:
    /// call it where blocking is allowed (a group's evaluation runs its rules on one
    /// blocking thread, not one thread hop per rule).
    pub fn promql_blocking(&self, expr: &str, t_ms: i64) -> Result<Vec<Point>, EvalError> {
        let engine = self.engine()?;
        let options = *self.state.queries.promql();
        let budget = self.state.rules_memory.query();
        let source = EngineSource::new(&engine, &self.tenant);
        let result = PromqlEngine::new(options)
            .with_memory(budget)
            .instant(&source, expr, t_ms)
            .map_err(|e| EvalError::Query(e.to_string()))?;
        match result.value {
            Value::Vector(v) => Ok(v
                .into_iter()
                .map(|s| Point {
                    labels: s.labels,
                    value: if s.h.is_some() { 0.0 } else { s.value },
                    histogram: s.h,
                })
                .collect()),
            Value::Scalar { value, .. } => Ok(vec![Point::float(Labels::default(), value)]),
            Value::String { .. } | Value::Matrix(_) => Err(EvalError::Result(
                "rule result is not a vector or scalar".into(),
            )),
        }
    }

    /// Writes `points` at `t_ms` through the write path and waits for the acknowledgement;
    /// returns how many samples the engine rejected (counted in `/metrics` as any write
    /// is) with its first message.
    pub async fn write(&self, points: &[Point], t_ms: i64) -> Result<(u64, String), EvalError> {
        match self.submit(points, t_ms).await? {
            Some(pending) => self.settle(pending).await,
            None => Ok((0, String::new())),
        }
    }

    /// Places `points` at `t_ms` in the engine (readable at once, so the group's next
    /// rules see them) and hands them to the WAL, without waiting for its
    /// acknowledgement: [`Env::settle`] does, once per rule at the end of the group's
    /// evaluation, so a group waits for one fsync, not one per rule.
    pub async fn submit(
        &self,
        points: &[Point],
        t_ms: i64,
    ) -> Result<Option<PendingWrite<WriteOutcome>>, EvalError> {
        if points.is_empty() {
            return Ok(None);
        }
        let (env, points) = (self.clone(), points.to_vec());
        tokio::task::spawn_blocking(move || env.submit_blocking(&points, t_ms))
            .await
            .map_err(|e| EvalError::Write(format!("write task failed: {e}")))?
    }

    /// [`Env::submit`] on the calling thread: call it where blocking is allowed.
    pub fn submit_blocking(
        &self,
        points: &[Point],
        t_ms: i64,
    ) -> Result<Option<PendingWrite<WriteOutcome>>, EvalError> {
        if points.is_empty() {
            return Ok(None);
        }
        let engine = self.engine()?;
        let labels: Vec<Vec<(&str, &str)>> =
            points.iter().map(|p| p.labels.iter().collect()).collect();
        // One sample per point: a float, or a native histogram (engine form).
        let samples: Vec<(Vec<EngineSample>, Vec<HistogramSample>)> = points
            .iter()
            .map(|p| match &p.histogram {
                Some(h) => (
                    Vec::new(),
                    vec![HistogramSample {
                        ts: t_ms,
                        h: Arc::new(Histogram::from(h.as_ref())),
                    }],
                ),
                None => (
                    vec![EngineSample {
                        ts: t_ms,
                        value: p.value,
                    }],
                    Vec::new(),
                ),
            })
            .collect();
        let batch: Vec<KeyedSeries<'_>> = labels
            .iter()
            .zip(&samples)
            .map(|(l, (s, h))| KeyedSeries {
                key: &[],
                by_symbols: false,
                known: None,
                labels: l,
                samples: s,
                histograms: h,
                sample_starts: &[],
                histogram_starts: &[],
            })
            .collect();
        match engine.submit_keyed(&self.tenant, &batch) {
            Ok(pending) => Ok(Some(pending)),
            Err(e) => self
                .state
                .ingest
                .finish_write::<WriteOutcome>(&self.tenant, Signal::Metrics, Err(e))
                .map(|_| None)
                .map_err(|e| EvalError::Write(e.to_string())),
        }
    }

    /// Waits for a submitted write's acknowledgement and counts it; returns how many
    /// samples were rejected, with the first reason.
    pub async fn settle(
        &self,
        pending: PendingWrite<WriteOutcome>,
    ) -> Result<(u64, String), EvalError> {
        let outcome = self
            .state
            .ingest
            .finish_pending(&self.tenant, Signal::Metrics, Ok(pending))
            .await
            .map_err(|e| EvalError::Write(e.to_string()))?;
        let first = outcome
            .messages
            .values()
            .next()
            .cloned()
            .unwrap_or_default();
        Ok((outcome.rejected_total(), first))
    }

    /// The newest sample in `[start_ms, end_ms]` of the `ALERTS_FOR_STATE` series with
    /// exactly `labels` (an alert's), as (timestamp, value): what a restart restores an
    /// alert's `for` state from.
    pub async fn for_state(
        &self,
        labels: &Labels,
        start_ms: i64,
        end_ms: i64,
    ) -> Result<Option<(i64, f64)>, EvalError> {
        let engine = self.engine()?;
        let mut matchers = vec![matcher("__name__", super::ALERTS_FOR_STATE)?];
        for (n, v) in labels.iter() {
            matchers.push(matcher(n, v)?);
        }
        let tenant = self.tenant.clone();
        let want = labels.clone();
        tokio::task::spawn_blocking(move || {
            let series = engine
                .select(&tenant, &matchers, start_ms, end_ms)
                .map_err(|e| EvalError::Query(e.to_string()))?;
            Ok(series
                .into_iter()
                // Exactly the alert's labels: a series with more is another alert's.
                .filter(|s| s.labels.iter().filter(|l| l.name != "__name__").count() == want.len())
                .filter_map(|s| {
                    s.samples
                        .iter()
                        .rev()
                        .find(|x| !strata_query::promql::is_stale_nan(x.value))
                        .map(|x| (x.ts, x.value))
                })
                .max_by_key(|(ts, _)| *ts))
        })
        .await
        .map_err(|e| EvalError::Query(format!("query task failed: {e}")))?
    }
}

fn matcher(name: &str, value: &str) -> Result<Matcher, EvalError> {
    Matcher::new(name, MatchOp::Equal, value).map_err(|e| EvalError::Query(e.to_string()))
}
