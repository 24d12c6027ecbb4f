//! Grouped counts and bytes from the logs files' summaries (`strata_engine::LogSummary`:
//! records per stream, severity and second) instead of the records: the fast path's
//! queries ([`super::fast`]) without line filters, on a grid of whole seconds (Grafana
//! aligns its queries to the step, in whole seconds). Exact, or not taken: a query whose
//! grouping labels a summary cannot tell (an attribute other than the level ones, trace
//! or span ids), whose windows are not whole seconds, or over a file without a summary
//! yet, reads the records.

use std::sync::Arc;

use datafusion::prelude::SessionContext;
use strata_engine::{LogSummary, NS_PER_SECOND, SummaryGroup};

use super::Limits;
use super::ast::{RangeAgg, Stage};
use super::error::{Error, Result};
use super::fast::{Plan, key_is};
use super::metric::range::Accumulator;
use super::pipeline::Pipeline;
use super::scan::ScanStats;
use super::streams::{Labels, detected_level, stream_labels};
use crate::sql::logs_source;

/// The summaries covering `[from, to)` of the session's tenant; `None` when one of the
/// range's files has none yet, or the session reads no engine.
pub(crate) async fn summaries(
    ctx: &SessionContext,
    (from, to): (i64, i64),
) -> Result<Option<Vec<Arc<LogSummary>>>> {
    let Some((engine, tenant)) = logs_source(ctx).await else {
        return Ok(None);
    };
    engine
        .logs_summaries(&tenant, from, to.saturating_sub(1))
        .map_err(|e| Error::Query(format!("reading logs summaries: {e}")))
}

/// A group's value of the label `name` as a sample of it would have it (the rules of
/// [`super::fast`]), `Err(())` when the records of the group may differ in it.
fn value_of(
    name: &str,
    g: &SummaryGroup,
    labels: &Labels,
    resource_metadata: &[(String, String)],
) -> std::result::Result<Option<String>, ()> {
    let level_attr = |n: &str| g.level_attributes.iter().rev().find(|(k, _)| key_is(k, n));
    let is_level = matches!(name, "level" | "detected_level" | "severity_text");
    if !is_level && g.attribute_keys.iter().any(|k| key_is(k, name)) {
        return Err(());
    }
    if matches!(name, "trace_id" | "span_id") {
        return Err(());
    }
    let has = |n: &str| {
        labels.iter().any(|(k, _)| k == n)
            || resource_metadata.iter().any(|(k, _)| k == n)
            || level_attr(n).is_some()
    };
    match name {
        "severity_text" if !g.severity_text.is_empty() && !has("level") && !has(name) => {
            return Ok(Some(g.severity_text.clone()));
        }
        "detected_level" if !has(name) => {
            return Ok(Some(
                detected_level(g.severity_number, &g.severity_text).to_owned(),
            ));
        }
        _ => {}
    }
    Ok(level_attr(name)
        .map(|(_, v)| v.clone())
        .or_else(|| {
            resource_metadata
                .iter()
                .rev()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
        .or_else(|| {
            labels
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }))
}

/// Reads `[from, to)` for `agg` into `acc` from the summaries, when they answer it
/// exactly; `Ok(None)` (and `acc` untouched) when they do not.
pub(crate) async fn read(
    ctx: &SessionContext,
    limits: &Limits,
    agg: &RangeAgg,
    plan: &Plan,
    (from, to): (i64, i64),
    acc: &mut Accumulator,
) -> Result<Option<ScanStats>> {
    // Line filters need the lines; `drop __error__` is all the fast path lets through else.
    let only_drops = agg.log.pipeline.iter().all(|s| matches!(s, Stage::Drop(_)));
    if !only_drops || !acc.takes_seconds() {
        return Ok(None);
    }
    let Some(all) = summaries(ctx, (from, to)).await? else {
        return Ok(None);
    };
    let selector = Pipeline::new(&agg.log.selector, &[])?;
    // Seconds `S` with `(S - 1)·1 s, S·1 s]` inside `[from, to)`: from and to are one past
    // whole seconds here (`Accumulator::scan_range`).
    let (first, last) = ((from - 1) / NS_PER_SECOND + 1, (to - 1) / NS_PER_SECOND);
    // First every group's series (or the answer that the summaries cannot tell), then the
    // counts: `acc` is left untouched when they cannot.
    let mut wanted: Vec<(usize, usize, Labels)> = Vec::new();
    for (f, summary) in all.iter().enumerate() {
        let (lo, hi) = summary.second_range();
        if hi < first || lo > last {
            continue;
        }
        for (g, group) in summary.groups().iter().enumerate() {
            let resource = group.resource.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            let (labels, metadata) = stream_labels(&group.service_name, resource);
            let labels = Arc::new(labels);
            if !selector.selected(&labels) {
                continue;
            }
            let mut key = Labels::with_capacity(plan.names.len());
            for name in &plan.names {
                match value_of(name, group, &labels, &metadata) {
                    Ok(Some(v)) => key.push((name.clone(), v)),
                    Ok(None) => {}
                    Err(()) => return Ok(None),
                }
            }
            wanted.push((f, g, key));
        }
    }
    let mut stats = ScanStats::default();
    for (f, g, key) in wanted {
        let mut at = None;
        for s in all[f].seconds(g) {
            if s.second < first {
                continue;
            }
            if s.second > last {
                break;
            }
            let at = match at {
                Some(at) => at,
                None => {
                    let new = acc.series_for(key.clone());
                    if acc.series_count() > limits.working_series() {
                        return Err(limits.working_series_error());
                    }
                    *at.insert(new)
                }
            };
            let value = if plan.bytes { s.bytes } else { s.entries };
            acc.add_many_at(at, s.second * NS_PER_SECOND, s.entries, value as f64);
            stats.lines += s.entries;
            stats.summarized += s.entries;
            stats.bytes += s.bytes;
        }
        limits.check_bytes(stats.bytes)?;
    }
    Ok(Some(stats))
}

/// Whether the summaries show that no record of `[from, to)` is in a stream `selector`
/// selects: then a log query need not read that window. `false` when they cannot tell
/// (a file without a summary yet).
pub(crate) async fn none_selected(
    ctx: &SessionContext,
    selector: &Pipeline,
    (from, to): (i64, i64),
) -> Result<bool> {
    let Some(all) = summaries(ctx, (from, to)).await? else {
        return Ok(false);
    };
    // The seconds that may hold a record of the window (a superset).
    let (first, last) = (
        from.div_euclid(NS_PER_SECOND),
        to.div_euclid(NS_PER_SECOND) + 1,
    );
    for summary in &all {
        let (lo, hi) = summary.second_range();
        if hi < first || lo > last {
            continue;
        }
        for (g, group) in summary.groups().iter().enumerate() {
            let resource = group.resource.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            let labels = Arc::new(stream_labels(&group.service_name, resource).0);
            if !selector.selected(&labels) {
                continue;
            }
            let mut seconds = summary.seconds(g);
            if seconds.any(|c| may_meet(&c, (from, to))) {
                return Ok(false);
            }
        }
    }
    Ok(true)
}

/// Whether a second's records may lie in `[from, to)`: those inside the second's open
/// interval anywhere in it, those on its edge exactly there.
fn may_meet(c: &strata_engine::SecondCount, (from, to): (i64, i64)) -> bool {
    let edge = c.second.saturating_mul(NS_PER_SECOND);
    let inside = c.entries > c.edge_entries
        && (edge - NS_PER_SECOND + 1).max(from) <= (edge - 1).min(to - 1);
    let on_edge = c.edge_entries > 0 && (from..to).contains(&edge);
    inside || on_edge
}
