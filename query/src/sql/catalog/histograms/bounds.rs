//! Bucket rows with their bounds, as Prometheus's bucket iterators give them (derived from
//! prometheus/model/histogram/generic.go, `regularBucketIterator` and `ZeroBucket`; the
//! bounds themselves from [`crate::promql::native::bucket_bound`], PromQL's table).
//!
//! Exponential schemas: positive bucket `i` is `(b(i-1), b(i)]`, negative bucket `i` is
//! `[-b(i), -b(i-1))`; custom buckets (schema -53): bucket `i` is `(c[i-1], c[i]]`, the
//! first `[-Inf, c[0]]`, the last `(c[n-1], +Inf]`; the zero bucket is
//! `[-zero_threshold, zero_threshold]`.

use std::sync::Arc;

use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Float64Array, Int32Array, RecordBatch, TimestampMillisecondArray,
    UInt64Array,
};
use datafusion::error::Result;

use super::schema::buckets_table_schema;
use crate::promql::native::bucket_bound;

/// Schema -53: custom bucket bounds.
const SCHEMA_CUSTOM: i32 = -53;

/// What a sample's bucket bounds depend on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SampleShape {
    pub(crate) schema: i32,
    pub(crate) zero_threshold: f64,
    pub(crate) zero_count: f64,
    pub(crate) custom_values: Vec<f64>,
}

/// `(lower, upper, lower_inclusive, upper_inclusive)` of bucket `index` of `shape`.
pub(crate) fn bounds(shape: &SampleShape, negative: bool, index: i32) -> (f64, f64, bool, bool) {
    let b = |i: i32| bucket_bound(i, shape.schema, &shape.custom_values);
    let (lower, upper) = if negative {
        (-b(index), -b(index.saturating_sub(1)))
    } else {
        (b(index.saturating_sub(1)), b(index))
    };
    if shape.schema == SCHEMA_CUSTOM {
        (lower, upper, index == 0, true)
    } else {
        (lower, upper, lower < 0.0, upper > 0.0)
    }
}

/// Rows of the `histogram_buckets` table, built one at a time.
#[derive(Default)]
pub(crate) struct BucketRowsBuilder {
    ids: Vec<u64>,
    ts: Vec<i64>,
    negative: Vec<bool>,
    bucket: Vec<Option<i32>>,
    count: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
    lower_inclusive: Vec<bool>,
    upper_inclusive: Vec<bool>,
}

impl BucketRowsBuilder {
    pub(crate) fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    fn push(
        &mut self,
        (id, ts): (u64, i64),
        negative: bool,
        bucket: Option<i32>,
        count: f64,
        (lower, upper, li, ui): (f64, f64, bool, bool),
    ) {
        self.ids.push(id);
        self.ts.push(ts);
        self.negative.push(negative);
        self.bucket.push(bucket);
        self.count.push(count);
        self.lower.push(lower);
        self.upper.push(upper);
        self.lower_inclusive.push(li);
        self.upper_inclusive.push(ui);
    }

    /// Adds bucket `index` (negative side if `negative`) of the sample at `key`.
    pub(crate) fn push_bucket(
        &mut self,
        key: (u64, i64),
        negative: bool,
        index: i32,
        count: f64,
        shape: &SampleShape,
    ) {
        let b = bounds(shape, negative, index);
        self.push(key, negative, Some(index), count, b);
    }

    /// Adds the zero bucket of the sample at `key`, if it has one: an exponential schema
    /// with a zero threshold or a zero count above 0.
    pub(crate) fn push_zero(&mut self, key: (u64, i64), shape: &SampleShape) {
        if shape.schema == SCHEMA_CUSTOM || (shape.zero_threshold == 0.0 && shape.zero_count == 0.0)
        {
            return;
        }
        let zt = shape.zero_threshold;
        self.push(key, false, None, shape.zero_count, (-zt, zt, true, true));
    }

    pub(crate) fn finish(self) -> Result<RecordBatch> {
        let cols: Vec<ArrayRef> = vec![
            Arc::new(UInt64Array::from(self.ids)),
            Arc::new(TimestampMillisecondArray::from(self.ts).with_timezone("UTC")),
            Arc::new(BooleanArray::from(self.negative)),
            Arc::new(Int32Array::from(self.bucket)),
            Arc::new(Float64Array::from(self.count)),
            Arc::new(Float64Array::from(self.lower)),
            Arc::new(Float64Array::from(self.upper)),
            Arc::new(BooleanArray::from(self.lower_inclusive)),
            Arc::new(BooleanArray::from(self.upper_inclusive)),
        ];
        Ok(RecordBatch::try_new(buckets_table_schema(), cols)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(schema: i32, custom_values: Vec<f64>) -> SampleShape {
        SampleShape {
            schema,
            zero_threshold: 0.0,
            zero_count: 0.0,
            custom_values,
        }
    }

    #[test]
    fn bounds_follow_prometheus_by_side_and_schema() {
        // Schema 0: bucket i is (2^(i-1), 2^i]; negative mirrored, [-2^i, -2^(i-1)).
        assert_eq!(bounds(&shape(0, vec![]), false, 3), (4.0, 8.0, false, true));
        assert_eq!(
            bounds(&shape(0, vec![]), true, -1),
            (-0.5, -0.25, true, false)
        );
        // Schema -1: bucket i is (4^(i-1), 4^i].
        assert_eq!(
            bounds(&shape(-1, vec![]), false, 1),
            (1.0, 4.0, false, true)
        );
        // Custom: [-Inf, c0], (c0, c1], (c_last, +Inf].
        let c = shape(-53, vec![0.1, 0.5]);
        assert_eq!(bounds(&c, false, 0), (f64::NEG_INFINITY, 0.1, true, true));
        assert_eq!(bounds(&c, false, 1), (0.1, 0.5, false, true));
        assert_eq!(bounds(&c, false, 2), (0.5, f64::INFINITY, false, true));
    }
}
