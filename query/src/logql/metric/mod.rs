//! LogQL metric queries, once the range aggregations have been read: the step grid,
//! series, and the evaluation of vector aggregations, binary operators, literals,
//! `vector()` and `label_replace()` over them.
//!
//! A query runs in two parts: every range aggregation of the expression is read by a scan
//! ([`range::Accumulator`], driven by `logql::eval`), in the order [`range_aggs`] lists
//! them; then [`eval`] combines their series, step by step, without touching storage.

pub(crate) mod binary;
pub(crate) mod range;
pub(crate) mod vector;

use super::ast::{MetricExpr, RangeAgg};
use super::error::{Error, Result};
use super::streams::Labels;

/// The evaluation steps `start, start + step, ...` (one step for an instant query).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// The first step, in nanoseconds.
    pub start_ns: i64,
    /// The distance between steps (at least 1).
    pub step_ns: i64,
    /// How many steps (at least 1).
    pub steps: usize,
}

impl Grid {
    /// The grid of a range query `[start, end]` by `step`.
    pub fn range(start_ns: i64, end_ns: i64, step_ns: i64) -> Self {
        let step_ns = step_ns.max(1);
        let steps = usize::try_from(end_ns.saturating_sub(start_ns).max(0) / step_ns)
            .unwrap_or(0)
            .saturating_add(1);
        Self {
            start_ns,
            step_ns,
            steps,
        }
    }

    /// The grid of an instant query at `t`.
    pub fn instant(t_ns: i64) -> Self {
        Self {
            start_ns: t_ns,
            step_ns: 1,
            steps: 1,
        }
    }

    /// The time of step `k`.
    pub fn at(&self, k: usize) -> i64 {
        let k = i64::try_from(k).unwrap_or(i64::MAX);
        self.start_ns.saturating_add(k.saturating_mul(self.step_ns))
    }

    /// The time of the last step.
    pub fn end_ns(&self) -> i64 {
        self.at(self.steps.saturating_sub(1))
    }
}

/// One output series: labels, and a value or nothing at every step.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Sorted by name.
    pub labels: Labels,
    /// One per step of the grid.
    pub values: Vec<Option<f64>>,
}

/// The value of a metric expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Series (a matrix for a range query, a vector for an instant one).
    Matrix(Vec<Series>),
    /// One number per step.
    Scalar(Vec<f64>),
}

/// The range aggregations of `expr`, in the order [`eval`] consumes their results.
pub(crate) fn range_aggs(expr: &MetricExpr) -> Vec<&RangeAgg> {
    fn walk<'a>(e: &'a MetricExpr, out: &mut Vec<&'a RangeAgg>) {
        match e {
            MetricExpr::Range(r) => out.push(r),
            MetricExpr::Vector { expr, .. } | MetricExpr::LabelReplace { expr, .. } => {
                walk(expr, out);
            }
            MetricExpr::Paren(expr) => walk(expr, out),
            MetricExpr::Binary { lhs, rhs, .. } => {
                walk(lhs, out);
                walk(rhs, out);
            }
            MetricExpr::Number(_) | MetricExpr::VectorLit(_) => {}
        }
    }
    let mut out = Vec::new();
    walk(expr, &mut out);
    out
}

/// Evaluates `expr` over `grid`, taking each range aggregation's series from `ranges`
/// (in [`range_aggs`] order).
pub(crate) fn eval(
    expr: &MetricExpr,
    grid: &Grid,
    ranges: &mut impl Iterator<Item = Vec<Series>>,
) -> Result<Value> {
    Ok(match expr {
        // A range aggregation's `by`/`without` groups its samples before the function
        // is applied (the driver reads them so), as Loki does.
        MetricExpr::Range(_) => Value::Matrix(
            ranges
                .next()
                .ok_or_else(|| Error::Internal("a range aggregation was not read".into()))?,
        ),
        MetricExpr::Vector {
            op,
            param,
            grouping,
            expr,
        } => match eval(expr, grid, ranges)? {
            Value::Matrix(m) => Value::Matrix(vector::aggregate(
                *op,
                *param,
                grouping.as_ref(),
                m,
                grid.steps,
            )?),
            Value::Scalar(_) => {
                return Err(Error::Query(
                    "a vector aggregation needs a vector, not a scalar".into(),
                ));
            }
        },
        MetricExpr::Binary {
            op,
            lhs,
            rhs,
            return_bool,
            matching,
        } => {
            let l = eval(lhs, grid, ranges)?;
            let r = eval(rhs, grid, ranges)?;
            binary::binary(*op, *return_bool, matching.as_ref(), l, r, grid.steps)?
        }
        MetricExpr::Number(n) => Value::Scalar(vec![*n; grid.steps]),
        MetricExpr::VectorLit(n) => Value::Matrix(vec![Series {
            labels: Vec::new(),
            values: vec![Some(*n); grid.steps],
        }]),
        MetricExpr::Paren(e) => eval(e, grid, ranges)?,
        MetricExpr::LabelReplace {
            expr,
            dst,
            replacement,
            src,
            regex,
        } => {
            let re = regex::Regex::new(&format!("^(?s:{regex})$")).map_err(|e| {
                Error::Query(format!(
                    "invalid regular expression in label_replace(): {e}"
                ))
            })?;
            match eval(expr, grid, ranges)? {
                Value::Matrix(m) => Value::Matrix(label_replace(m, &re, dst, replacement, src)),
                Value::Scalar(_) => {
                    return Err(Error::Query(
                        "label_replace() needs a vector, not a scalar".into(),
                    ));
                }
            }
        }
    })
}

fn label_replace(
    m: Vec<Series>,
    re: &regex::Regex,
    dst: &str,
    repl: &str,
    src: &str,
) -> Vec<Series> {
    m.into_iter()
        .map(|mut s| {
            let value = s
                .labels
                .iter()
                .find(|(k, _)| k == src)
                .map_or("", |(_, v)| v.as_str());
            if let Some(caps) = re.captures(value) {
                let mut out = String::new();
                caps.expand(repl, &mut out);
                s.labels.retain(|(k, _)| k != dst);
                if !out.is_empty() {
                    s.labels.push((dst.to_owned(), out));
                    s.labels.sort();
                }
            }
            s
        })
        .collect()
}
