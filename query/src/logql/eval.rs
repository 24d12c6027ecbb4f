//! Metric queries: each range aggregation read by one scan over the range its windows
//! need, its samples grouped into series, then [`metric::eval`] over the step grid.

use std::ops::ControlFlow;

use datafusion::prelude::SessionContext;

use super::ast::{Grouping, MatchOp, MetricExpr, RangeAgg, RangeOp, VectorOp};
use super::error::{Error, Result};
use super::metric::range::Accumulator;
use super::metric::vector::group_labels;
use super::metric::{self, Grid, Series, Value};
use super::pipeline::{Pipeline, Unwrapper};
use super::scan::{ScanStats, for_each_entry, window_sql};
use super::streams::Labels;
use super::{Limits, fast, summary};
use crate::sql::SqlConfig;

/// Evaluates a metric query over `grid`.
pub async fn query_metric(
    ctx: &SessionContext,
    config: &SqlConfig,
    limits: &Limits,
    expr: &MetricExpr,
    grid: Grid,
) -> Result<(Value, ScanStats)> {
    let expr = &push_down_sums(expr.clone());
    let mut stats = ScanStats::default();
    let mut results = Vec::new();
    for agg in metric::range_aggs(expr) {
        let (series, read) = read_range(ctx, config, limits, agg, &grid).await?;
        stats.lines += read.lines;
        stats.bytes += read.bytes;
        stats.summarized += read.summarized;
        results.push(series);
    }
    let value = metric::eval(expr, &grid, &mut results.into_iter())?;
    if let Value::Matrix(m) = &value
        && m.len() > limits.max_query_series
    {
        return Err(limits.series_error());
    }
    Ok((value, stats))
}

/// `sum by (g) (f(...))` with an additive `f` (counts, rates, bytes, sums) groups the
/// samples by `g` as they are read: the sum of the series' values is the value of their
/// union, and the many series a pipeline can yield (one per trace id in structured
/// metadata, say) are never held. The outer `sum` then adds up series already grouped.
fn push_down_sums(expr: MetricExpr) -> MetricExpr {
    match expr {
        MetricExpr::Vector {
            op: VectorOp::Sum,
            param,
            grouping,
            expr,
        } => {
            let inner = match *expr {
                MetricExpr::Range(mut r)
                    if r.grouping.is_none()
                        && matches!(
                            r.op,
                            RangeOp::CountOverTime
                                | RangeOp::Rate
                                | RangeOp::BytesOverTime
                                | RangeOp::BytesRate
                                | RangeOp::SumOverTime
                        ) =>
                {
                    r.grouping = Some(grouping.clone().unwrap_or(Grouping {
                        without: false,
                        labels: Vec::new(),
                    }));
                    MetricExpr::Range(r)
                }
                other => push_down_sums(other),
            };
            MetricExpr::Vector {
                op: VectorOp::Sum,
                param,
                grouping,
                expr: Box::new(inner),
            }
        }
        MetricExpr::Vector {
            op,
            param,
            grouping,
            expr,
        } => MetricExpr::Vector {
            op,
            param,
            grouping,
            expr: Box::new(push_down_sums(*expr)),
        },
        MetricExpr::Binary {
            op,
            lhs,
            rhs,
            return_bool,
            matching,
        } => MetricExpr::Binary {
            op,
            lhs: Box::new(push_down_sums(*lhs)),
            rhs: Box::new(push_down_sums(*rhs)),
            return_bool,
            matching,
        },
        MetricExpr::LabelReplace {
            expr,
            dst,
            replacement,
            src,
            regex,
        } => MetricExpr::LabelReplace {
            expr: Box::new(push_down_sums(*expr)),
            dst,
            replacement,
            src,
            regex,
        },
        MetricExpr::Paren(e) => MetricExpr::Paren(Box::new(push_down_sums(*e))),
        other => other,
    }
}

/// Loki's error for a sample whose pipeline left an `__error__` label.
fn pipeline_error(err: &str, labels: &Labels) -> Error {
    Error::Query(format!(
        "pipeline error: '{err}' for series: '{}'.\nUse a label filter to intentionally skip this error. \
         (e.g | __error__!=\"{err}\").\nTo skip all potential errors you can match empty errors.\
         (e.g __error__=\"\")\nThe label filter can also be specified after unwrap. \
         (e.g | unwrap latency | __error__=\"\" )",
        super::labels_text(labels)
    ))
}

async fn read_range(
    ctx: &SessionContext,
    config: &SqlConfig,
    limits: &Limits,
    agg: &RangeAgg,
    grid: &Grid,
) -> Result<(Vec<Series>, ScanStats)> {
    let pipeline = Pipeline::new(&agg.log.selector, &agg.log.pipeline)?;
    let unwrapper = agg.unwrap.as_ref().map(Unwrapper::new).transpose()?;
    let mut acc = Accumulator::new(agg, grid);
    let (from, to) = acc.scan_range(grid);
    if let Some(plan) = fast::plan(agg) {
        if let Some(stats) = summary::read(ctx, limits, agg, &plan, (from, to), &mut acc).await? {
            return Ok((acc.finish(grid), stats));
        }
        let stats = fast::read(ctx, config, limits, agg, &plan, (from, to), &mut acc).await?;
        return Ok((acc.finish(grid), stats));
    }
    let sql = window_sql(&agg.log.selector, &agg.log.pipeline, from, to);
    let mut failure: Option<Error> = None;
    let bytes_op = matches!(agg.op, RangeOp::BytesOverTime | RangeOp::BytesRate);
    let mut held = crate::memory::SessionCharge::new(ctx, "logql series");
    let mut entries = 0usize;
    let (stats, _) = for_each_entry(ctx, config, limits, &sql, |entry| {
        entries += 1;
        if entries.is_multiple_of(1024)
            && let Err(e) = held.set(acc.bytes())
        {
            failure = Some(Error::Sql(e.into()));
            return ControlFlow::Break(());
        }
        let Some((mut labels, line)) = pipeline.process(&entry) else {
            return ControlFlow::Continue(());
        };
        let value = match &unwrapper {
            Some(u) => match u.extract(&mut labels) {
                Some(v) => v,
                None => return ControlFlow::Continue(()),
            },
            None if bytes_op => line.len() as f64,
            None => 1.0,
        };
        if let Some((_, err)) = labels.iter().find(|(k, _)| k == "__error__") {
            failure = Some(pipeline_error(err, &labels));
            return ControlFlow::Break(());
        }
        let labels = if agg.grouping.is_some() {
            group_labels(&labels, agg.grouping.as_ref())
        } else {
            labels
        };
        if !acc.add_existing(&labels, entry.ts_ns, value) {
            if acc.series_count() >= limits.working_series() {
                failure = Some(limits.working_series_error());
                return ControlFlow::Break(());
            }
            acc.add(labels, entry.ts_ns, value);
        }
        ControlFlow::Continue(())
    })
    .await?;
    if let Some(e) = failure {
        return Err(e);
    }
    held.set(acc.bytes()).map_err(|e| Error::Sql(e.into()))?;
    limits.check_bytes(stats.bytes)?;
    if agg.op == RangeOp::AbsentOverTime {
        return Ok((absent(agg, acc.finish(grid), grid), stats));
    }
    Ok((acc.finish(grid), stats))
}

/// `absent_over_time`: `1` at the steps where no series had a sample, labelled with the
/// selector's equality matchers.
fn absent(agg: &RangeAgg, present: Vec<Series>, grid: &Grid) -> Vec<Series> {
    let values: Vec<Option<f64>> = (0..grid.steps)
        .map(|k| {
            let any = present.iter().any(|s| s.values[k].is_some());
            (!any).then_some(1.0)
        })
        .collect();
    if values.iter().all(Option::is_none) {
        return Vec::new();
    }
    let mut labels: Labels = agg
        .log
        .selector
        .iter()
        .filter(|m| m.op == MatchOp::Eq)
        .map(|m| (m.name.clone(), m.value.clone()))
        .collect();
    labels.sort();
    labels.dedup_by(|a, b| a.0 == b.0);
    vec![Series { labels, values }]
}
