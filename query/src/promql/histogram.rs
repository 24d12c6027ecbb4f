//! `histogram_quantile` and `histogram_fraction` over classic (`le`-labelled) buckets.

use promql_parser::parser::Expr;

use super::error::{Result, exec};
use super::eval::{Evaluator, NameUse, Val};
use super::label_cache::WordMap;
use super::stats::{Bucket, bucket_fraction, bucket_quantile, format_float};
use super::value::{Labels, Sample};

/// [`super::label_cache::LabelCache`] site of removing `le`.
const WITHOUT_LE_SITE: usize = 4;
/// [`super::label_cache::LabelCache`] site of removing `le` and a pending metric name.
const WITHOUT_LE_AND_NAME_SITE: usize = 5;

/// Parses an `le` value as Go's `strconv.ParseFloat` would.
fn parse_le(s: &str) -> Option<f64> {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "+inf" | "inf" | "+infinity" | "infinity" => return Some(f64::INFINITY),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    if t != s {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Groups bucket samples by their labels without `le`, in order of first appearance.
fn group(ev: &mut Evaluator<'_>, v: Vec<Sample>, pos: &str) -> Vec<(Labels, Vec<Bucket>)> {
    let mut groups: Vec<(Labels, Vec<Bucket>)> = Vec::new();
    // Keyed by the address of the interned key: one address per key.
    let mut idx: WordMap<usize, usize> = WordMap::default();
    for s in v {
        let le = s.labels.get("le");
        let Some(upper) = parse_le(le) else {
            let name = annotation_name(ev, &s.labels);
            ev.warn(format!(
                "bucket label \"le\" is missing or has a malformed value of {le:?} for metric name {name:?}{pos}"
            ));
            continue;
        };
        // A bucket whose name's removal is still pending (its reader is this grouping,
        // `NameUse::GroupKey`) is grouped as it will be named: without it.
        let key = if s.drop_name {
            ev.labels.derive(WITHOUT_LE_AND_NAME_SITE, &s.labels, |l| {
                let mut l = l.clone();
                l.remove("le");
                super::drop_name(&mut l);
                l
            })
        } else {
            ev.labels.derive(WITHOUT_LE_SITE, &s.labels, |l| {
                let mut l = l.clone();
                l.remove("le");
                l
            })
        };
        let i = *idx.entry(key.ptr()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(Bucket {
            upper,
            count: s.value,
        });
    }
    groups
}

/// The metric name an annotation about `labels`' buckets names: Prometheus names it only
/// with delayed name removal, and an empty name otherwise (the function drops it).
fn annotation_name<'l>(ev: &Evaluator<'_>, labels: &'l Labels) -> &'l str {
    if ev.delayed_name_removal() {
        labels.name()
    } else {
        ""
    }
}

fn out(labels: Labels, value: f64, t: i64) -> Sample {
    Sample {
        labels,
        ts: t,
        value,
        drop_name: true,
    }
}

/// `histogram_quantile(q, buckets)`.
pub(crate) fn quantile(ev: &mut Evaluator<'_>, args: &[&Expr], t: i64) -> Result<Val> {
    let (Some(qe), Some(ve)) = (args.first(), args.get(1)) else {
        return exec("histogram_quantile needs two arguments");
    };
    let q = ev.eval_scalar(qe, t)?;
    // Only the group keys (labels without `le`, and without a pending name) are read.
    let v = ev.eval_vector_for(ve, t, NameUse::GroupKey)?;
    if q.is_nan() || !(0.0..=1.0).contains(&q) {
        let pos = ev.arg_position("histogram_quantile", Some(0));
        ev.warn(format!(
            "quantile value should be between 0 and 1, got {}{pos}",
            format_float(q)
        ));
    }
    let mut res = Vec::new();
    let pos = ev.arg_position("histogram_quantile", Some(1));
    for (labels, buckets) in group(ev, v, &pos) {
        let (value, forced) = bucket_quantile(q, buckets);
        if forced {
            let name = annotation_name(ev, &labels);
            ev.info(format!(
                "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {name:?}{}",
                ev.arg_position("histogram_quantile", Some(1))
            ));
        }
        res.push(out(labels, value, t));
    }
    Ok(Val::Vector(res))
}

/// `histogram_fraction(lower, upper, buckets)`.
pub(crate) fn fraction(ev: &mut Evaluator<'_>, args: &[&Expr], t: i64) -> Result<Val> {
    let (Some(le), Some(ue), Some(ve)) = (args.first(), args.get(1), args.get(2)) else {
        return exec("histogram_fraction needs three arguments");
    };
    let lower = ev.eval_scalar(le, t)?;
    let upper = ev.eval_scalar(ue, t)?;
    let v = ev.eval_vector(ve, t)?;
    let pos = ev.arg_position("histogram_fraction", Some(2));
    let res = group(ev, v, &pos)
        .into_iter()
        .map(|(labels, buckets)| out(labels, bucket_fraction(lower, upper, buckets), t))
        .collect();
    Ok(Val::Vector(res))
}

/// Formats a quantile as OpenMetrics does (`1` is `1.0`).
fn openmetrics_float(q: f64) -> String {
    let s = format_float(q);
    if q.is_finite() && !s.contains(['.', 'e']) {
        format!("{s}.0")
    } else {
        s
    }
}

/// `histogram_quantiles(buckets, label, q...)`: one output series per quantile, labelled.
pub(crate) fn quantiles(ev: &mut Evaluator<'_>, args: &[&Expr], t: i64) -> Result<Val> {
    let (Some(ve), Some(le)) = (args.first(), args.get(1)) else {
        return exec("histogram_quantiles needs a vector, a label and quantiles");
    };
    let Expr::StringLiteral(label) = super::eval::unparen(le) else {
        return exec("histogram_quantiles expects a string label");
    };
    let mut qs = Vec::new();
    for (i, qe) in args.iter().enumerate().skip(2) {
        let q = ev.eval_scalar(qe, t)?;
        if q.is_nan() || !(0.0..=1.0).contains(&q) {
            let pos = ev.arg_position("histogram_quantiles", Some(i));
            ev.warn(format!(
                "quantile value should be between 0 and 1, got {}{pos}",
                format_float(q)
            ));
        }
        qs.push(q);
    }
    let v = ev.eval_vector(ve, t)?;
    let pos = ev.arg_position("histogram_quantiles", Some(0));
    let groups = group(ev, v, &pos);
    let mut res = Vec::new();
    for q in qs {
        for (labels, buckets) in &groups {
            let (value, forced) = bucket_quantile(q, buckets.clone());
            if forced {
                let name = annotation_name(ev, labels);
                ev.info(format!(
                    "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile) for metric name {name:?}{pos}"
                ));
            }
            let mut l = labels.clone();
            l.set(label.val.clone(), openmetrics_float(q));
            res.push(out(l, value, t));
        }
    }
    Ok(Val::Vector(res))
}
