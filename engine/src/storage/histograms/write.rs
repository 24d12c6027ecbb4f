//! The flush's writer of both histograms files from sorted runs of samples.

use std::path::Path;

use super::buckets::{BucketRow, BucketsBuilder, rows_of};
use super::repeat::Compact;
use super::rows::RowsBuilder;
use super::{buckets_writer, histograms_writer};
use crate::Result;
use crate::model::histogram::HistogramSample;
use crate::model::series::SeriesId;
use crate::storage::parquet_io::{DurableWriter, WrittenBy};

/// Rows per batch handed to the histograms file's writer.
pub(crate) const BATCH_ROWS: usize = 8192;

/// Spans and custom bounds (all list columns together) at which a histograms batch ends
/// early, far below the 2^31 an Arrow list's i32 offsets allow.
pub(crate) const BATCH_VALUES: usize = 1 << 22;

/// Rows per batch handed to the bucket file's writer.
pub(crate) const BUCKET_BATCH_ROWS: usize = 32_768;

/// What [`write_runs`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Written {
    /// Rows of the histograms file (samples).
    pub(crate) rows: u64,
    /// The histograms file's size.
    pub(crate) bytes: u64,
    /// Rows of the bucket file (0: no bucket file was written).
    pub(crate) bucket_rows: u64,
    /// The bucket file's size (0 when none).
    pub(crate) bucket_bytes: u64,
}

/// Writes one flush's histogram samples of a partition: `runs` in series id order, each
/// run's samples in time order, to the histograms file at `path` (sorted by series_id,
/// ts) and their buckets to the bucket file at `buckets_path` (sorted by series_id,
/// negative, bucket, ts; not created when no sample has a bucket). A histogram whose
/// spans do not match its bucket counts is an error naming its series and ts.
pub(crate) fn write_runs(
    path: &Path,
    buckets_path: &Path,
    by: WrittenBy,
    runs: &[(SeriesId, &[HistogramSample])],
) -> Result<Written> {
    let mut done = Written::default();
    let mut w = histograms_writer(path, by)?;
    let mut bw: Option<DurableWriter> = None;
    let mut b = RowsBuilder::new();
    let mut compact = Compact::default();
    let mut bb = BucketsBuilder::default();
    let mut series_rows: Vec<BucketRow> = Vec::new();
    for &(id, run) in runs {
        series_rows.clear();
        for s in run {
            b.push(id, s.ts, &s.h)?;
            rows_of(id, s.ts, &s.h, &mut series_rows)?;
            if b.len() >= BATCH_ROWS || b.values() >= BATCH_VALUES {
                done.rows += b.len() as u64;
                w.write(&compact.batch(&b.finish()?, path)?)?;
            }
        }
        // Stable: each bucket's rows stay in time order.
        series_rows.sort_by_key(|r| (r.negative, r.bucket));
        for r in &series_rows {
            bb.push(id, r);
            if bb.len() >= BUCKET_BATCH_ROWS {
                write_buckets(&mut bw, &mut bb, buckets_path, by, &mut done)?;
            }
        }
    }
    if !b.is_empty() {
        done.rows += b.len() as u64;
        w.write(&compact.batch(&b.finish()?, path)?)?;
    }
    if bb.len() > 0 {
        write_buckets(&mut bw, &mut bb, buckets_path, by, &mut done)?;
    }
    done.bytes = w.finish()?;
    if let Some(bw) = bw {
        done.bucket_bytes = bw.finish()?;
    }
    Ok(done)
}

/// Hands `bb`'s rows to the bucket file's writer, creating it at the first rows.
fn write_buckets(
    bw: &mut Option<DurableWriter>,
    bb: &mut BucketsBuilder,
    path: &Path,
    by: WrittenBy,
    done: &mut Written,
) -> Result<()> {
    done.bucket_rows += bb.len() as u64;
    let batch = bb.finish()?;
    let w = match bw {
        Some(w) => w,
        None => bw.insert(buckets_writer(path, by)?),
    };
    w.write(&batch)
}
