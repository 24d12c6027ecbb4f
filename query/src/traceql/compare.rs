//! `compare({filter}, top, start, end)`, as Tempo's (`engine_metrics_compare.go`): every
//! span the query selects is in the selection (the filter holds, and it started in the
//! window when one is given) or in the baseline, and is counted per step under each of its
//! attributes' values: `{__meta_type="selection", <attribute>=<value>}` and the same for
//! `baseline`, plus per attribute the total `{__meta_type="selection_total",
//! <attribute>=nil}`. Each attribute keeps its `top` most frequent values in each group
//! (by their count over the whole range); one with more is flagged by
//! `{__meta_error="__too_many_values__", <attribute>=nil}` (a series without points).
//!
//! The attributes are the span's (`span.<key>`), its resource's (`resource.<key>`) and the
//! intrinsics `name`, `status`, `kind` and `statusMessage` (when set); durations, ids and
//! times are left out, as in Tempo, for their cardinality.

use std::collections::{BTreeMap, HashSet};

use super::MetricSeries;
use super::ast::Compare;
use super::eval::{from_any, matches};
use super::trace::TraceView;
use super::{Kind, Status, Value};

const META_TYPE: &str = "__meta_type";
const META_ERROR: &str = "__meta_error";
const TOO_MANY: &str = "__too_many_values__";

/// The label sets span `i` of `t` counts under: for each attribute, its value's series
/// and its group's total.
pub(super) fn labels_of(c: &Compare, t: &TraceView, i: usize) -> Vec<Vec<(String, Value)>> {
    let s = &t.spans[i];
    let in_window = c.window == (0, 0) || (s.start_ns >= c.window.0 && s.start_ns < c.window.1);
    let group = if in_window && matches(t, i, &c.filter) {
        "selection"
    } else {
        "baseline"
    };
    let mut attrs: Vec<(String, Value)> = vec![
        ("name".into(), Value::Str(s.name.clone())),
        (
            "status".into(),
            Value::Status(Status::from_code(s.status_code)),
        ),
        ("kind".into(), Value::Kind(Kind::from_code(s.kind))),
    ];
    if !s.status_message.is_empty() {
        attrs.push(("statusMessage".into(), Value::Str(s.status_message.clone())));
    }
    attrs.extend(
        s.attributes
            .iter()
            .map(|(k, v)| (format!("span.{k}"), from_any(v))),
    );
    attrs.extend(
        s.resource_attributes
            .iter()
            .map(|(k, v)| (format!("resource.{k}"), from_any(v))),
    );
    let has_service = s
        .resource_attributes
        .iter()
        .any(|(k, _)| k == "service.name");
    if !has_service && !s.service_name.is_empty() {
        attrs.push((
            "resource.service.name".into(),
            Value::Str(s.service_name.clone()),
        ));
    }
    let total = format!("{group}_total");
    let mut out = Vec::with_capacity(attrs.len() * 2);
    for (name, v) in attrs {
        if matches!(v, Value::Nil | Value::Duration(_)) {
            continue;
        }
        out.push(vec![
            (META_TYPE.into(), Value::Str(group.into())),
            (name.clone(), v),
        ]);
        out.push(vec![
            (META_TYPE.into(), Value::Str(total.clone())),
            (name, Value::Nil),
        ]);
    }
    out
}

/// The answer from every value's series: each attribute's `top` values per group, the
/// totals, and a flag for each attribute that had more values.
pub(super) fn select(series: Vec<MetricSeries>, top: usize) -> Vec<MetricSeries> {
    // (group, attribute) -> its values' series with their totals over the range.
    let mut groups: BTreeMap<(String, String), Vec<(f64, MetricSeries)>> = BTreeMap::new();
    let mut out = Vec::new();
    for s in series {
        let group = match s.labels.first() {
            Some((_, Value::Str(g))) => g.clone(),
            _ => continue,
        };
        if group.ends_with("_total") {
            out.push(s);
            continue;
        }
        let Some((attr, _)) = s.labels.get(1) else {
            continue;
        };
        let sum: f64 = s.points.iter().map(|p| p.1).sum();
        groups
            .entry((group, attr.clone()))
            .or_default()
            .push((sum, s));
    }
    let mut flagged = HashSet::new();
    for ((_, attr), mut values) in groups {
        values.sort_by(|a, b| {
            b.0.total_cmp(&a.0)
                .then_with(|| format!("{:?}", a.1.labels).cmp(&format!("{:?}", b.1.labels)))
        });
        if values.len() > top && flagged.insert(attr.clone()) {
            out.push(MetricSeries {
                labels: vec![
                    (META_ERROR.into(), Value::Str(TOO_MANY.into())),
                    (attr, Value::Nil),
                ],
                points: Vec::new(),
            });
        }
        out.extend(values.into_iter().take(top).map(|(_, s)| s));
    }
    out.sort_by_cached_key(|s| format!("{:?}", s.labels));
    out
}
