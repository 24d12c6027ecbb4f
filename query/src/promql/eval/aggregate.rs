//! Aggregation operators (`sum`, `avg`, `topk`, `quantile`, ...) with `by`/`without`.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};

use promql_parser::parser::{AggregateExpr, LabelModifier};

use super::aggregate_hist;
use super::{Evaluator, NameUse, Val};
use crate::promql::error::{Error, Result, exec};
use crate::promql::label_cache::WordMap;
use crate::promql::native::go_float;
use crate::promql::stats::{format_float, kahan_inc, mean, quantile, variance};
use crate::promql::value::{Labels, METRIC_NAME, Sample};

/// Evaluates an aggregation at `t`.
pub(crate) fn eval(ev: &mut Evaluator<'_>, a: &AggregateExpr, t: i64) -> Result<Val> {
    let op = a.op.to_string().to_lowercase();
    let param = match &a.param {
        Some(p) => Some(ev.eval(p, t)?),
        None => None,
    };
    let name_use = if reads_group_key_only(&op, &a.modifier) {
        NameUse::GroupKey
    } else {
        NameUse::Any
    };
    let input = ev.eval_vector_for(&a.expr, t, name_use)?;
    let site = a as *const AggregateExpr as usize;
    let groups = group(ev, site, &a.modifier, input);
    let out = match op.as_str() {
        "sum" | "avg" | "count" | "min" | "max" | "group" | "stddev" | "stdvar" => {
            fold_groups(ev, &op, groups, t)
        }
        "quantile" => quantile_groups(ev, scalar_param(&param, &op)?, groups, t),
        "count_values" => count_values(&param, groups, t)?,
        "topk" | "bottomk" | "limitk" => keep_k(ev, &op, scalar_param(&param, &op)?, groups, t)?,
        "limit_ratio" => limit_ratio(ev, scalar_param(&param, &op)?, groups, t)?,
        other => return exec(format!("unknown aggregation {other}")),
    };
    Ok(Val::Vector(out))
}

/// The groups of an aggregation's input: each group's labels and its samples.
type Groups = Vec<(Labels, Vec<Sample>)>;

/// The scalar parameter of aggregation `op`.
fn scalar_param(param: &Option<Val>, op: &str) -> Result<f64> {
    match param {
        Some(Val::Scalar(v)) => Ok(*v),
        _ => exec(format!("expected scalar parameter for {op}")),
    }
}

/// An aggregation's output sample at `t`: it drops the metric name if it has one and any
/// input of its group drops it (`group_drops`).
fn out_sample(labels: Labels, value: f64, group_drops: bool, t: i64) -> Sample {
    let drop_name = labels.has(METRIC_NAME) && group_drops;
    Sample {
        labels,
        ts: t,
        value,
        h: None,
        drop_name,
    }
}

/// `sum`, `avg`, `count`, `min`, `max`, `group`, `stddev` and `stdvar`: one sample per
/// group (`sum` and `avg` of histograms through [`aggregate_hist::sum_avg`]; the others
/// ignore histograms, noting it).
fn fold_groups(ev: &mut Evaluator<'_>, op: &str, groups: Groups, t: i64) -> Vec<Sample> {
    let mut out = Vec::new();
    let pos = ev.arg_position(op, Some(0));
    for (labels, samples) in groups {
        let drops = samples.iter().any(|s| s.drop_name);
        if matches!(op, "sum" | "avg") && samples.iter().any(|s| s.h.is_some()) {
            if let Some(h) = aggregate_hist::sum_avg(ev, op == "avg", &samples, &pos) {
                let mut s = out_sample(labels, 0.0, drops, t);
                s.h = Some(h);
                out.push(s);
            }
            continue;
        }
        let samples = if matches!(op, "min" | "max" | "stddev" | "stdvar") {
            let kept = aggregate_hist::drop_ignored(ev, op, samples, &pos);
            if kept.is_empty() {
                continue;
            }
            kept
        } else {
            samples
        };
        let vals: Vec<f64> = samples.iter().map(|s| s.value).collect();
        out.push(out_sample(labels, fold(op, &vals), drops, t));
    }
    out
}

/// Aggregation `op` (one of [`fold_groups`]'s) over a group's float values.
fn fold(op: &str, vals: &[f64]) -> f64 {
    match op {
        "sum" => {
            let (mut s, mut c) = (0.0, 0.0);
            for v in vals {
                (s, c) = kahan_inc(*v, s, c);
            }
            if s.is_infinite() { s } else { s + c }
        }
        "avg" => mean(vals),
        "count" => vals.len() as f64,
        "group" => 1.0,
        "min" => vals
            .iter()
            .copied()
            .fold(f64::NAN, |m, v| if v < m || m.is_nan() { v } else { m }),
        "max" => vals
            .iter()
            .copied()
            .fold(f64::NAN, |m, v| if v > m || m.is_nan() { v } else { m }),
        "stdvar" => variance(vals),
        _ => variance(vals).sqrt(),
    }
}

/// `quantile`: the `q` quantile of each group's floats (warning when `q` is outside
/// [0, 1]).
fn quantile_groups(ev: &mut Evaluator<'_>, q: f64, groups: Groups, t: i64) -> Vec<Sample> {
    if q.is_nan() || !(0.0..=1.0).contains(&q) {
        let pos = ev.arg_position("quantile", Some(0));
        ev.warn(format!(
            "quantile value should be between 0 and 1, got {}{pos}",
            format_float(q)
        ));
    }
    let mut out = Vec::new();
    let pos = ev.arg_position("quantile", Some(1));
    for (labels, samples) in groups {
        let drops = samples.iter().any(|s| s.drop_name);
        let samples = aggregate_hist::drop_ignored(ev, "quantile", samples, &pos);
        if samples.is_empty() {
            continue;
        }
        let mut vals: Vec<f64> = samples.iter().map(|s| s.value).collect();
        out.push(out_sample(labels, quantile(q, &mut vals), drops, t));
    }
    out
}

/// `count_values`: how many samples of each group have each value, the value in the
/// label `param` names.
fn count_values(param: &Option<Val>, groups: Groups, t: i64) -> Result<Vec<Sample>> {
    let Some(Val::Str(label)) = param else {
        return exec("expected string parameter for count_values");
    };
    if label.is_empty() || label.contains('\u{0}') {
        return exec(format!("invalid label name {label:?}"));
    }
    // Whether a group's output drops the name: if any of its inputs does. The outputs are
    // looked up by content (they are not group keys, but may equal one).
    let drop_by_labels: HashMap<Labels, bool> = groups
        .iter()
        .map(|(l, ss)| (l.clone(), ss.iter().any(|s| s.drop_name)))
        .collect();
    let mut counts: Vec<(Labels, f64)> = Vec::new();
    let mut idx: HashMap<Labels, usize> = HashMap::new();
    for (labels, samples) in groups {
        for s in samples {
            let mut l = labels.clone();
            // A histogram's value is its text form (Prometheus's `String()`).
            let value = match &s.h {
                Some(h) => h.to_string(),
                None => format_float(s.value),
            };
            l.set(label.clone(), value);
            let i = *idx.entry(l.clone()).or_insert_with(|| {
                counts.push((l, 0.0));
                counts.len() - 1
            });
            counts[i].1 += 1.0;
        }
    }
    Ok(counts
        .into_iter()
        .map(|(l, c)| {
            let drops = drop_by_labels.get(&l).copied().unwrap_or(false);
            out_sample(l, c, drops, t)
        })
        .collect())
}

/// `topk`, `bottomk` and `limitk`: at most `k` samples of each group, the largest, the
/// smallest or the first.
fn keep_k(ev: &mut Evaluator<'_>, op: &str, k: f64, groups: Groups, t: i64) -> Result<Vec<Sample>> {
    if k.is_nan() {
        return Err(Error::Execution("Parameter value is NaN".into()));
    }
    let k = if k >= 9.2e18 {
        usize::MAX
    } else {
        k.max(0.0) as usize
    };
    let mut out = Vec::new();
    let pos = ev.arg_position(op, None);
    for (_, mut samples) in groups {
        if op != "limitk" {
            samples = aggregate_hist::drop_ignored(ev, op, samples, &pos);
        }
        if op == "topk" {
            samples.sort_by(|a, b| desc_nan_last(a.value, b.value));
        } else if op == "bottomk" {
            samples.sort_by(|a, b| asc_nan_last(a.value, b.value));
        }
        for mut s in samples.into_iter().take(k) {
            s.ts = t;
            out.push(s);
        }
    }
    Ok(out)
}

/// `limit_ratio`: the samples whose label hash falls in the first `r` of the hash range
/// (the last `-r` when `r` is negative), `r` capped to [-1, 1] with a warning.
fn limit_ratio(ev: &mut Evaluator<'_>, r: f64, groups: Groups, t: i64) -> Result<Vec<Sample>> {
    if r.is_nan() {
        return Err(Error::Execution("Ratio value is NaN".into()));
    }
    if !(-1.0..=1.0).contains(&r) {
        let capped = r.clamp(-1.0, 1.0);
        let pos = ev.arg_position("limit_ratio", Some(0));
        ev.warn(format!(
            "ratio value should be between -1 and 1, got {}, capping to {}{pos}",
            go_float(r, 6),
            go_float(capped, 6)
        ));
    }
    let r = r.clamp(-1.0, 1.0);
    let mut out = Vec::new();
    for (_, samples) in groups {
        for mut s in samples {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            s.labels.hash(&mut h);
            let off = h.finish() as f64 / u64::MAX as f64;
            if (r >= 0.0 && off < r) || (r < 0.0 && off >= 1.0 + r) {
                s.ts = t;
                out.push(s);
            }
        }
    }
    Ok(out)
}

fn desc_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => b.partial_cmp(&a).unwrap_or(std::cmp::Ordering::Equal),
    }
}

fn asc_nan_last(a: f64, b: f64) -> std::cmp::Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Greater,
        (false, true) => std::cmp::Ordering::Less,
        _ => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
    }
}

/// Whether aggregation `op` with `modifier` reads of its inputs' labels only the group key,
/// and the key holds none of the labels name removal takes: then a removal still pending on
/// its input changes nothing it outputs ([`NameUse::GroupKey`]).
fn reads_group_key_only(op: &str, modifier: &Option<LabelModifier>) -> bool {
    let key_only = matches!(
        op,
        "sum" | "avg" | "count" | "min" | "max" | "group" | "stddev" | "stdvar" | "quantile"
    );
    key_only
        && match modifier {
            None => true,
            Some(LabelModifier::Include(by)) => !by
                .labels
                .iter()
                .any(|n| matches!(n.as_str(), METRIC_NAME | "__type__" | "__unit__")),
            Some(LabelModifier::Exclude(_)) => false,
        }
}

/// How an aggregation grouped one step's input: the group keys in order of first
/// appearance and each input sample's group. At many steps (a range query, a subquery) the
/// input usually holds the same series in the same order at every step; then the grouping
/// is reused instead of looking every sample's key up again.
#[derive(Debug, Default)]
pub(crate) struct Grouping {
    /// The input's label sets, held so that their addresses identify them.
    inputs: Vec<Labels>,
    keys: Vec<Labels>,
    group_of: Vec<u32>,
}

impl Grouping {
    /// Whether `input` holds the very label sets (by address) this grouping was made for.
    fn fits(&self, input: &[Sample]) -> bool {
        self.inputs.len() == input.len()
            && self
                .inputs
                .iter()
                .zip(input)
                .all(|(l, s)| l.ptr() == s.labels.ptr())
    }
}

/// `input` split into groups by key, in order of first appearance. The keys are interned
/// (one address per key); `site` is the aggregation's address.
fn group(
    ev: &mut Evaluator<'_>,
    site: usize,
    modifier: &Option<LabelModifier>,
    input: Vec<Sample>,
) -> Vec<(Labels, Vec<Sample>)> {
    let many = !ev.single_step();
    let grouping = match ev.take_grouping(site) {
        Some(g) if g.fits(&input) => g,
        _ => {
            let mut keys = Vec::new();
            let mut group_of = Vec::with_capacity(input.len());
            let mut index: WordMap<usize, u32> = WordMap::default();
            for s in &input {
                let key = ev
                    .labels
                    .derive(site, &s.labels, |l| group_labels(l, modifier));
                let i = *index.entry(key.ptr()).or_insert_with(|| {
                    keys.push(key);
                    (keys.len() - 1) as u32
                });
                group_of.push(i);
            }
            let inputs = if many {
                input.iter().map(|s| s.labels.clone()).collect()
            } else {
                Vec::new()
            };
            Grouping {
                inputs,
                keys,
                group_of,
            }
        }
    };
    let mut groups: Vec<(Labels, Vec<Sample>)> = grouping
        .keys
        .iter()
        .map(|k| (k.clone(), Vec::new()))
        .collect();
    for (s, &g) in input.into_iter().zip(&grouping.group_of) {
        groups[g as usize].1.push(s);
    }
    if many {
        ev.put_grouping(site, grouping);
    }
    groups
}

/// The labels a sample is grouped under.
fn group_labels(labels: &Labels, m: &Option<LabelModifier>) -> Labels {
    match m {
        None => Labels::default(),
        // `by (__name__)` groups by the name even when it is to be dropped (Prometheus's
        // delayed name removal); the output then drops it if any input does.
        Some(LabelModifier::Include(by)) => {
            let mut l = labels.clone();
            l.retain(|n| by.labels.iter().any(|x| x == n));
            l
        }
        Some(LabelModifier::Exclude(without)) => {
            let mut l = labels.clone();
            l.retain(|n| n != METRIC_NAME && !without.labels.iter().any(|x| x == n));
            l
        }
    }
}
