//! Binary operators: arithmetic, comparisons (with `bool`), `atan2`, the trim operators
//! `</` and `>/` (histogram by float), and the set operators, with `on`/`ignoring` matching
//! and `group_left`/`group_right`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use promql_parser::parser::{BinModifier, BinaryExpr, LabelModifier, VectorMatchCardinality};

use super::{Evaluator, Val};
use crate::promql::annotations::{Annotation, HistogramOp};
use crate::promql::error::{Result, exec};
use crate::promql::native::{self, FloatHistogram};
use crate::promql::value::{Labels, METRIC_NAME, Sample};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Atan2,
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
    TrimUpper,
    TrimLower,
    And,
    Or,
    Unless,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s {
            "+" => Op::Add,
            "-" => Op::Sub,
            "*" => Op::Mul,
            "/" => Op::Div,
            "%" => Op::Mod,
            "^" => Op::Pow,
            "atan2" => Op::Atan2,
            "==" => Op::Eq,
            "!=" => Op::Ne,
            ">" => Op::Gt,
            "<" => Op::Lt,
            ">=" => Op::Ge,
            "<=" => Op::Le,
            "</" => Op::TrimUpper,
            ">/" => Op::TrimLower,
            "and" => Op::And,
            "or" => Op::Or,
            "unless" => Op::Unless,
            _ => return None,
        })
    }

    fn is_comparison(self) -> bool {
        matches!(self, Op::Eq | Op::Ne | Op::Gt | Op::Lt | Op::Ge | Op::Le)
    }

    fn is_set(self) -> bool {
        matches!(self, Op::And | Op::Or | Op::Unless)
    }

    fn is_trim(self) -> bool {
        matches!(self, Op::TrimUpper | Op::TrimLower)
    }

    /// Two floats under a trim operator: Prometheus drops the element with an
    /// `IncompatibleTypesInBinOpInfo`.
    fn float_note(self) -> Option<Annotation> {
        self.is_trim()
            .then(|| Annotation::IncompatibleTypesInBinOp {
                lhs: "float".into(),
                op: self.symbol().into(),
                rhs: "float".into(),
            })
    }

    /// Applies the operator: (value, keep). Comparisons return the left value and whether
    /// the comparison holds.
    fn apply(self, l: f64, r: f64) -> (f64, bool) {
        match self {
            Op::Add => (l + r, true),
            Op::Sub => (l - r, true),
            Op::Mul => (l * r, true),
            Op::Div => (l / r, true),
            Op::Mod => (l % r, true),
            Op::Pow => (l.powf(r), true),
            Op::Atan2 => (l.atan2(r), true),
            Op::Eq => (l, l == r),
            Op::Ne => (l, l != r),
            Op::Gt => (l, l > r),
            Op::Lt => (l, l < r),
            Op::Ge => (l, l >= r),
            Op::Le => (l, l <= r),
            // Only defined with a histogram on the left (see `elem_histogram`).
            Op::TrimUpper | Op::TrimLower => (0.0, false),
            Op::And | Op::Or | Op::Unless => (l, true),
        }
    }
}

/// Evaluates a binary expression at `t`.
pub(crate) fn eval(ev: &mut Evaluator<'_>, b: &BinaryExpr, t: i64) -> Result<Val> {
    let op_str = b.op.to_string();
    let Some(op) = Op::parse(op_str.trim()) else {
        return exec(format!("unknown binary operator {op_str:?}"));
    };
    let return_bool = b.modifier.as_ref().is_some_and(|m| m.return_bool);
    let lhs = ev.eval(&b.lhs, t)?;
    let rhs = ev.eval(&b.rhs, t)?;
    match (lhs, rhs) {
        (Val::Scalar(_), Val::Scalar(_)) if op.is_trim() => exec(format!(
            "operator \"{}\" not allowed for Scalar operations",
            op.symbol()
        )),
        (Val::Scalar(l), Val::Scalar(r)) => {
            let (v, keep) = op.apply(l, r);
            if op.is_comparison() {
                Ok(Val::Scalar(if keep { 1.0 } else { 0.0 }))
            } else {
                Ok(Val::Scalar(v))
            }
        }
        (Val::Vector(v), Val::Scalar(s)) => {
            let mut notes = Vec::new();
            let out = vector_scalar(op, v, s, false, return_bool, t, &mut notes);
            annotate(ev, b, notes);
            Ok(Val::Vector(out))
        }
        (Val::Scalar(s), Val::Vector(v)) => {
            let mut notes = Vec::new();
            let out = vector_scalar(op, v, s, true, return_bool, t, &mut notes);
            annotate(ev, b, notes);
            Ok(Val::Vector(out))
        }
        (Val::Vector(l), Val::Vector(r)) => {
            let default = BinModifier::default();
            let m = b.modifier.as_ref().unwrap_or(&default);
            if op.is_set() {
                Ok(Val::Vector(set_op(op, l, r, m)))
            } else {
                let mut notes = Vec::new();
                let out = vector_vector(op, l, r, m, t, &mut notes);
                annotate(ev, b, notes);
                out.map(Val::Vector)
            }
        }
        (l, r) => exec(format!(
            "binary expression must contain only scalar and instant vector types, got {} and {}",
            l.type_name(),
            r.type_name()
        )),
    }
}

fn drops_name(op: Op) -> bool {
    matches!(
        op,
        Op::Add | Op::Sub | Op::Mul | Op::Div | Op::Mod | Op::Pow | Op::Atan2
    )
}

fn vector_scalar(
    op: Op,
    v: Vec<Sample>,
    s: f64,
    scalar_left: bool,
    return_bool: bool,
    t: i64,
    notes: &mut Vec<Annotation>,
) -> Vec<Sample> {
    let mut out = Vec::with_capacity(v.len());
    for mut e in v {
        if let Some(h) = e.h.take() {
            let (lh, rh) = if scalar_left {
                (None, Some(&h))
            } else {
                (Some(&h), None)
            };
            match elem_histogram(op, s, lh, s, rh) {
                Err(a) => notes.push(a),
                Ok(r) => {
                    // A comparison keeps the vector's element, on either side.
                    let (value, h) = if op.is_comparison() {
                        (0.0, Some(h.clone()))
                    } else {
                        (r.value, r.h)
                    };
                    if return_bool {
                        e.value = if r.keep { 1.0 } else { 0.0 };
                    } else if !r.keep {
                        continue;
                    } else {
                        e.value = value;
                        e.h = h;
                    }
                    e.ts = t;
                    e.drop_name = e.drop_name || drops_name(op) || return_bool;
                    out.push(e);
                }
            }
            continue;
        }
        if let Some(a) = op.float_note() {
            notes.push(a);
            continue;
        }
        let (l, r) = if scalar_left {
            (s, e.value)
        } else {
            (e.value, s)
        };
        let (mut value, keep) = op.apply(l, r);
        if op.is_comparison() {
            value = e.value;
        }
        if return_bool {
            value = if keep { 1.0 } else { 0.0 };
        } else if !keep {
            continue;
        }
        e.value = value;
        e.ts = t;
        e.drop_name = e.drop_name || drops_name(op) || return_bool;
        out.push(e);
    }
    out
}

/// The matching signature of `l` under `m`'s `on`/`ignoring` (the metric name never takes
/// part unless listed in `on`).
fn signature(l: &Labels, m: &BinModifier) -> Labels {
    match &m.matching {
        Some(LabelModifier::Include(on)) => {
            let mut s = l.clone();
            s.retain(|n| on.labels.iter().any(|x| x == n));
            s
        }
        Some(LabelModifier::Exclude(ign)) => {
            let mut s = l.clone();
            s.retain(|n| n != METRIC_NAME && !ign.labels.iter().any(|x| x == n));
            s
        }
        None => l.without_name(),
    }
}

fn set_op(op: Op, l: Vec<Sample>, r: Vec<Sample>, m: &BinModifier) -> Vec<Sample> {
    match op {
        Op::And => {
            let rs: HashSet<Labels> = r.iter().map(|s| signature(&s.labels, m)).collect();
            l.into_iter()
                .filter(|s| rs.contains(&signature(&s.labels, m)))
                .collect()
        }
        Op::Unless => {
            let rs: HashSet<Labels> = r.iter().map(|s| signature(&s.labels, m)).collect();
            l.into_iter()
                .filter(|s| !rs.contains(&signature(&s.labels, m)))
                .collect()
        }
        _ => {
            let ls: HashSet<Labels> = l.iter().map(|s| signature(&s.labels, m)).collect();
            let mut out = l;
            out.extend(
                r.into_iter()
                    .filter(|s| !ls.contains(&signature(&s.labels, m))),
            );
            out
        }
    }
}

/// `fill`/`fill_left`/`fill_right`: for each match group present on one side only, adds a
/// sample with the fill value (and the group's matching labels) to the other side.
fn apply_fill(
    mut lhs: Vec<Sample>,
    mut rhs: Vec<Sample>,
    m: &BinModifier,
    t: i64,
) -> (Vec<Sample>, Vec<Sample>) {
    let fills = &m.fill_values;
    if fills.lhs.is_none() && fills.rhs.is_none() {
        return (lhs, rhs);
    }
    let missing = |from: &[Sample], other: &[Sample], value: f64| -> Vec<Sample> {
        let present: HashSet<Labels> = other.iter().map(|s| signature(&s.labels, m)).collect();
        let mut added = HashSet::new();
        let mut out = Vec::new();
        for s in from {
            let sig = signature(&s.labels, m);
            if !present.contains(&sig) && added.insert(sig.clone()) {
                out.push(Sample {
                    labels: sig,
                    ts: t,
                    value,
                    h: None,
                    drop_name: false,
                });
            }
        }
        out
    };
    // Prometheus swaps the sides for group_right but not the fill values.
    let (fill_l, fill_r) = match m.card {
        VectorMatchCardinality::OneToMany(_) => (fills.rhs, fills.lhs),
        _ => (fills.lhs, fills.rhs),
    };
    let add_left = fill_l.map(|v| missing(&rhs, &lhs, v)).unwrap_or_default();
    let add_right = fill_r.map(|v| missing(&lhs, &rhs, v)).unwrap_or_default();
    lhs.extend(add_left);
    rhs.extend(add_right);
    (lhs, rhs)
}

fn vector_vector(
    op: Op,
    lhs: Vec<Sample>,
    rhs: Vec<Sample>,
    m: &BinModifier,
    t: i64,
    notes: &mut Vec<Annotation>,
) -> Result<Vec<Sample>> {
    let (lhs, rhs) = apply_fill(lhs, rhs, m, t);
    if lhs.is_empty() || rhs.is_empty() {
        return Ok(Vec::new());
    }
    let (one_to_many, include) = match &m.card {
        VectorMatchCardinality::OneToMany(l) => (true, Some(l)),
        VectorMatchCardinality::ManyToOne(l) => (false, Some(l)),
        VectorMatchCardinality::OneToOne | VectorMatchCardinality::ManyToMany => (false, None),
    };
    let (many, one) = if one_to_many { (rhs, lhs) } else { (lhs, rhs) };
    let mut one_by_sig: HashMap<Labels, &Sample> = HashMap::new();
    for s in &one {
        let sig = signature(&s.labels, m);
        if let Some(dup) = one_by_sig.get(&sig) {
            let side = if one_to_many { "left" } else { "right" };
            let (a, b) = if s.labels <= dup.labels {
                (&s.labels, &dup.labels)
            } else {
                (&dup.labels, &s.labels)
            };
            return exec(format!(
                "found duplicate series for the match group {} on the {side} hand-side of the operation: [{a}, {b}];many-to-many matching not allowed: matching labels must be unique on one side",
                match_labels(&s.labels, m),
            ));
        }
        one_by_sig.insert(sig, s);
    }
    let return_bool = m.return_bool;
    let mut matched: HashMap<Labels, HashSet<Labels>> = HashMap::new();
    let mut out = Vec::new();
    for ls in &many {
        let sig = signature(&ls.labels, m);
        let Some(rs) = one_by_sig.get(&sig) else {
            continue;
        };
        let (fl, fr) = if one_to_many {
            (rs.value, ls.value)
        } else {
            (ls.value, rs.value)
        };
        let (hl, hr) = if one_to_many {
            (rs.h.as_ref(), ls.h.as_ref())
        } else {
            (ls.h.as_ref(), rs.h.as_ref())
        };
        let (mut value, keep, mut h) = if hl.is_none() && hr.is_none() {
            if let Some(a) = op.float_note() {
                notes.push(a);
                continue;
            }
            let (v, k) = op.apply(fl, fr);
            (v, k, None)
        } else {
            match elem_histogram(op, fl, hl, fr, hr) {
                Ok(r) => {
                    if let Some(a) = r.note {
                        notes.push(a);
                    }
                    (r.value, r.keep, r.h)
                }
                Err(a) => {
                    notes.push(a);
                    continue;
                }
            }
        };
        let labels = result_labels(&ls.labels, &rs.labels, m, include.map(|l| &l.labels));
        let drop_name = ls.drop_name || drops_name(op) || return_bool;
        // Matching errors are raised before filtering, as Prometheus does.
        match matched.get_mut(&sig) {
            None => {
                matched.insert(sig, HashSet::from([labels.clone()]));
            }
            Some(_) if include.is_none() => {
                return exec(
                    "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                );
            }
            Some(set) => {
                if !set.insert(labels.clone()) {
                    return exec(
                        "multiple matches for labels: grouping labels must ensure unique matches",
                    );
                }
            }
        }
        if return_bool {
            value = if keep { 1.0 } else { 0.0 };
            h = None;
        } else if !keep {
            continue;
        }
        out.push(Sample {
            labels,
            ts: t,
            value,
            h,
            drop_name,
        });
    }
    Ok(out)
}

/// The labels named in the error for duplicate matches.
fn match_labels(l: &Labels, m: &BinModifier) -> Labels {
    signature(l, m)
}

fn result_labels(
    many: &Labels,
    one: &Labels,
    m: &BinModifier,
    include: Option<&Vec<String>>,
) -> Labels {
    let mut out = many.clone();
    if include.is_none() {
        match &m.matching {
            Some(LabelModifier::Include(on)) => out.retain(|n| on.labels.iter().any(|x| x == n)),
            Some(LabelModifier::Exclude(ign)) => out.retain(|n| !ign.labels.iter().any(|x| x == n)),
            None => {}
        }
    }
    if let Some(inc) = include {
        for name in inc {
            let v = one.get(name).to_owned();
            out.set(name.clone(), v);
        }
    }
    out
}

/// An operation's result on elements of which at least one is a histogram.
struct HistResult {
    value: f64,
    h: Option<Arc<FloatHistogram>>,
    keep: bool,
    /// An annotation that does not drop the element.
    note: Option<Annotation>,
}

impl Op {
    /// The operator as Prometheus names it in annotations.
    fn symbol(self) -> &'static str {
        match self {
            Op::Add => "+",
            Op::Sub => "-",
            Op::Mul => "*",
            Op::Div => "/",
            Op::Mod => "%",
            Op::Pow => "^",
            Op::Atan2 => "atan2",
            Op::Eq => "==",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Lt => "<",
            Op::Ge => ">=",
            Op::Le => "<=",
            Op::TrimUpper => "</",
            Op::TrimLower => ">/",
            Op::And => "and",
            Op::Or => "or",
            Op::Unless => "unless",
        }
    }
}

/// `op` on two elements, at least one a histogram (`lh`/`rh`), as Prometheus's
/// `vectorElemBinop` (derived from prometheus/promql/engine.go): `h*s`, `s*h`, `h/s`,
/// `h </ s` and `h >/ s` (the histogram trimmed at `s`, [`FloatHistogram::trim`]), `h+h`,
/// `h-h` (a gauge), `h==h` and `h!=h`; anything else drops the element with an
/// `IncompatibleTypesInBinOpInfo`, and histograms of exponential and custom buckets with an
/// `IncompatibleBucketLayoutInBinOpWarning` (both the `Err`).
fn elem_histogram(
    op: Op,
    l: f64,
    lh: Option<&Arc<FloatHistogram>>,
    r: f64,
    rh: Option<&Arc<FloatHistogram>>,
) -> std::result::Result<HistResult, Annotation> {
    let ok = |h: FloatHistogram| HistResult {
        value: 0.0,
        h: Some(Arc::new(h)),
        keep: true,
        note: None,
    };
    let kind = |h: Option<&Arc<FloatHistogram>>| if h.is_some() { "histogram" } else { "float" };
    let incompatible = || Annotation::IncompatibleTypesInBinOp {
        lhs: kind(lh).into(),
        op: op.symbol().into(),
        rhs: kind(rh).into(),
    };
    match (lh, rh) {
        (None, Some(h)) if op == Op::Mul => {
            let mut h = (**h).clone();
            h.mul(l).compact(0);
            Ok(ok(h))
        }
        (Some(h), None) if matches!(op, Op::Mul | Op::Div) => {
            let mut h = (**h).clone();
            if op == Op::Mul {
                h.mul(r);
            } else {
                h.div(r);
            }
            h.compact(0);
            Ok(ok(h))
        }
        (Some(h), None) if op.is_trim() => {
            let mut h = (**h).clone();
            let side = if op == Op::TrimUpper {
                native::Trim::Upper
            } else {
                native::Trim::Lower
            };
            h.trim(r, side);
            Ok(ok(h))
        }
        (Some(a), Some(b)) if matches!(op, Op::Add | Op::Sub) => {
            let mut h = (**a).clone();
            let (res, hop) = if op == Op::Add {
                (h.add(b), HistogramOp::Add)
            } else {
                (h.sub(b), HistogramOp::Sub)
            };
            let flags = res.map_err(|e| match e {
                native::Error::IncompatibleSchema | native::Error::ReduceResolution { .. } => {
                    Annotation::IncompatibleBucketLayoutInBinOp {
                        op: op.symbol().into(),
                    }
                }
            })?;
            if op == Op::Sub {
                h.reset_hint = native::ResetHint::Gauge;
            }
            h.compact(0);
            // Prometheus returns the collision as its error, which drops the element.
            if flags.counter_reset_collision {
                return Err(Annotation::HistogramCounterResetCollision(hop));
            }
            let mut res = ok(h);
            if flags.custom_bounds_reconciled {
                res.note = Some(Annotation::MismatchedCustomBucketsHistograms(hop));
            }
            Ok(res)
        }
        (Some(a), Some(b)) if matches!(op, Op::Eq | Op::Ne) => {
            let eq = a.equals(b);
            Ok(HistResult {
                value: 0.0,
                h: Some(a.clone()),
                keep: if op == Op::Eq { eq } else { !eq },
                note: None,
            })
        }
        _ => Err(incompatible()),
    }
}

/// Adds the annotations of binary expression `b`'s elements, at its position.
fn annotate(ev: &mut Evaluator<'_>, b: &BinaryExpr, notes: Vec<Annotation>) {
    if notes.is_empty() {
        return;
    }
    let pos = expr_position(ev.query, &b.lhs.to_string());
    for a in notes {
        ev.annotate(a, &pos);
    }
}

/// ` (line:col)` of `text` in `query` (where the left operand starts), or ` (1:1)`.
fn expr_position(query: &str, text: &str) -> String {
    let at = query.find(text).unwrap_or(0);
    let before = &query[..at];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!(" ({line}:{col})")
}
