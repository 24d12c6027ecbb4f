//! Grouped counts and bytes without entries: `count_over_time`, `rate`,
//! `bytes_over_time` and `bytes_rate` grouped `by` label names (written, or pushed down
//! from an enclosing `sum by`), over a pipeline of substring line filters only (which SQL
//! evaluates exactly) and `drop __error__` (a no-op without parsers: Grafana's logs volume
//! query). Such a query needs neither the line nor most labels: it reads the stream
//! columns and the attributes, not the body (its length only, for bytes), and looks up the
//! grouping labels of each row where they would come from, instead of building every
//! entry's label set. The answer is the one `eval` gives on the general path.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use datafusion::arrow::array::{
    Array, FixedSizeBinaryArray, Int32Array, Int64Array, MapArray, StringArray,
    TimestampNanosecondArray,
};
use datafusion::prelude::SessionContext;

use super::Limits;
use super::ast::{LineOp, NameOrMatcher, RangeAgg, RangeOp, Stage};
use super::error::Result;
use super::metric::range::Accumulator;
use super::pipeline::Pipeline;
use super::scan::{ScanStats, StreamCache, column, hex, map_pairs, window_filter};
use super::streams::{Labels, detected_level, label_name};
use crate::sql::{SqlConfig, SqlStream};

/// What a range aggregation on the fast path groups by.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The grouping label names, sorted.
    pub(crate) names: Vec<String>,
    /// Bytes (`bytes_*`) rather than counts.
    pub(crate) bytes: bool,
}

/// The fast path's plan for `agg`, when it applies.
pub(crate) fn plan(agg: &RangeAgg) -> Option<Plan> {
    let grouping = agg.grouping.as_ref()?;
    if grouping.without || agg.unwrap.is_some() {
        return None;
    }
    let bytes = match agg.op {
        RangeOp::CountOverTime | RangeOp::Rate => false,
        RangeOp::BytesOverTime | RangeOp::BytesRate => true,
        _ => return None,
    };
    let error_label = |n: &NameOrMatcher| matches!(n, NameOrMatcher::Name(name) if name == "__error__" || name == "__error_details__");
    for stage in &agg.log.pipeline {
        match stage {
            Stage::LineFilter(f) if matches!(f.op, LineOp::Contains | LineOp::NotContains) => {}
            Stage::Drop(list) if list.iter().all(error_label) => {}
            _ => return None,
        }
    }
    let mut names = grouping.labels.clone();
    names.sort();
    names.dedup();
    Some(Plan { names, bytes })
}

/// A series met: its grouping values, and its index in the accumulator.
type Known = (Vec<Option<String>>, usize);

/// Whether stored grouping values equal a row's.
fn same(stored: &[Option<String>], row: &[Option<Cow<'_, str>>]) -> bool {
    stored.len() == row.len()
        && stored
            .iter()
            .zip(row)
            .all(|(a, b)| a.as_deref() == b.as_deref())
}

/// Whether the attribute key `key` becomes the label `name` ([`label_name`]: every
/// character not allowed in a label name as `_`, `_` before a leading digit), without
/// allocating.
pub(crate) fn key_is(key: &str, name: &str) -> bool {
    let mapped = key.chars().map(|c| {
        if c.is_ascii_alphanumeric() || c == '_' {
            c
        } else {
            '_'
        }
    });
    let digit_first = key.starts_with(|c: char| c.is_ascii_digit());
    if key.is_empty() || digit_first {
        return label_name(key) == name;
    }
    mapped.eq(name.chars())
}

/// Reads `[from, to)` for `agg` into `acc`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn read(
    ctx: &SessionContext,
    config: &SqlConfig,
    limits: &Limits,
    agg: &RangeAgg,
    plan: &Plan,
    (from, to): (i64, i64),
    acc: &mut Accumulator,
) -> Result<ScanStats> {
    let selector = Pipeline::new(&agg.log.selector, &[])?;
    let ids = plan.names.iter().any(|n| n == "trace_id" || n == "span_id");
    let sql = format!(
        "SELECT time, service_name, resource_attributes, attributes, severity_number, \
         severity_text, {}, {} FROM logs WHERE {}",
        if plan.bytes {
            "CAST(coalesce(octet_length(body), 0) AS BIGINT)"
        } else {
            "CAST(0 AS BIGINT) AS n"
        },
        if ids {
            "trace_id, span_id"
        } else {
            "CAST(NULL AS BIGINT) AS t, CAST(NULL AS BIGINT) AS s"
        },
        window_filter(&agg.log.selector, &agg.log.pipeline, from, to)
    );
    let mut stream = SqlStream::start(ctx, &sql, config).await?;
    let mut stats = ScanStats::default();
    let mut cache = StreamCache::default();
    // The selector's verdict by stream id.
    let mut verdicts: Vec<Option<bool>> = Vec::new();
    // Series by the hash of their grouping values, checked for equality.
    let mut known: HashMap<u64, Vec<Known>> = HashMap::new();
    while let Some(batch) = stream.next_batch().await? {
        let time = column::<TimestampNanosecondArray>(&batch, 0)?;
        let service = column::<StringArray>(&batch, 1)?;
        let resource = column::<MapArray>(&batch, 2)?;
        let attributes = column::<MapArray>(&batch, 3)?;
        let number = column::<Int32Array>(&batch, 4)?;
        let text = column::<StringArray>(&batch, 5)?;
        let sizes = column::<Int64Array>(&batch, 6)?;
        let ids_of = |i: usize| -> (Option<&FixedSizeBinaryArray>, usize) {
            (
                batch
                    .column(i)
                    .as_any()
                    .downcast_ref::<FixedSizeBinaryArray>(),
                i,
            )
        };
        let (trace, span) = (ids_of(7).0, ids_of(8).0);
        for i in 0..batch.num_rows() {
            let pairs = map_pairs(resource, i)?;
            let (labels, resource_metadata, id) = cache.get(service.value(i), &pairs);
            let selected = if id == StreamCache::UNCACHED {
                selector.selected(&labels)
            } else {
                if verdicts.len() <= id {
                    verdicts.resize(id + 1, None);
                }
                *verdicts[id].get_or_insert_with(|| selector.selected(&labels))
            };
            if !selected {
                continue;
            }
            let attrs = map_pairs(attributes, i)?;
            let size = sizes.value(i).max(0) as u64;
            stats.lines += 1;
            stats.bytes += size;
            limits.check_bytes(stats.bytes)?;
            let has = |name: &str| {
                labels.iter().any(|(k, _)| k == name)
                    || resource_metadata.iter().any(|(k, _)| k == name)
                    || attrs.iter().any(|(k, _)| key_is(k, name))
            };
            let mut values: Vec<Option<Cow<'_, str>>> = Vec::with_capacity(plan.names.len());
            for name in &plan.names {
                let id = |a: Option<&FixedSizeBinaryArray>| {
                    a.filter(|a| a.is_valid(i)).map(|a| hex(a.value(i)))
                };
                let v = match name.as_str() {
                    "span_id" if id(span).is_some() => id(span).map(Cow::Owned),
                    "trace_id" if id(trace).is_some() => id(trace).map(Cow::Owned),
                    "severity_text"
                        if !text.value(i).is_empty() && !has("level") && !has("severity_text") =>
                    {
                        Some(Cow::Borrowed(text.value(i)))
                    }
                    "detected_level" if !has("detected_level") => Some(Cow::Borrowed(
                        detected_level(number.value(i), text.value(i)),
                    )),
                    _ => attrs
                        .iter()
                        .rev()
                        .find(|(k, _)| key_is(k, name))
                        .map(|(_, v)| Cow::Borrowed(*v))
                        .or_else(|| {
                            resource_metadata
                                .iter()
                                .rev()
                                .find(|(k, _)| k == name)
                                .map(|(_, v)| Cow::Borrowed(v.as_str()))
                        })
                        .or_else(|| {
                            labels
                                .iter()
                                .find(|(k, _)| k == name)
                                .map(|(_, v)| Cow::Borrowed(v.as_str()))
                        }),
                };
                values.push(v);
            }
            let mut h = DefaultHasher::new();
            for v in &values {
                v.as_deref().hash(&mut h);
            }
            let slot = known.entry(h.finish()).or_default();
            let value = if plan.bytes { size as f64 } else { 1.0 };
            match slot.iter().find(|(v, _)| same(v, &values)) {
                Some((_, at)) => acc.add_at(*at, time.value(i), value),
                None => {
                    if acc.series_count() >= limits.working_series() {
                        return Err(limits.working_series_error());
                    }
                    let key: Labels = plan
                        .names
                        .iter()
                        .zip(&values)
                        .filter_map(|(n, v)| v.as_ref().map(|v| (n.clone(), v.to_string())))
                        .collect();
                    let at = acc.add(key, time.value(i), value);
                    let owned = values
                        .iter()
                        .map(|v| v.as_ref().map(|v| v.to_string()))
                        .collect();
                    slot.push((owned, at));
                }
            }
        }
    }
    Ok(stats)
}
