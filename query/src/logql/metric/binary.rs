//! Binary operators between LogQL metric results: arithmetic, comparisons (filtering, or
//! `0`/`1` with `bool`) and the set operators, with Prometheus's vector matching
//! (`on`/`ignoring`, `group_left`/`group_right`).

use std::collections::HashMap;

use super::super::ast::{BinOp, Card, VectorMatching};
use super::super::streams::Labels;
use super::{Series, Value};
use crate::logql::error::{Error, Result};

fn is_comparison(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Eq | BinOp::Ne | BinOp::Gt | BinOp::Ge | BinOp::Lt | BinOp::Le
    )
}

/// `l op r` for two numbers; for a comparison, `1`/`0`.
fn apply(op: BinOp, l: f64, r: f64) -> f64 {
    let b = |c: bool| if c { 1.0 } else { 0.0 };
    match op {
        BinOp::Add => l + r,
        BinOp::Sub => l - r,
        BinOp::Mul => l * r,
        BinOp::Div => l / r,
        BinOp::Mod => l % r,
        BinOp::Pow => l.powf(r),
        BinOp::Eq => b(l == r),
        BinOp::Ne => b(l != r),
        BinOp::Gt => b(l > r),
        BinOp::Ge => b(l >= r),
        BinOp::Lt => b(l < r),
        BinOp::Le => b(l <= r),
        BinOp::And | BinOp::Or | BinOp::Unless => f64::NAN,
    }
}

/// The value a vector element keeps after `op` with the other side's `other`: `None` when a
/// comparison without `bool` filters it out. `elem_left` says which side the element is.
fn combine(op: BinOp, return_bool: bool, l: f64, r: f64, kept: f64) -> Option<f64> {
    let v = apply(op, l, r);
    if is_comparison(op) && !return_bool {
        (v == 1.0).then_some(kept)
    } else {
        Some(v)
    }
}

/// Evaluates `lhs op rhs`.
pub(crate) fn binary(
    op: BinOp,
    return_bool: bool,
    matching: Option<&VectorMatching>,
    lhs: Value,
    rhs: Value,
    steps: usize,
) -> Result<Value> {
    match (lhs, rhs) {
        (Value::Scalar(l), Value::Scalar(r)) => Ok(Value::Scalar(
            l.iter().zip(&r).map(|(a, b)| apply(op, *a, *b)).collect(),
        )),
        (Value::Matrix(v), Value::Scalar(s)) => {
            set_op_needs_vectors(op)?;
            Ok(Value::Matrix(with_scalar(v, |x, k| {
                combine(op, return_bool, x, s[k], x)
            })))
        }
        (Value::Scalar(s), Value::Matrix(v)) => {
            set_op_needs_vectors(op)?;
            Ok(Value::Matrix(with_scalar(v, |x, k| {
                combine(op, return_bool, s[k], x, x)
            })))
        }
        (Value::Matrix(l), Value::Matrix(r)) => match op {
            BinOp::And | BinOp::Or | BinOp::Unless => {
                Ok(Value::Matrix(set_op(op, matching, l, r, steps)))
            }
            _ => vectors(op, return_bool, matching, l, r, steps).map(Value::Matrix),
        },
    }
}

fn set_op_needs_vectors(op: BinOp) -> Result<()> {
    if matches!(op, BinOp::And | BinOp::Or | BinOp::Unless) {
        return Err(Error::Query(
            "set operators (and, or, unless) are only allowed between vectors".into(),
        ));
    }
    Ok(())
}

fn with_scalar(v: Vec<Series>, f: impl Fn(f64, usize) -> Option<f64>) -> Vec<Series> {
    v.into_iter()
        .map(|mut s| {
            for (k, x) in s.values.iter_mut().enumerate() {
                *x = x.and_then(|x| f(x, k));
            }
            s
        })
        .filter(|s| s.values.iter().any(Option::is_some))
        .collect()
}

/// The labels two series are matched on.
fn signature(labels: &Labels, m: Option<&VectorMatching>) -> Labels {
    match m {
        Some(m) if m.on => labels
            .iter()
            .filter(|(k, _)| m.labels.contains(k))
            .cloned()
            .collect(),
        Some(m) => labels
            .iter()
            .filter(|(k, _)| !m.labels.contains(k))
            .cloned()
            .collect(),
        None => labels.clone(),
    }
}

fn set_op(
    op: BinOp,
    m: Option<&VectorMatching>,
    l: Vec<Series>,
    r: Vec<Series>,
    steps: usize,
) -> Vec<Series> {
    let rsig: Vec<Labels> = r.iter().map(|s| signature(&s.labels, m)).collect();
    let lsig: Vec<Labels> = l.iter().map(|s| signature(&s.labels, m)).collect();
    let present = |sigs: &[Labels], side: &[Series], sig: &Labels, k: usize| {
        sigs.iter()
            .zip(side)
            .any(|(s, series)| s == sig && series.values[k].is_some())
    };
    let mut out: Vec<Series> = l
        .iter()
        .zip(&lsig)
        .map(|(s, sig)| Series {
            labels: s.labels.clone(),
            values: (0..steps)
                .map(|k| {
                    let other = present(&rsig, &r, sig, k);
                    match op {
                        BinOp::And => s.values[k].filter(|_| other),
                        BinOp::Unless => s.values[k].filter(|_| !other),
                        _ => s.values[k],
                    }
                })
                .collect(),
        })
        .collect();
    if op == BinOp::Or {
        for (s, sig) in r.iter().zip(&rsig) {
            let values: Vec<Option<f64>> = (0..steps)
                .map(|k| s.values[k].filter(|_| !present(&lsig, &l, sig, k)))
                .collect();
            out.push(Series {
                labels: s.labels.clone(),
                values,
            });
        }
    }
    out.retain(|s| s.values.iter().any(Option::is_some));
    out
}

/// Arithmetic and comparisons between two vectors.
fn vectors(
    op: BinOp,
    return_bool: bool,
    m: Option<&VectorMatching>,
    l: Vec<Series>,
    r: Vec<Series>,
    steps: usize,
) -> Result<Vec<Series>> {
    let card = m.map_or(Card::OneToOne, |m| m.card);
    // The "one" side is indexed; the "many" side drives the output.
    let (many, one, many_is_left) = match card {
        Card::OneToMany => (r, l, false),
        _ => (l, r, true),
    };
    let mut index: HashMap<Labels, Vec<usize>> = HashMap::new();
    for (i, s) in one.iter().enumerate() {
        index.entry(signature(&s.labels, m)).or_default().push(i);
    }
    let mut out: HashMap<Labels, Series> = HashMap::new();
    let mut seen_one: HashMap<(Labels, usize), ()> = HashMap::new();
    for s in &many {
        let sig = signature(&s.labels, m);
        let Some(matches) = index.get(&sig) else {
            continue;
        };
        let labels = result_labels(&s.labels, matches.first().map(|&i| &one[i].labels), m, card);
        for k in 0..steps {
            let Some(x) = s.values[k] else { continue };
            let found: Vec<f64> = matches.iter().filter_map(|&i| one[i].values[k]).collect();
            let y = match found.as_slice() {
                [] => continue,
                [y] => *y,
                _ => {
                    return Err(Error::Query(format!(
                        "found duplicate series for the match group {sig:?} on the {} hand-side of the operation; many-to-many matching not allowed: matching labels must be unique on one side",
                        if many_is_left { "right" } else { "left" }
                    )));
                }
            };
            if card == Card::OneToOne && seen_one.insert((sig.clone(), k), ()).is_some() {
                return Err(Error::Query(format!(
                    "multiple matches for labels {sig:?}: many-to-one matching must be explicit (group_left/group_right)"
                )));
            }
            let (lv, rv) = if many_is_left { (x, y) } else { (y, x) };
            let kept = if many_is_left { lv } else { rv };
            if let Some(v) = combine(op, return_bool, lv, rv, kept) {
                let entry = out.entry(labels.clone()).or_insert_with(|| Series {
                    labels: labels.clone(),
                    values: vec![None; steps],
                });
                if entry.values[k].is_some() {
                    return Err(Error::Query(format!(
                        "multiple matches for labels {labels:?}: grouping labels must ensure unique matches"
                    )));
                }
                entry.values[k] = Some(v);
            }
        }
    }
    Ok(out.into_values().collect())
}

fn result_labels(
    many: &Labels,
    one: Option<&Labels>,
    m: Option<&VectorMatching>,
    card: Card,
) -> Labels {
    let mut labels = many.clone();
    if let Some(m) = m {
        if card == Card::OneToOne {
            labels = signature(many, Some(m));
        } else if let Some(one) = one {
            for name in &m.include {
                labels.retain(|(k, _)| k != name);
                if let Some(pair) = one.iter().find(|(k, _)| k == name) {
                    labels.push(pair.clone());
                }
            }
            labels.sort();
        }
    }
    labels
}
