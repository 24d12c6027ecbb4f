//! Bucket rows to and from record batches of [`buckets_schema`]: a histogram's buckets as
//! (bucket index, absolute count) pairs, the indexes walked from its spans.
//!
//! Bucket indexes are Prometheus's: for an exponential schema, bucket `i` holds the
//! observations in `(2^((i-1)/2^schema), 2^(i/2^schema)]`; for schema -53 `i` is the
//! position in `custom_values` (`len` for the +Inf bucket). The first span starts at
//! index `offset`, each later one `offset` after the end of the one before (derived from
//! prometheus/model/histogram/generic.go, `regularBucketIterator`).

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, TimestampMillisecondArray, UInt64Array,
};
use arrow::datatypes::{Float64Type, UInt64Type};
use arrow::record_batch::RecordBatch;

use super::buckets_schema;
use super::nullable::Nullable;
use crate::Result;
use crate::model::histogram::{Counts, Histogram, Span};
use crate::model::series::SeriesId;
use crate::storage::parquet_io::bad;

/// One bucket of one sample, as stored (the series is the run's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BucketRow {
    /// The sample's time.
    pub(crate) ts: i64,
    /// A negative bucket (observations below -zero_threshold).
    pub(crate) negative: bool,
    /// The bucket index.
    pub(crate) bucket: i32,
    /// The absolute count of an integer histogram's bucket (wrapping sum of its deltas).
    pub(crate) count: Option<u64>,
    /// The count of a float histogram's bucket.
    pub(crate) count_float: Option<f64>,
}

/// The bucket indexes `spans` cover, in order; `None` if one leaves i32 or they do not
/// increase strictly (overlapping spans: two rows would have one key).
pub(crate) fn indexes(spans: &[Span]) -> Option<Vec<i32>> {
    let mut out = Vec::new();
    let mut next: i64 = 0;
    for (k, s) in spans.iter().enumerate() {
        let start = if k == 0 {
            i64::from(s.offset)
        } else {
            next + i64::from(s.offset)
        };
        if k > 0 && start < next {
            return None;
        }
        for i in 0..i64::from(s.length) {
            out.push(i32::try_from(start + i).ok()?);
        }
        next = start + i64::from(s.length);
    }
    Some(out)
}

/// Appends the bucket rows of `h` at `ts` (positive side, then negative) to `out`; an
/// error naming series `id` and `ts` if the spans do not match the counts or overlap.
pub(crate) fn rows_of(
    id: SeriesId,
    ts: i64,
    h: &Histogram,
    out: &mut Vec<BucketRow>,
) -> Result<()> {
    let fail = |what: &str| {
        bad(
            Path::new("<histogram_buckets>"),
            format!("series {id} at {ts}: {what}"),
        )
    };
    for negative in [false, true] {
        let spans = if negative {
            &h.negative_spans
        } else {
            &h.positive_spans
        };
        let idx = indexes(spans).ok_or_else(|| fail("spans overlap or leave i32"))?;
        let mut push = |k: usize, count: Option<u64>, count_float: Option<f64>| {
            out.push(BucketRow {
                ts,
                negative,
                bucket: idx[k],
                count,
                count_float,
            })
        };
        match &h.counts {
            Counts::Int {
                positive_deltas,
                negative_deltas,
                ..
            } => {
                let d = if negative {
                    negative_deltas
                } else {
                    positive_deltas
                };
                if d.len() != idx.len() {
                    return Err(fail("spans and bucket deltas differ in length"));
                }
                let mut abs = 0u64;
                for (k, &delta) in d.iter().enumerate() {
                    abs = abs.wrapping_add(delta as u64);
                    push(k, Some(abs), None);
                }
            }
            Counts::Float {
                positive,
                negative: neg,
                ..
            } => {
                let c = if negative { neg } else { positive };
                if c.len() != idx.len() {
                    return Err(fail("spans and bucket counts differ in length"));
                }
                for (k, &v) in c.iter().enumerate() {
                    push(k, None, Some(v));
                }
            }
        }
    }
    Ok(())
}

/// Record batches of [`buckets_schema`], one row at a time.
#[derive(Default)]
pub(crate) struct BucketsBuilder {
    ids: Vec<u64>,
    ts: Vec<i64>,
    negative: Vec<bool>,
    bucket: Vec<i32>,
    count: Vec<Option<u64>>,
    count_float: Vec<Option<f64>>,
}

impl BucketsBuilder {
    /// Rows added.
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    /// Adds series `id`'s row `r` (rows must come in (id, negative, bucket, ts) order).
    pub(crate) fn push(&mut self, id: SeriesId, r: &BucketRow) {
        self.ids.push(id);
        self.ts.push(r.ts);
        self.negative.push(r.negative);
        self.bucket.push(r.bucket);
        self.count.push(r.count);
        self.count_float.push(r.count_float);
    }

    /// The rows added, as one batch; the builder is empty again.
    pub(crate) fn finish(&mut self) -> Result<RecordBatch> {
        let b = std::mem::take(self);
        let cols: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from(b.ids)),
            Arc::new(TimestampMillisecondArray::from(b.ts).with_timezone("UTC")),
            Arc::new(BooleanArray::from(b.negative)),
            Arc::new(Int32Array::from(b.bucket)),
            Arc::new(UInt64Array::from(b.count)),
            Arc::new(Float64Array::from(b.count_float)),
        ];
        RecordBatch::try_new(buckets_schema(), cols)
            .map_err(|e| bad(Path::new("<histogram_buckets>"), e))
    }
}

/// The columns of a batch of [`buckets_schema`], typed.
pub(crate) struct BucketColumns<'a> {
    pub(crate) ids: &'a UInt64Array,
    pub(crate) ts: &'a TimestampMillisecondArray,
    pub(crate) negative: &'a BooleanArray,
    pub(crate) bucket: &'a Int32Array,
    pub(crate) count: Nullable<'a, UInt64Type>,
    pub(crate) count_float: Nullable<'a, Float64Type>,
}

fn col<'a, T: 'static>(batch: &'a RecordBatch, name: &str, path: &Path) -> Result<&'a T> {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .ok_or_else(|| bad(path, format!("bucket column {name} is missing or mistyped")))
}

impl<'a> BucketColumns<'a> {
    /// The columns of `batch`, read from `path` (for errors).
    pub(crate) fn of(batch: &'a RecordBatch, path: &Path) -> Result<Self> {
        Ok(Self {
            ids: col(batch, "series_id", path)?,
            ts: col(batch, "ts", path)?,
            negative: col(batch, "negative", path)?,
            bucket: col(batch, "bucket", path)?,
            count: Nullable::of(batch, "count", "bucket", path)?,
            count_float: Nullable::of(batch, "count_float", "bucket", path)?,
        })
    }
}
