//! The streams of a time range, with their entry counts and bytes: what Loki's label,
//! series, `index/stats` and `index/volume` endpoints answer from its index. Strata has no
//! separate stream index; it reads the columns that make up stream labels (not the
//! lines), with the selector's `service_name` matchers pushed down to the files'
//! statistics.

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
use super::streams::Labels;
use crate::sql::{SqlConfig, SqlStream};

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
    let mut found: HashMap<Arc<Labels>, (u64, u64, Vec<u64>)> = HashMap::new();
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
    Ok((out, stats))
}
