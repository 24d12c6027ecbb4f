//! A spans or logs file written again without the rows a delete removes
//! ([`RowFilter`]), streaming one row group at a time: each input row group becomes at
//! most one output row group of the rows left, sorted by the signal's key and declared
//! so, as compaction's output is (`spans_logs/compact/copy.rs`). So the file keeps the
//! layout every reader relies on: sorted within each row group, a `trace_id` bloom filter
//! per row group.
//!
//! [`count_deleted`] reads only the columns the filter needs, so a file without a deleted
//! row costs a pass over those columns and is not written.

use std::fs::File;
use std::path::Path;

use arrow::array::{BooleanArray, TimestampNanosecondArray};
use arrow::compute::{concat_batches, filter_record_batch};
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::spans_logs::compact::copy::Input;
use crate::spans_logs::compact::merge::sort_batch;
use crate::spans_logs::row_filter::RowFilter;
use crate::storage::parquet_io::{DurableWriter, bad, signal_writer};
use crate::{Error, Result};

/// Rows read per batch.
const BATCH_ROWS: usize = 8192;

/// How many rows of the file at `path` `filter` deletes.
pub(crate) fn count_deleted(path: &Path, filter: &RowFilter) -> Result<u64> {
    let file = File::open(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| bad(path, e))?;
    let schema = builder.schema().clone();
    let roots: Vec<usize> = filter
        .columns()
        .iter()
        .filter_map(|c| schema.index_of(c).ok())
        .collect();
    let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
    let reader = builder
        .with_projection(mask)
        .with_batch_size(BATCH_ROWS)
        .build()
        .map_err(|e| bad(path, e))?;
    let mut n = 0u64;
    for batch in reader {
        let batch = batch.map_err(|e| bad(path, e))?;
        n += filter.deletes(&batch)?.iter().filter(|&&d| d).count() as u64;
    }
    Ok(n)
}

/// What [`write_without`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Filtered {
    /// Rows read.
    pub(crate) rows_in: u64,
    /// Rows written (0: no file was written).
    pub(crate) rows_out: u64,
    /// Bytes of the file written.
    pub(crate) bytes: u64,
    /// Oldest and newest time (ns) of the rows written.
    pub(crate) min_ns: i64,
    /// See `min_ns`.
    pub(crate) max_ns: i64,
}

/// Writes the spans or logs file at `path` again, at `out`, without the rows `filter`
/// deletes, durably (listed nowhere yet): see the module docs. `time` is the column the
/// signal's records are placed by; `key` its sort key. Writes nothing when no row is
/// left.
pub(crate) fn write_without(
    path: &Path,
    key: &[&str],
    time: &str,
    filter: &RowFilter,
    out: &Path,
) -> Result<Filtered> {
    let input = Input::open(path, key)?;
    let schema = input.schema().clone();
    let mut writer: Option<DurableWriter> = None;
    let mut done = Filtered {
        min_ns: i64::MAX,
        max_ns: i64::MIN,
        ..Filtered::default()
    };
    for g in 0..input.row_groups() {
        let mut kept = Vec::new();
        for batch in input.batches(vec![g], BATCH_ROWS)? {
            let batch = batch?;
            done.rows_in += batch.num_rows() as u64;
            let keep: BooleanArray = filter
                .deletes(&batch)?
                .into_iter()
                .map(|d| Some(!d))
                .collect();
            let left = filter_record_batch(&batch, &keep).map_err(|e| bad(path, e))?;
            if left.num_rows() > 0 {
                kept.push(left);
            }
        }
        if kept.is_empty() {
            continue;
        }
        let mut group = concat_batches(&schema, &kept).map_err(|e| bad(path, e))?;
        if !input.sorted {
            // Written before the current key: sorted here, as compaction does.
            group = sort_batch(&group, key)?;
        }
        if let Some(t) = group
            .column_by_name(time)
            .and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>())
        {
            for v in t.iter().flatten() {
                done.min_ns = done.min_ns.min(v);
                done.max_ns = done.max_ns.max(v);
            }
        }
        done.rows_out += group.num_rows() as u64;
        let w = match &mut writer {
            Some(w) => w,
            None => writer.insert(signal_writer(out, schema.clone(), key)?),
        };
        w.write(&group)?;
        w.end_row_group()?;
    }
    if let Some(w) = writer {
        done.bytes = w.finish()?;
    }
    Ok(done)
}
