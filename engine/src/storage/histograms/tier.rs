//! Native histograms in a downsampled tier: the last histogram of each series' interval
//! (`docs/retention.md`, "Downsampled tiers"), copied from the source sets' files as they
//! are (never decoded), in one merged pair of files.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use arrow::array::{TimestampMillisecondArray, UInt64Array};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use super::merge::{Done, Input, merge_files_except};
use crate::model::interval::interval_end;
use crate::model::series::SeriesId;
use crate::storage::parquet_io::{WrittenBy, bad, column};
use crate::{Error, Result};

/// Merges the histograms files of `inputs` into `out` and `out_buckets`, keeping, of each
/// series (those `take` accepts) and interval of resolution `res`, the histogram with the
/// latest time in `[lo, hi)`. Returns what was written and the series kept, ascending.
pub(crate) fn last_per_interval(
    inputs: &[Input],
    (out, out_buckets): (&Path, &Path),
    res: i64,
    (lo, hi): (i64, i64),
    take: impl Fn(SeriesId) -> bool,
) -> Result<(Done, Vec<SeriesId>)> {
    let mut last: HashMap<(SeriesId, i64), i64> = HashMap::new();
    for input in inputs {
        each_key(&input.histograms, |id, ts| {
            if ts >= lo && ts < hi && take(id) {
                let slot = last.entry((id, interval_end(ts, res))).or_insert(ts);
                *slot = (*slot).max(ts);
            }
        })?;
    }
    let keep: HashSet<(SeriesId, i64)> = last.iter().map(|(&(id, _), &ts)| (id, ts)).collect();
    let mut ids: Vec<SeriesId> = keep.iter().map(|k| k.0).collect();
    ids.sort_unstable();
    ids.dedup();
    if keep.is_empty() {
        return Ok((Done::default(), ids));
    }
    let done = merge_files_except(inputs, out, out_buckets, WrittenBy::Cold, |id, ts| {
        !keep.contains(&(id, ts))
    })?;
    Ok((done, ids))
}

/// Hands every (series_id, ts) of a histograms file to `visit`, reading those two columns.
fn each_key(path: &Path, mut visit: impl FnMut(SeriesId, i64)) -> Result<()> {
    let file = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(path, e))?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [0, 1]);
    let reader = builder
        .with_projection(mask)
        .build()
        .map_err(|e| bad(path, e))?;
    for batch in reader {
        let b = batch.map_err(|e| bad(path, e))?;
        let ids = column::<UInt64Array>(&b, 0, path)?;
        let ts = column::<TimestampMillisecondArray>(&b, 1, path)?;
        for (id, t) in ids.values().iter().zip(ts.values()) {
            visit(*id, *t);
        }
    }
    Ok(())
}
