//! The streams of a time range, with their entry counts and bytes: what Loki's label,
//! series, `index/stats` and `index/volume` endpoints answer from its index. Strata
//! answers from the logs files' summaries (streams counted per second,
//! `strata_engine::LogSummary`) when the range and steps are whole seconds and every
//! file has one; else it reads the columns that make up stream labels (not the lines),
//! with the selector's `service_name` matchers pushed down to the files' statistics.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, Int64Array, MapArray, StringArray, TimestampNanosecondArray,
};
use datafusion::prelude::SessionContext;

use super::ast::Matcher;
use super::error::Result;
use super::pipeline::Pipeline;
use super::scan::{ScanStats, StreamCache, column, map_pairs, matcher_filter_sql};
use super::streams::{Labels, stream_labels};
use crate::sql::{SqlConfig, SqlStream};
use strata_engine::NS_PER_SECOND;

/// One stream seen in a range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamStats {
    /// Its labels.
    pub labels: Arc<Labels>,
    /// Its entries in the range.
    pub entries: u64,
    /// Their lines' bytes.
    pub bytes: u64,
    /// With steps asked for: the bytes of each step `[start + k·step, start + (k+1)·step)`.
    pub bytes_by_step: Vec<u64>,
}

/// Steps to split a range's bytes by: `(start, step)`, both nanoseconds.
pub type Steps = Option<(i64, i64)>;

/// The streams with entries in `[start_ns, end_ns)` that match a selector of `any_of` (an
/// empty `any_of` keeps all), sorted by labels; with `steps`, their bytes per step too.
pub async fn streams(
    ctx: &SessionContext,
    config: &SqlConfig,
    any_of: &[Vec<Matcher>],
    (start_ns, end_ns): (i64, i64),
    steps: Steps,
) -> Result<(Vec<StreamStats>, ScanStats)> {
    // Compiled first: a selector's bad regex is refused before any scan.
    let selectors = any_of
        .iter()
        .map(|sel| Pipeline::new(sel, &[]))
        .collect::<Result<Vec<_>>>()?;
    if let Some(answer) = from_summaries(ctx, &selectors, (start_ns, end_ns), steps).await? {
        return Ok(answer);
    }
    let mut cond = vec![
        format!("time >= to_timestamp_nanos({start_ns})"),
        format!("time < to_timestamp_nanos({end_ns})"),
    ];
    // Only one selector can be pushed down as a conjunction.
    if let [only] = any_of {
        cond.extend(only.iter().filter_map(matcher_filter_sql));
    }
    let sql = format!(
        "SELECT service_name, resource_attributes, \
         CAST(coalesce(octet_length(body), 0) AS BIGINT), time FROM logs WHERE {}",
        cond.join(" AND ")
    );
    let mut stream = SqlStream::start(ctx, &sql, config).await?;
    let mut cache = StreamCache::default();
    let buckets = steps.map_or(0, |(from, step)| {
        usize::try_from((end_ns - from).max(0) / step.max(1) + 1).unwrap_or(0)
    });
    let mut found = Found::new();
    let mut stats = ScanStats::default();
    while let Some(batch) = stream.next_batch().await? {
        let service = column::<StringArray>(&batch, 0)?;
        let resource = column::<MapArray>(&batch, 1)?;
        let bytes = column::<Int64Array>(&batch, 2)?;
        let time = column::<TimestampNanosecondArray>(&batch, 3)?;
        for i in 0..batch.num_rows() {
            let pairs = map_pairs(resource, i)?;
            let (labels, _, _) = cache.get(service.value(i), &pairs);
            let n = if bytes.is_valid(i) {
                bytes.value(i).max(0) as u64
            } else {
                0
            };
            stats.lines += 1;
            stats.bytes += n;
            let keep = selectors.is_empty() || selectors.iter().any(|p| p.selected(&labels));
            if keep {
                let e = found
                    .entry(labels)
                    .or_insert_with(|| (0, 0, vec![0; buckets]));
                e.0 += 1;
                e.1 += n;
                if let Some((from, step)) = steps {
                    let k = (time.value(i) - from).div_euclid(step.max(1));
                    if let Some(b) = usize::try_from(k).ok().and_then(|k| e.2.get_mut(k)) {
                        *b += n;
                    }
                }
            }
        }
    }
    Ok((sorted(found), stats))
}

/// The answer of [`streams`] from the logs summaries; `None` when they cannot give it
/// (a bound not a whole second or one past it, a step not whole seconds, a file without
/// a summary yet).
async fn from_summaries(
    ctx: &SessionContext,
    selectors: &[Pipeline],
    (start_ns, end_ns): (i64, i64),
    steps: Steps,
) -> Result<Option<(Vec<StreamStats>, ScanStats)>> {
    // Records strictly inside a second all lie on one side of such a bound (a whole second,
    // or one nanosecond past it: an inclusive end).
    let bound = |t: i64| t.rem_euclid(NS_PER_SECOND) <= 1;
    let whole = |t: i64| t.rem_euclid(NS_PER_SECOND) == 0;
    if !bound(start_ns) || !bound(end_ns) || steps.is_some_and(|(f, s)| !bound(f) || !whole(s)) {
        return Ok(None);
    }
    let Some(all) = super::summary::summaries(ctx, (start_ns, end_ns.saturating_add(1))).await?
    else {
        return Ok(None);
    };
    let buckets = steps.map_or(0, |(from, step)| {
        usize::try_from((end_ns - from).max(0) / step.max(1) + 1).unwrap_or(0)
    });
    let mut found = Found::new();
    let mut stats = ScanStats::default();
    let (first, last) = (start_ns / NS_PER_SECOND, end_ns / NS_PER_SECOND);
    for summary in &all {
        let (lo, hi) = summary.second_range();
        if hi < first || lo > last + 1 {
            continue;
        }
        for (g, group) in summary.groups().iter().enumerate() {
            let resource = group.resource.iter().map(|(k, v)| (k.as_str(), v.as_str()));
            let labels = Arc::new(stream_labels(&group.service_name, resource).0);
            if !selectors.is_empty() && !selectors.iter().any(|p| p.selected(&labels)) {
                continue;
            }
            let mut add = |t: i64, n: u64, bytes: u64| {
                if n == 0 || t < start_ns || t >= end_ns {
                    return;
                }
                stats.lines += n;
                stats.bytes += bytes;
                stats.summarized += n;
                let e = found
                    .entry(labels.clone())
                    .or_insert_with(|| (0, 0, vec![0; buckets]));
                e.0 += n;
                e.1 += bytes;
                if let Some((from, step)) = steps {
                    let k = (t - from).div_euclid(step.max(1));
                    if let Some(b) = usize::try_from(k).ok().and_then(|k| e.2.get_mut(k)) {
                        *b += bytes;
                    }
                }
            };
            for c in summary.seconds(g) {
                if c.second < first {
                    continue;
                }
                if c.second > last + 1 {
                    break;
                }
                // The records inside the second's open interval lie on the same side of
                // every whole-second bound: one time stands for them all.
                let inside = (c.second - 1) * NS_PER_SECOND + 1;
                add(inside, c.entries - c.edge_entries, c.bytes - c.edge_bytes);
                add(c.second * NS_PER_SECOND, c.edge_entries, c.edge_bytes);
            }
        }
    }
    Ok(Some((sorted(found), stats)))
}

/// Streams found, by labels: their entries, bytes and bytes per step.
type Found = HashMap<Arc<Labels>, (u64, u64, Vec<u64>)>;

/// The streams found, sorted by labels.
fn sorted(found: Found) -> Vec<StreamStats> {
    let mut out: Vec<StreamStats> = found
        .into_iter()
        .map(|(labels, (entries, bytes, bytes_by_step))| StreamStats {
            labels,
            entries,
            bytes,
            bytes_by_step,
        })
        .collect();
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    out
}
