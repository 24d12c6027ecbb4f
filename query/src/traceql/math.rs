//! Arithmetic between metrics queries, as Tempo's (`ast_metrics_math.go`):
//! `(q1) op (q2)` pairs the two answers' series by their labels but `__name__`; a side
//! whose only series has no label but `__name__` pairs with every series of the other
//! (`({status=error} | rate() by (resource.service.name)) / ({} | rate())`). A step
//! missing on one side counts as 0 there; a division by 0 leaves the step out. The labels
//! are the left series', then the right's it lacks; `__name__` becomes `(left op right)`
//! when both sides have one, and goes otherwise.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::ast::BinOp;
use super::{MetricSeries, Value};

/// The series' labels but `__name__`, as a key.
fn key(s: &MetricSeries) -> String {
    let rest: Vec<_> = s.labels.iter().filter(|(k, _)| k != "__name__").collect();
    format!("{rest:?}")
}

fn name(s: &MetricSeries) -> Option<&str> {
    s.labels.iter().find_map(|(k, v)| match (k.as_str(), v) {
        ("__name__", Value::Str(n)) => Some(n.as_str()),
        _ => None,
    })
}

fn op_text(op: BinOp) -> &'static str {
    match op {
        BinOp::Add => "+",
        BinOp::Sub => "-",
        BinOp::Mul => "*",
        _ => "/",
    }
}

/// `lhs op rhs`, series by series.
pub(super) fn apply(
    op: BinOp,
    lhs: Vec<MetricSeries>,
    rhs: Vec<MetricSeries>,
) -> Vec<MetricSeries> {
    let unlabelled = "[]".to_owned();
    let index = |v: &[MetricSeries]| -> HashMap<String, usize> {
        v.iter().enumerate().map(|(i, s)| (key(s), i)).collect()
    };
    let (li, ri) = (index(&lhs), index(&rhs));
    let find = |idx: &HashMap<String, usize>, k: &str| {
        idx.get(k).or_else(|| idx.get(&unlabelled)).copied()
    };
    // Over the right side's series, unless it is one unlabelled series.
    let targets: Vec<String> = if ri.contains_key(&unlabelled) {
        lhs.iter().map(key).collect()
    } else {
        rhs.iter().map(key).collect()
    };
    let mut out = BTreeMap::new();
    for k in targets {
        let (Some(l), Some(r)) = (find(&li, &k), find(&ri, &k)) else {
            continue;
        };
        let (l, r) = (&lhs[l], &rhs[r]);
        let lv: HashMap<i64, f64> = l.points.iter().copied().collect();
        let rv: HashMap<i64, f64> = r.points.iter().copied().collect();
        let times: BTreeSet<i64> = lv.keys().chain(rv.keys()).copied().collect();
        let value = |v: Option<&f64>| v.copied().filter(|x| !x.is_nan()).unwrap_or(0.0);
        let points: Vec<(i64, f64)> = times
            .into_iter()
            .map(|t| {
                let (a, b) = (value(lv.get(&t)), value(rv.get(&t)));
                let v = match op {
                    BinOp::Add => a + b,
                    BinOp::Sub => a - b,
                    BinOp::Mul => a * b,
                    _ if b == 0.0 => f64::NAN,
                    _ => a / b,
                };
                (t, v)
            })
            .filter(|(_, v)| !v.is_nan())
            .collect();
        let mut labels: Vec<(String, Value)> = l.labels.clone();
        for (k, v) in &r.labels {
            if k != "__name__" && !labels.iter().any(|(lk, _)| lk == k) {
                labels.push((k.clone(), v.clone()));
            }
        }
        match (name(l), name(r)) {
            (Some(a), Some(b)) => {
                let combined = format!("({a} {} {b})", op_text(op));
                for (k, v) in &mut labels {
                    if k == "__name__" {
                        *v = Value::Str(combined.clone());
                    }
                }
            }
            _ => labels.retain(|(k, _)| k != "__name__"),
        }
        if !points.is_empty() {
            out.insert(format!("{labels:?}"), MetricSeries { labels, points });
        }
    }
    out.into_values().collect()
}
