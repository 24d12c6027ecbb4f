//! TraceQL metrics (Tempo's "TraceQL metrics functions"): `rate()`, `count_over_time()`,
//! `min/max/avg/sum_over_time()`, `quantile_over_time()` and `histogram_over_time()`,
//! `by (...)`, on a step grid aligned as Tempo's query frontend aligns it.
//!
//! The range is widened to whole steps (start rounded down, end up) and one step earlier
//! at the start; step `k` covers span start times in `(start + k·step, start + (k+1)·step]`
//! and its point is at the step's end. `rate()` and `count_over_time()` of one exact
//! filter, grouped by fields with columns, are counted by SQL ([`super::counts`]); any
//! other query that is one spanset filter reading no
//! trace-level field is answered from the matching rows of SQL; any other from the
//! candidate traces read whole and evaluated in memory.

use std::collections::HashMap;
use std::sync::Arc;

use strata_engine::{Engine, TenantId, spans_from_batch};

use super::ast::{Field, FieldExpr, Intrinsic, Metrics, MetricsFn, Query, SpansetExpr, Stage};
use super::counts::counts;
use super::error::{Error, Result};
use super::eval::{as_f64, eval, fields_of, matches};
use super::prefilter::trace_condition;
use super::search::{MAX_CANDIDATES, load, traces_bytes};
use super::spanset::pipeline;
use super::trace::TraceView;
use super::{MetricSeries, MetricsParams, Value};
use super::{compare, math};
use crate::memory::SessionCharge;
use crate::sql::{self, SqlConfig, SqlStream};

/// Most steps a query may have (Prometheus's bound on points per series).
pub const MAX_STEPS: i64 = 11_000;

/// The aligned grid: `(start, step, steps)`.
fn grid(p: &MetricsParams) -> Result<(i64, i64, usize)> {
    if p.step_ns <= 0 {
        return Err(Error::Query("step must be positive".into()));
    }
    if p.start_ns > p.end_ns {
        return Err(Error::Query("end must not be before start".into()));
    }
    let step = p.step_ns;
    let mut start = p.start_ns - p.start_ns.rem_euclid(step);
    let end = match p.end_ns.rem_euclid(step) {
        0 => p.end_ns,
        m => p.end_ns.saturating_add(step - m),
    };
    if start > step {
        start -= step;
    }
    let steps = (end - start) / step;
    if steps > MAX_STEPS {
        return Err(Error::Query(format!(
            "exceeded maximum resolution of {MAX_STEPS} points per timeseries: \
             try decreasing the query resolution (?step=XX)"
        )));
    }
    Ok((start, step, steps.max(0) as usize))
}

/// The step of start time `ts`, if in the grid.
fn step_of(ts: i64, start: i64, step: i64, steps: usize) -> Option<usize> {
    if ts <= start {
        return None;
    }
    let k = ((ts - start - 1) / step) as usize;
    (k < steps).then_some(k)
}

/// Tempo's log2 bucket of `v`: the next power of two at or above it, `None` below 2.
fn log2_bucket(v: u64) -> Option<f64> {
    (v >= 2).then(|| (1u128 << (64 - (v - 1).leading_zeros())) as f64)
}

/// Tempo's quantile of log2 buckets (bucket upper bound, count), sorted by bound, with
/// exponential interpolation inside the bucket.
fn log2_quantile(p: f64, buckets: &[(f64, u64)]) -> f64 {
    let total: u64 = buckets.iter().map(|b| b.1).sum();
    if total == 0 || !(0.0..=1.0).contains(&p) {
        return 0.0;
    }
    let want = ((p * total as f64).ceil() as u64).max(1);
    let (mut seen, mut at) = (0u64, 0usize);
    for (i, b) in buckets.iter().enumerate() {
        at = i;
        if seen + b.1 > want {
            break;
        }
        seen += b.1;
        if seen == want {
            return b.0;
        }
    }
    let interp = (want - seen) as f64 / buckets[at].1 as f64;
    let max = buckets[at].0.log2();
    let min = if at > 0 {
        buckets[at - 1].0.log2()
    } else {
        max - 1.0
    };
    2f64.powf(min + (max - min) * interp)
}

/// A number for the over-time functions: durations in seconds.
fn metric_number(v: &Value) -> Option<f64> {
    match v {
        Value::Duration(ns) => Some(*ns as f64 / 1e9),
        other => as_f64(other).filter(|f| !f.is_nan()),
    }
}

/// The histogram bucket of a value: durations by ns, in seconds; ints as they are.
fn bucket_of(v: &Value) -> Option<f64> {
    match v {
        Value::Duration(ns) => log2_bucket(u64::try_from(*ns).ok()?).map(|b| b / 1e9),
        Value::Int(i) => log2_bucket(u64::try_from(*i).ok()?),
        _ => None,
    }
}

/// One series being accumulated.
struct Acc {
    labels: Vec<(String, Value)>,
    count: Vec<f64>,
    sum: Vec<f64>,
    min: Vec<f64>,
    max: Vec<f64>,
    /// Per step: (bucket, count).
    buckets: Vec<Vec<(f64, u64)>>,
}

struct Grid {
    start: i64,
    step: i64,
    steps: usize,
    series: Vec<Acc>,
    index: HashMap<String, usize>,
    /// Bytes `series` and `index` hold (approximately).
    bytes: usize,
}

/// Bytes one series' step holds beside its buckets: count, sum, min, max and the buckets'
/// vector.
const STEP_BYTES: usize = 4 * 8 + 24;

impl Grid {
    fn series(&mut self, labels: Vec<(String, Value)>) -> &mut Acc {
        let key = format!("{labels:?}");
        let n = self.steps;
        let bytes = &mut self.bytes;
        let i = *self.index.entry(key).or_insert_with_key(|key| {
            *bytes += n * STEP_BYTES + 2 * key.len() + 64 * (labels.len() + 2);
            self.series.push(Acc {
                labels,
                count: vec![0.0; n],
                sum: vec![0.0; n],
                min: vec![f64::NAN; n],
                max: vec![f64::NAN; n],
                buckets: vec![Vec::new(); n],
            });
            self.series.len() - 1
        });
        &mut self.series[i]
    }
}

fn arg_of(f: &MetricsFn) -> Option<&FieldExpr> {
    match f {
        MetricsFn::Rate | MetricsFn::CountOverTime => None,
        MetricsFn::Compare(c) => Some(&c.filter),
        MetricsFn::MinOverTime(e)
        | MetricsFn::MaxOverTime(e)
        | MetricsFn::AvgOverTime(e)
        | MetricsFn::SumOverTime(e)
        | MetricsFn::QuantileOverTime(e, _)
        | MetricsFn::HistogramOverTime(e) => Some(e),
    }
}

/// Adds span `i` of `t` to the grid.
fn observe(g: &mut Grid, m: &Metrics, t: &TraceView, i: usize) {
    let Some(k) = step_of(t.spans[i].start_ns, g.start, g.step, g.steps) else {
        return;
    };
    if let MetricsFn::Compare(c) = &m.func {
        for labels in compare::labels_of(c, t, i) {
            g.series(labels).count[k] += 1.0;
        }
        return;
    }
    let mut labels: Vec<(String, Value)> = Vec::new();
    for e in &m.by {
        let v = eval(t, i, e);
        if v != Value::Nil {
            labels.push((e.to_string(), v));
        }
    }
    if labels.is_empty() {
        labels.push(match m.by.first() {
            Some(e) => (e.to_string(), Value::Nil),
            None => ("__name__".into(), Value::Str(m.func.name().into())),
        });
    }
    let arg = arg_of(&m.func).map(|e| eval(t, i, e));
    match &m.func {
        MetricsFn::Rate | MetricsFn::CountOverTime => g.series(labels).count[k] += 1.0,
        MetricsFn::QuantileOverTime(..) | MetricsFn::HistogramOverTime(_) => {
            let Some(b) = arg.as_ref().and_then(bucket_of) else {
                return;
            };
            if matches!(m.func, MetricsFn::HistogramOverTime(_)) {
                labels.push(("__bucket".into(), Value::Float(b)));
            }
            let acc = g.series(labels);
            match acc.buckets[k].iter_mut().find(|x| x.0 == b) {
                Some(x) => x.1 += 1,
                None => {
                    acc.buckets[k].push((b, 1));
                    g.bytes += 16;
                }
            }
        }
        _ => {
            let Some(x) = arg.as_ref().and_then(metric_number) else {
                return;
            };
            let acc = g.series(labels);
            acc.count[k] += 1.0;
            acc.sum[k] += x;
            acc.min[k] = if acc.min[k].is_nan() {
                x
            } else {
                acc.min[k].min(x)
            };
            acc.max[k] = if acc.max[k].is_nan() {
                x
            } else {
                acc.max[k].max(x)
            };
        }
    }
}

/// The answer's series from the accumulated grid.
fn finish(g: Grid, m: &Metrics) -> Vec<MetricSeries> {
    let mut series = series_of(g, m);
    if let MetricsFn::Compare(c) = &m.func {
        series = compare::select(series, c.top);
    }
    match m.second {
        Some(s) => second_stage(series, s),
        None => series,
    }
}

/// A second stage over `series`, as Tempo's `topk`/`bottomk`: at each step the `k`
/// series with the highest (lowest) value keep their point there, ties going to the
/// series whose labels sort first; a series kept at no step is left out.
fn second_stage(series: Vec<MetricSeries>, s: super::ast::SecondStage) -> Vec<MetricSeries> {
    use super::ast::SecondStage;
    let (k, top) = match s {
        SecondStage::TopK(k) => (k, true),
        SecondStage::BottomK(k) => (k, false),
    };
    let keys: Vec<String> = series.iter().map(|s| format!("{:?}", s.labels)).collect();
    let times: std::collections::BTreeSet<i64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .collect();
    let mut kept: Vec<std::collections::HashSet<i64>> = vec![Default::default(); series.len()];
    for t in times {
        let mut at: Vec<(usize, f64)> = series
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let j = s.points.binary_search_by_key(&t, |p| p.0).ok()?;
                Some((i, s.points[j].1))
            })
            .collect();
        at.sort_by(|a, b| {
            let by_value = if top {
                b.1.total_cmp(&a.1)
            } else {
                a.1.total_cmp(&b.1)
            };
            by_value.then_with(|| keys[a.0].cmp(&keys[b.0]))
        });
        for (i, _) in at.into_iter().take(k) {
            kept[i].insert(t);
        }
    }
    series
        .into_iter()
        .zip(kept)
        .filter_map(|(mut s, keep)| {
            s.points.retain(|p| keep.contains(&p.0));
            (!s.points.is_empty()).then_some(s)
        })
        .collect()
}

/// The grid's series, as the metrics function makes them.
fn series_of(g: Grid, m: &Metrics) -> Vec<MetricSeries> {
    let ts = |k: usize| (g.start + (k as i64 + 1) * g.step).div_euclid(1_000_000);
    let step_s = g.step as f64 / 1e9;
    let mut out = Vec::new();
    for acc in g.series {
        let points = |f: &dyn Fn(usize) -> f64| -> Vec<(i64, f64)> {
            (0..g.steps)
                .map(|k| (ts(k), f(k)))
                .filter(|(_, v)| !v.is_nan())
                .collect()
        };
        if let MetricsFn::QuantileOverTime(_, qs) = &m.func {
            for q in qs {
                let mut labels = acc.labels.clone();
                labels.push(("p".into(), Value::Float(*q)));
                let pts = points(&|k| {
                    let mut b = acc.buckets[k].clone();
                    b.sort_by(|x, y| x.0.total_cmp(&y.0));
                    log2_quantile(*q, &b)
                });
                out.push(MetricSeries {
                    labels,
                    points: pts,
                });
            }
            continue;
        }
        let pts = match &m.func {
            MetricsFn::Rate => points(&|k| acc.count[k] / step_s),
            MetricsFn::CountOverTime | MetricsFn::Compare(_) => points(&|k| acc.count[k]),
            MetricsFn::HistogramOverTime(_) => {
                points(&|k| acc.buckets[k].iter().map(|b| b.1 as f64).sum())
            }
            MetricsFn::MinOverTime(_) => points(&|k| acc.min[k]),
            MetricsFn::MaxOverTime(_) => points(&|k| acc.max[k]),
            MetricsFn::SumOverTime(_) => points(&|k| {
                if acc.count[k] > 0.0 {
                    acc.sum[k]
                } else {
                    f64::NAN
                }
            }),
            _ => points(&|k| acc.sum[k] / acc.count[k]),
        };
        if !pts.is_empty() {
            out.push(MetricSeries {
                labels: acc.labels,
                points: pts,
            });
        }
    }
    out
}

/// Whether the query's value for a span depends on nothing but the span (so rows of SQL
/// can be evaluated one by one).
fn span_local(q: &Query, m: &Metrics) -> Option<FieldExpr> {
    let [Stage::Spanset(SpansetExpr::Filter(f))] = q.pipeline.stages.as_slice() else {
        return None;
    };
    let mut fields = Vec::new();
    fields_of(f, &mut fields);
    for e in m.by.iter().chain(arg_of(&m.func)) {
        fields_of(e, &mut fields);
    }
    let local = fields.iter().all(|f| match f {
        Field::Intrinsic(i) => !i.is_trace_level() && *i != Intrinsic::ChildCount,
        Field::Attr(..) => true,
    });
    local.then(|| f.clone())
}

/// The series of metrics query `q` over `p`'s range and step.
pub async fn metrics_range(
    engine: &Arc<Engine>,
    tenant: &TenantId,
    sql_cfg: &SqlConfig,
    q: &Query,
    p: &MetricsParams,
) -> Result<Vec<MetricSeries>> {
    if let Some(mm) = &q.math {
        let lhs = Box::pin(metrics_range(engine, tenant, sql_cfg, &mm.lhs, p)).await?;
        let rhs = Box::pin(metrics_range(engine, tenant, sql_cfg, &mm.rhs, p)).await?;
        return Ok(math::apply(mm.op, lhs, rhs));
    }
    let Some(m) = &q.metrics else {
        return Err(Error::Query(
            "not a metrics query: it must end in a metrics function such as rate()".into(),
        ));
    };
    let (start, step, steps) = grid(p)?;
    let mut g = Grid {
        start,
        step,
        steps,
        series: Vec::new(),
        index: HashMap::new(),
        bytes: 0,
    };
    let end = start + step * steps as i64;
    let cond = trace_condition(&q.pipeline);
    let ctx = sql::tenant_session(engine.clone(), tenant, sql_cfg)?;
    // The grid, and the traces being read into it, charged to the query's share.
    let mut held = SessionCharge::new(&ctx, "traceql series");
    let mut conds = Vec::new();
    if !cond.is_true() {
        conds.push(cond.sql.clone());
    }
    conds.push(format!("start_time > to_timestamp_nanos({start})"));
    conds.push(format!("start_time <= to_timestamp_nanos({end})"));
    let filter = conds.join(" AND ");
    if cond.exact
        && q.pipeline.stages.len() == 1
        && let Some(rows) = counts(&ctx, sql_cfg, m, &filter, start, step).await?
    {
        for (labels, k, n) in rows {
            if k < g.steps {
                g.series(labels).count[k] += n;
                held.set(g.bytes)?;
            }
        }
        return Ok(finish(g, m));
    }
    if let Some(f) = span_local(q, m) {
        let mut stream = SqlStream::start(
            &ctx,
            &format!("SELECT * FROM spans WHERE {filter}"),
            sql_cfg,
        )
        .await?;
        while let Some(batch) = stream.next_batch().await? {
            let t = TraceView::new(spans_from_batch(&batch)?);
            for i in 0..t.spans.len() {
                if matches(&t, i, &f) {
                    observe(&mut g, m, &t, i);
                }
            }
            held.set(g.bytes)?;
        }
        return Ok(finish(g, m));
    }
    let q_ids = format!(
        "SELECT trace_id, max(start_time) AS last FROM spans WHERE {filter} \
         GROUP BY trace_id LIMIT {}",
        MAX_CANDIDATES + 1
    );
    let ids: Vec<_> = sql::trace_rows(&sql::run_sql(&ctx, &q_ids, sql_cfg).await?)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    if ids.len() > MAX_CANDIDATES {
        return Err(Error::Query(format!(
            "the query reads more than {MAX_CANDIDATES} traces whole: narrow its first \
             spanset filter or the time range"
        )));
    }
    for chunk in ids.chunks(1_000) {
        let traces = load(engine, tenant, chunk.to_vec(), start, end).await?;
        held.set(g.bytes + traces_bytes(&traces))?;
        for (_, spans) in traces {
            let t = TraceView::new(spans);
            let mut chosen: Vec<usize> = pipeline(&t, &q.pipeline)
                .into_iter()
                .flat_map(|s| s.spans)
                .collect();
            chosen.sort_unstable();
            chosen.dedup();
            for i in chosen {
                observe(&mut g, m, &t, i);
            }
        }
        held.set(g.bytes)?;
    }
    Ok(finish(g, m))
}
