//! `histogram_quantile`, `histogram_quantiles` and `histogram_fraction` over classic
//! (`le`-labelled) buckets and native histograms, and the native-only `histogram_count`,
//! `histogram_sum`, `histogram_avg`, `histogram_stddev` and `histogram_stdvar`.
//!
//! Derived from prometheus/promql/functions.go (`simpleHistogramFunc`, `funcHistogram*`) and
//! prometheus/promql/engine.go (`resetHistograms`): classic buckets whose labels (without
//! `le`) equal a native histogram's labels are a mix, and neither is evaluated.

use std::sync::Arc;

use promql_parser::parser::Expr;

use super::{Evaluator, NameUse, Val};
use crate::promql::annotations::Annotation;
use crate::promql::error::{Result, exec};
use crate::promql::label_cache::WordMap;
use crate::promql::native::FloatHistogram;
use crate::promql::native::quantile::{self, Note};
use crate::promql::stats::{Bucket, bucket_fraction, bucket_quantile, format_float};
use crate::promql::value::{Labels, Sample, drop_name};

/// [`crate::promql::label_cache::LabelCache`] site of removing `le`.
const WITHOUT_LE_SITE: usize = 4;
/// [`crate::promql::label_cache::LabelCache`] site of removing `le` and a pending metric
/// name.
const WITHOUT_LE_AND_NAME_SITE: usize = 5;
/// [`crate::promql::label_cache::LabelCache`] site of removing a pending metric name of a
/// native histogram.
const WITHOUT_NAME_SITE: usize = 9;

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

/// A histogram function's input: classic bucket groups (labels without `le`, buckets) and
/// native histograms (labels, histogram), mixes of the two removed with a warning.
struct Split {
    classic: Vec<(Labels, Vec<Bucket>)>,
    native: Vec<(Labels, Arc<FloatHistogram>)>,
}

/// The group key of a sample: its labels, without a pending metric name.
fn native_key(ev: &mut Evaluator<'_>, s: &Sample) -> Labels {
    if s.drop_name {
        ev.labels.derive(WITHOUT_NAME_SITE, &s.labels, |l| {
            let mut l = l.clone();
            drop_name(&mut l);
            l
        })
    } else {
        s.labels.clone()
    }
}

/// Splits `v` into classic groups and native histograms (Prometheus's `resetHistograms`).
fn split(ev: &mut Evaluator<'_>, v: Vec<Sample>, pos: &str) -> Split {
    let mut floats = Vec::with_capacity(v.len());
    let mut native = Vec::new();
    for s in v {
        match &s.h {
            Some(h) => {
                let h = h.clone();
                native.push((native_key(ev, &s), h, s.labels));
            }
            None => floats.push(s),
        }
    }
    let mut classic = group(ev, floats, pos);
    let mut kept = Vec::with_capacity(native.len());
    for (key, h, labels) in native {
        if let Some(i) = classic.iter().position(|(l, b)| *l == key && !b.is_empty()) {
            let metric = annotation_name(ev, &labels).to_string();
            ev.annotate(Annotation::MixedClassicNativeHistograms { metric }, pos);
            classic.remove(i);
            continue;
        }
        kept.push((key, h));
    }
    Split {
        classic,
        native: kept,
    }
}

/// Groups bucket samples by their labels without `le`, in order of first appearance.
fn group(ev: &mut Evaluator<'_>, v: Vec<Sample>, pos: &str) -> Vec<(Labels, Vec<Bucket>)> {
    let mut groups: Vec<(Labels, Vec<Bucket>)> = Vec::new();
    // Keyed by the address of the interned key: one address per key.
    let mut idx: WordMap<usize, usize> = WordMap::default();
    for s in v {
        let le = s.labels.get("le");
        let Some(upper) = parse_le(le) else {
            let a = Annotation::BadBucketLabel {
                metric: annotation_name(ev, &s.labels).to_string(),
                le: le.to_string(),
            };
            ev.annotate(a, pos);
            continue;
        };
        // A bucket whose name's removal is still pending (its reader is this grouping,
        // `NameUse::GroupKey`) is grouped as it will be named: without it.
        let key = if s.drop_name {
            ev.labels.derive(WITHOUT_LE_AND_NAME_SITE, &s.labels, |l| {
                let mut l = l.clone();
                l.remove("le");
                drop_name(&mut l);
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
        h: None,
        drop_name: true,
    }
}

/// Turns a note of the native quantile maths into its annotation.
fn note(ev: &mut Evaluator<'_>, n: Option<Note>, labels: &Labels, pos: &str) {
    let Some(n) = n else { return };
    let metric = annotation_name(ev, labels).to_string();
    let a = match n {
        Note::QuantileNanResult => Annotation::NativeHistogramQuantileNaNResult { metric },
        Note::QuantileNanSkew => Annotation::NativeHistogramQuantileNaNSkew { metric },
        Note::FractionNans => Annotation::NativeHistogramFractionNaNs { metric },
    };
    ev.annotate(a, pos);
}

/// `histogram_count`, `histogram_sum`, `histogram_avg`, `histogram_stddev` and
/// `histogram_stdvar`: a value per native histogram; float samples are left out.
pub(crate) fn native_value(
    ev: &mut Evaluator<'_>,
    name: &str,
    args: &[&Expr],
    t: i64,
) -> Result<Val> {
    let Some(ve) = args.first() else {
        return exec(format!("{name} needs one argument"));
    };
    let f: fn(&FloatHistogram) -> f64 = match name {
        "histogram_count" => |h| h.count,
        "histogram_sum" => |h| h.sum,
        "histogram_avg" => |h| h.sum / h.count,
        "histogram_stddev" => quantile::histogram_stddev,
        "histogram_stdvar" => quantile::histogram_stdvar,
        _ => return exec(format!("unknown function {name}")),
    };
    let v = ev.eval_vector(ve, t)?;
    let out = v
        .into_iter()
        .filter_map(|s| {
            let h = s.h?;
            Some(Sample {
                labels: s.labels,
                ts: t,
                value: f(&h),
                h: None,
                drop_name: true,
            })
        })
        .collect();
    Ok(Val::Vector(out))
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
        ev.annotate(Annotation::InvalidQuantile(q), &pos);
    }
    let mut res = Vec::new();
    let pos = ev.arg_position("histogram_quantile", Some(1));
    let Split { classic, native } = split(ev, v, &pos);
    for (labels, h) in native {
        let (value, n) = quantile::histogram_quantile(q, &h);
        note(ev, n, &labels, &pos);
        res.push(out(labels, value, t));
    }
    for (labels, buckets) in classic {
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
    let Split { classic, native } = split(ev, v, &pos);
    let mut res = Vec::with_capacity(classic.len() + native.len());
    for (labels, h) in native {
        let (value, n) = quantile::histogram_fraction(lower, upper, &h);
        note(ev, n, &labels, &pos);
        res.push(out(labels, value, t));
    }
    res.extend(
        classic
            .into_iter()
            .map(|(labels, buckets)| out(labels, bucket_fraction(lower, upper, buckets), t)),
    );
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
    let Expr::StringLiteral(label) = super::unparen(le) else {
        return exec("histogram_quantiles expects a string label");
    };
    let mut qs = Vec::new();
    for (i, qe) in args.iter().enumerate().skip(2) {
        let q = ev.eval_scalar(qe, t)?;
        if q.is_nan() || !(0.0..=1.0).contains(&q) {
            let pos = ev.arg_position("histogram_quantiles", Some(i));
            ev.annotate(Annotation::InvalidQuantile(q), &pos);
        }
        qs.push(q);
    }
    let v = ev.eval_vector(ve, t)?;
    let pos = ev.arg_position("histogram_quantiles", Some(0));
    let Split {
        classic: groups,
        native,
    } = split(ev, v, &pos);
    let mut res = Vec::new();
    for q in qs {
        for (labels, h) in &native {
            let (value, n) = quantile::histogram_quantile(q, h);
            note(ev, n, labels, &pos);
            let mut l = labels.clone();
            l.set(label.val.clone(), openmetrics_float(q));
            res.push(out(l, value, t));
        }
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
