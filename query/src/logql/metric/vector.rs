//! Vector aggregations (`sum`, `avg`, `min`, `max`, `count`, `stddev`, `stdvar`, `topk`,
//! `bottomk`, `sort`, `sort_desc`), step by step, grouped with `by`/`without`.

use std::collections::HashMap;

use super::super::ast::{Grouping, VectorOp};
use super::super::streams::Labels;
use super::Series;
use crate::logql::error::{Error, Result};

/// The labels `labels` is grouped under.
pub(crate) fn group_labels(labels: &Labels, grouping: Option<&Grouping>) -> Labels {
    match grouping {
        None => Vec::new(),
        Some(g) if g.without => labels
            .iter()
            .filter(|(k, _)| !g.labels.contains(k))
            .cloned()
            .collect(),
        Some(g) => labels
            .iter()
            .filter(|(k, _)| g.labels.contains(k))
            .cloned()
            .collect(),
    }
}

/// Applies `op` to `input` at every one of `steps` steps.
pub(crate) fn aggregate(
    op: VectorOp,
    param: Option<f64>,
    grouping: Option<&Grouping>,
    input: Vec<Series>,
    steps: usize,
) -> Result<Vec<Series>> {
    match op {
        VectorOp::Topk | VectorOp::Bottomk => {
            let k = param.unwrap_or(f64::NAN);
            if !(k.is_finite() && k >= 1.0 && k.fract() == 0.0) {
                return Err(Error::Query(format!(
                    "invalid parameter for {}: {k}: an integer of at least 1",
                    if op == VectorOp::Topk {
                        "topk"
                    } else {
                        "bottomk"
                    }
                )));
            }
            Ok(select_k(
                op == VectorOp::Topk,
                k as usize,
                grouping,
                input,
                steps,
            ))
        }
        VectorOp::Sort | VectorOp::SortDesc => {
            let mut input = input;
            // Only an instant query has an order; a range query's series keep theirs.
            if steps == 1 {
                input.sort_by(|a, b| {
                    let (x, y) = (
                        a.values[0].unwrap_or(f64::NAN),
                        b.values[0].unwrap_or(f64::NAN),
                    );
                    if op == VectorOp::Sort {
                        x.total_cmp(&y)
                    } else {
                        y.total_cmp(&x)
                    }
                });
            }
            Ok(input)
        }
        _ => Ok(reduce(op, grouping, input, steps)),
    }
}

/// `sum` ... `stdvar`: one output series per group.
fn reduce(
    op: VectorOp,
    grouping: Option<&Grouping>,
    input: Vec<Series>,
    steps: usize,
) -> Vec<Series> {
    let mut groups: HashMap<Labels, Vec<Series>> = HashMap::new();
    for s in input {
        groups
            .entry(group_labels(&s.labels, grouping))
            .or_default()
            .push(s);
    }
    let mut out = Vec::with_capacity(groups.len());
    for (labels, members) in groups {
        let values: Vec<Option<f64>> = (0..steps)
            .map(|k| {
                let vals = members.iter().filter_map(|s| s.values[k]);
                reduce_step(op, vals)
            })
            .collect();
        if values.iter().any(Option::is_some) {
            out.push(Series { labels, values });
        }
    }
    out
}

fn reduce_step(op: VectorOp, vals: impl Iterator<Item = f64>) -> Option<f64> {
    let (mut n, mut sum, mut mean, mut m2) = (0.0, 0.0, 0.0, 0.0);
    let (mut min, mut max) = (f64::NAN, f64::NAN);
    for v in vals {
        n += 1.0;
        sum += v;
        let delta = v - mean;
        mean += delta / n;
        m2 += delta * (v - mean);
        if min.is_nan() || v < min {
            min = v;
        }
        if max.is_nan() || v > max {
            max = v;
        }
    }
    if n == 0.0 {
        return None;
    }
    Some(match op {
        VectorOp::Sum => sum,
        VectorOp::Avg => mean,
        VectorOp::Count => n,
        VectorOp::Min => min,
        VectorOp::Max => max,
        VectorOp::Stdvar => m2 / n,
        VectorOp::Stddev => (m2 / n).sqrt(),
        _ => f64::NAN,
    })
}

/// `topk`/`bottomk`: at each step, the `k` largest (smallest) of each group keep their
/// value; the others are empty there.
fn select_k(
    top: bool,
    k: usize,
    grouping: Option<&Grouping>,
    input: Vec<Series>,
    steps: usize,
) -> Vec<Series> {
    let keys: Vec<Labels> = input
        .iter()
        .map(|s| group_labels(&s.labels, grouping))
        .collect();
    let mut out: Vec<Series> = input
        .iter()
        .map(|s| Series {
            labels: s.labels.clone(),
            values: vec![None; steps],
        })
        .collect();
    for step in 0..steps {
        let mut groups: HashMap<&Labels, Vec<usize>> = HashMap::new();
        for (i, s) in input.iter().enumerate() {
            if s.values[step].is_some() {
                groups.entry(&keys[i]).or_default().push(i);
            }
        }
        for (_, mut members) in groups {
            let val = |i: &usize| input[*i].values[step].unwrap_or(f64::NAN);
            members.sort_by(|a, b| {
                let (x, y) = (val(a), val(b));
                if top {
                    y.total_cmp(&x)
                } else {
                    x.total_cmp(&y)
                }
            });
            for i in members.into_iter().take(k) {
                out[i].values[step] = input[i].values[step];
            }
        }
    }
    out.retain(|s| s.values.iter().any(Option::is_some));
    out
}
