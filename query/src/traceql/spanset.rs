//! Spanset expressions and pipelines evaluated on one trace (Tempo's semantics, from its
//! documentation "Construct a TraceQL query": combining spansets, structural operators,
//! aggregators, grouping, selection).

use super::ast::{AggregateOp, Field, FieldExpr, Pipeline, SpansetExpr, SpansetOp, Stage, Value};
use super::eval::{as_f64, compare, eval, fields_of, matches};
use super::trace::TraceView;

/// A set of spans of one trace, with what the pipeline attached to it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Spanset {
    /// Span indices into the trace, ascending (so in start order).
    pub(crate) spans: Vec<usize>,
    /// `by(...)` values and aggregate results, keyed as Tempo does.
    pub(crate) attributes: Vec<(String, Value)>,
    /// Fields `select()` added.
    pub(crate) selected: Vec<Field>,
}

impl Spanset {
    fn of(spans: Vec<usize>) -> Self {
        Self {
            spans,
            ..Self::default()
        }
    }
}

/// The spansets `p` yields for trace `t` (none: the trace does not match).
pub(crate) fn pipeline(t: &TraceView, p: &Pipeline) -> Vec<Spanset> {
    let mut sets: Vec<Spanset> = Vec::new();
    for (n, stage) in p.stages.iter().enumerate() {
        sets = match stage {
            Stage::Spanset(e) if n == 0 => expr(t, e),
            Stage::Spanset(e) => {
                // A later spanset expression keeps, of each spanset, the spans it selects.
                let chosen = union(&expr(t, e));
                sets.into_iter()
                    .filter_map(|mut s| {
                        s.spans.retain(|i| chosen.binary_search(i).is_ok());
                        (!s.spans.is_empty()).then_some(s)
                    })
                    .collect()
            }
            Stage::Scalar {
                op,
                arg,
                cmp,
                value,
            } => sets
                .into_iter()
                .filter_map(|mut s| {
                    let v = aggregate(t, &s.spans, *op, arg.as_ref())?;
                    if !compare(*cmp, &v, value) {
                        return None;
                    }
                    let key = match arg {
                        None => format!("{}()", op.as_str()),
                        Some(a) => format!("{}({a})", op.as_str()),
                    };
                    s.attributes.push((key, v));
                    Some(s)
                })
                .collect(),
            Stage::By(e) => sets.into_iter().flat_map(|s| group(t, s, e)).collect(),
            Stage::Select(es) => {
                let mut fields = Vec::new();
                for e in es {
                    fields_of(e, &mut fields);
                }
                for s in &mut sets {
                    s.selected.extend(fields.iter().cloned());
                }
                sets
            }
            Stage::Coalesce => {
                if sets.is_empty() {
                    sets
                } else {
                    let mut one = Spanset::of(union(&sets));
                    for s in sets {
                        one.selected.extend(s.selected);
                    }
                    vec![one]
                }
            }
        };
        if sets.is_empty() {
            break;
        }
    }
    sets
}

/// The spans of every spanset of `sets`, once each, ascending.
fn union(sets: &[Spanset]) -> Vec<usize> {
    let mut all: Vec<usize> = sets.iter().flat_map(|s| s.spans.iter().copied()).collect();
    all.sort_unstable();
    all.dedup();
    all
}

fn expr(t: &TraceView, e: &SpansetExpr) -> Vec<Spanset> {
    match e {
        SpansetExpr::Filter(f) => {
            let spans: Vec<usize> = (0..t.spans.len()).filter(|&i| matches(t, i, f)).collect();
            if spans.is_empty() {
                Vec::new()
            } else {
                vec![Spanset::of(spans)]
            }
        }
        SpansetExpr::Pipeline(p) => pipeline(t, p),
        SpansetExpr::Op(op, l, r) => {
            let (l, r) = (union(&expr(t, l)), union(&expr(t, r)));
            let out = combine(t, *op, &l, &r);
            if out.is_empty() {
                Vec::new()
            } else {
                vec![Spanset::of(out)]
            }
        }
    }
}

/// Whether spans `a` and `b` are siblings: distinct, with the same parent.
fn siblings(t: &TraceView, a: usize, b: usize) -> bool {
    a != b
        && t.spans[a].parent_span_id.is_some()
        && t.spans[a].parent_span_id == t.spans[b].parent_span_id
}

/// The spans spanset operator `op` returns for left spans `l` and right spans `r`.
fn combine(t: &TraceView, op: SpansetOp, l: &[usize], r: &[usize]) -> Vec<usize> {
    use SpansetOp as O;
    let both = || {
        let mut all: Vec<usize> = l.iter().chain(r).copied().collect();
        all.sort_unstable();
        all.dedup();
        all
    };
    // rel(a, b): a left span `a` relates to a right span `b` as the operator asks.
    let rel = |a: usize, b: usize| -> bool {
        match op {
            O::Child | O::NotChild | O::UnionChild => t.parent[b] == Some(a),
            O::Parent | O::NotParent | O::UnionParent => t.parent[a] == Some(b),
            O::Descendant | O::NotDescendant | O::UnionDescendant => t.is_ancestor(a, b),
            O::Ancestor | O::NotAncestor | O::UnionAncestor => t.is_ancestor(b, a),
            O::Sibling | O::NotSibling | O::UnionSibling => siblings(t, a, b),
            O::And | O::Or => false,
        }
    };
    match op {
        O::And => {
            if l.is_empty() || r.is_empty() {
                Vec::new()
            } else {
                both()
            }
        }
        O::Or => both(),
        O::Child | O::Parent | O::Descendant | O::Ancestor | O::Sibling => r
            .iter()
            .copied()
            .filter(|&b| l.iter().any(|&a| rel(a, b)))
            .collect(),
        O::NotChild | O::NotParent | O::NotDescendant | O::NotAncestor | O::NotSibling => r
            .iter()
            .copied()
            .filter(|&b| !l.iter().any(|&a| rel(a, b)))
            .collect(),
        O::UnionChild
        | O::UnionParent
        | O::UnionDescendant
        | O::UnionAncestor
        | O::UnionSibling => {
            let mut out: Vec<usize> = Vec::new();
            for &b in r {
                for &a in l {
                    if rel(a, b) {
                        out.push(a);
                        out.push(b);
                    }
                }
            }
            out.sort_unstable();
            out.dedup();
            out
        }
    }
}

/// An aggregate over `spans`; `None` when no span has a number for it (the spanset is
/// then dropped, as Tempo drops it).
fn aggregate(
    t: &TraceView,
    spans: &[usize],
    op: AggregateOp,
    arg: Option<&FieldExpr>,
) -> Option<Value> {
    if op == AggregateOp::Count {
        return Some(Value::Int(spans.len() as i64));
    }
    let arg = arg?;
    let values: Vec<Value> = spans
        .iter()
        .map(|&i| eval(t, i, arg))
        .filter(|v| as_f64(v).is_some())
        .collect();
    if values.is_empty() {
        return None;
    }
    let all_durations = values.iter().all(|v| matches!(v, Value::Duration(_)));
    let all_ints = values.iter().all(|v| matches!(v, Value::Int(_)));
    let nums: Vec<f64> = values.iter().filter_map(as_f64).collect();
    let pick = |f: fn(f64, f64) -> f64| nums.iter().copied().fold(nums[0], f);
    let x = match op {
        AggregateOp::Min => pick(f64::min),
        AggregateOp::Max => pick(f64::max),
        AggregateOp::Sum => nums.iter().sum(),
        _ => nums.iter().sum::<f64>() / nums.len() as f64,
    };
    Some(if all_durations {
        Value::Duration(x.round() as i64)
    } else if all_ints && op != AggregateOp::Avg {
        Value::Int(x as i64)
    } else {
        Value::Float(x)
    })
}

/// A key that groups equal values (their type and text).
fn group_key(v: &Value) -> String {
    format!("{v:?}")
}

/// Spanset `s` split by the value of `e` on its spans, each part labelled
/// `by(<e>)` = that value; the parts in the order their first span comes.
fn group(t: &TraceView, s: Spanset, e: &FieldExpr) -> Vec<Spanset> {
    let mut parts: Vec<(String, Value, Vec<usize>)> = Vec::new();
    for &i in &s.spans {
        let v = eval(t, i, e);
        let k = group_key(&v);
        match parts.iter_mut().find(|p| p.0 == k) {
            Some(p) => p.2.push(i),
            None => parts.push((k, v, vec![i])),
        }
    }
    parts
        .into_iter()
        .map(|(_, v, spans)| {
            let mut attributes = s.attributes.clone();
            attributes.push((format!("by({e})"), v));
            Spanset {
                spans,
                attributes,
                selected: s.selected.clone(),
            }
        })
        .collect()
}
