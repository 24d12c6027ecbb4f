//! [`FloatHistogram`]: the value, its bucket iterators, and its arithmetic.

use std::sync::Arc;

use super::buckets::{
    Bucket, Span, from_pairs, intersect_bounds, make_bucket, map_custom, merge_pairs, reduce_pairs,
    skip_within, to_pairs,
};
use super::{Error, is_custom_schema, is_exponential_schema};

/// What a histogram says about counter resets (Prometheus's `CounterResetHint`, numbered as in
/// the remote-write protocol).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResetHint {
    /// Unknown: compare with the previous histogram to find out.
    #[default]
    Unknown = 0,
    /// The counter was reset just before this histogram.
    Reset = 1,
    /// The counter was certainly not reset.
    NotReset = 2,
    /// The histogram is a gauge; resets do not apply.
    Gauge = 3,
}

/// A native histogram with float counts (Prometheus's `FloatHistogram`). Counts are absolute
/// per bucket, not deltas.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FloatHistogram {
    /// Counter-reset hint.
    pub reset_hint: ResetHint,
    /// Bucket schema: `-4..=8`, or [`super::CUSTOM_BUCKETS_SCHEMA`].
    pub schema: i32,
    /// Half-width of the zero bucket (0 for custom buckets).
    pub zero_threshold: f64,
    /// Observations in the zero bucket.
    pub zero_count: f64,
    /// Total observations.
    pub count: f64,
    /// Sum of the observations.
    pub sum: f64,
    /// Layout of the positive buckets.
    pub positive_spans: Vec<Span>,
    /// Layout of the negative buckets.
    pub negative_spans: Vec<Span>,
    /// Counts of the positive buckets, one per span position.
    pub positive: Vec<f64>,
    /// Counts of the negative buckets, one per span position.
    pub negative: Vec<f64>,
    /// Sorted finite upper boundaries of custom buckets (schema -53 only).
    pub custom_values: Arc<[f64]>,
}

/// What [`FloatHistogram::add`] and [`FloatHistogram::sub`] report besides the result, for
/// the annotations PromQL attaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Combined {
    /// The operands had the hints `Reset` and `NotReset` (Prometheus's
    /// `HistogramCounterResetCollisionWarning`); the result's hint became `Unknown`.
    pub counter_reset_collision: bool,
    /// Custom-bucket operands had different boundaries and were reconciled to the common ones
    /// (Prometheus's `MismatchedCustomBucketsHistogramsInfo`).
    pub custom_bounds_reconciled: bool,
}

impl FloatHistogram {
    /// Whether `self` and `other` have the same custom bounds (a shared copy: at once).
    pub(crate) fn same_bounds(&self, other: &FloatHistogram) -> bool {
        Arc::ptr_eq(&self.custom_values, &other.custom_values)
            || self.custom_values[..] == other.custom_values[..]
    }

    /// Whether the histogram has custom buckets.
    pub fn uses_custom_buckets(&self) -> bool {
        is_custom_schema(self.schema)
    }

    /// The zero bucket `[-zero_threshold, zero_threshold]` with its count.
    pub fn zero_bucket(&self) -> Bucket {
        Bucket {
            lower: -self.zero_threshold,
            upper: self.zero_threshold,
            lower_inclusive: true,
            upper_inclusive: true,
            count: self.zero_count,
            index: 0,
        }
    }

    /// The positive buckets in ascending order (the custom buckets for schema -53).
    pub fn positive_buckets(&self) -> impl DoubleEndedIterator<Item = Bucket> + '_ {
        to_pairs(&self.positive_spans, &self.positive)
            .into_iter()
            .map(|(i, c)| make_bucket(i, c, true, self.schema, &self.custom_values))
    }

    /// The negative buckets from the one nearest zero outwards (descending values).
    pub fn negative_buckets(&self) -> impl DoubleEndedIterator<Item = Bucket> + '_ {
        to_pairs(&self.negative_spans, &self.negative)
            .into_iter()
            .map(|(i, c)| make_bucket(i, c, false, self.schema, &[]))
    }

    /// Every bucket in ascending order of value: negative, zero (only if its count is above
    /// 0), positive. A negative or positive bucket that overlaps the zero bucket is cut at the
    /// zero threshold (Prometheus's `AllBucketIterator`).
    pub fn all_buckets(&self) -> Vec<Bucket> {
        let mut out: Vec<Bucket> = self
            .negative_buckets()
            .rev()
            .map(|b| self.clip(b))
            .collect();
        if self.zero_count > 0.0 {
            out.push(self.zero_bucket());
        }
        out.extend(self.positive_buckets().map(|b| self.clip(b)));
        out
    }

    /// Every bucket in descending order of value (Prometheus's `AllReverseBucketIterator`).
    pub fn all_buckets_rev(&self) -> Vec<Bucket> {
        let mut out: Vec<Bucket> = self
            .positive_buckets()
            .rev()
            .map(|b| self.clip(b))
            .collect();
        if self.zero_count > 0.0 {
            out.push(self.zero_bucket());
        }
        out.extend(self.negative_buckets().map(|b| self.clip(b)));
        out
    }

    fn clip(&self, mut b: Bucket) -> Bucket {
        let zt = self.zero_threshold;
        if b.upper < 0.0 && b.upper > -zt {
            b.upper = -zt;
        } else if b.lower > 0.0 && b.lower < zt {
            b.lower = zt;
        }
        b
    }

    /// Multiplies every count and the sum by `factor`. A negative factor makes it a gauge.
    pub fn mul(&mut self, factor: f64) -> &mut Self {
        self.scale(|v| v * factor);
        if factor < 0.0 {
            self.reset_hint = ResetHint::Gauge;
        }
        self
    }

    /// Divides every count and the sum by `scalar`. Division by zero keeps the zero bucket,
    /// count and sum (now `±Inf` or `NaN`) and drops every other bucket, as Prometheus does. A
    /// negative divisor makes it a gauge.
    pub fn div(&mut self, scalar: f64) -> &mut Self {
        if scalar == 0.0 {
            self.zero_count /= scalar;
            self.count /= scalar;
            self.sum /= scalar;
            self.positive_spans.clear();
            self.negative_spans.clear();
            self.positive.clear();
            self.negative.clear();
            return self;
        }
        self.scale(|v| v / scalar);
        if scalar < 0.0 {
            self.reset_hint = ResetHint::Gauge;
        }
        self
    }

    fn scale(&mut self, f: impl Fn(f64) -> f64) {
        self.zero_count = f(self.zero_count);
        self.count = f(self.count);
        self.sum = f(self.sum);
        self.positive.iter_mut().for_each(|v| *v = f(*v));
        self.negative.iter_mut().for_each(|v| *v = f(*v));
    }

    /// Adds `other` into `self`. The result has the smaller of the two schemas and the larger
    /// zero threshold (buckets inside it move to the zero bucket). Custom-bucket operands with
    /// different boundaries are reconciled onto the boundaries they share, as Prometheus
    /// does. Mixing custom and exponential buckets is an error and leaves `self` unchanged.
    pub fn add(&mut self, other: &FloatHistogram) -> Result<Combined, Error> {
        self.combine(other, 1.0)
    }

    /// Subtracts `other` from `self`; see [`FloatHistogram::add`].
    pub fn sub(&mut self, other: &FloatHistogram) -> Result<Combined, Error> {
        self.combine(other, -1.0)
    }

    fn combine(&mut self, other: &FloatHistogram, sign: f64) -> Result<Combined, Error> {
        if self.uses_custom_buckets() != other.uses_custom_buckets() {
            return Err(Error::IncompatibleSchema);
        }
        let mut flags = Combined {
            counter_reset_collision: self.adjust_reset_hint(other),
            ..Combined::default()
        };
        if !self.uses_custom_buckets() {
            let other_zero = self.reconcile_zero_buckets(other);
            self.zero_count += sign * other_zero;
        }
        self.count += sign * other.count;
        self.sum += sign * other.sum;
        if self.same_layout(other) {
            // What the general path computes, without rebuilding the bucket lists.
            for (mine, theirs) in [
                (&mut self.positive, &other.positive),
                (&mut self.negative, &other.negative),
            ] {
                for (a, b) in mine.iter_mut().zip(theirs) {
                    *a += sign * b;
                }
            }
            return Ok(flags);
        }
        // `other`'s buckets among `self`'s: added in place.
        if self.add_within(other, sign) {
            return Ok(flags);
        }
        let mine = to_pairs(&self.positive_spans, &self.positive);
        let theirs = to_pairs(&other.positive_spans, &other.positive);
        if self.uses_custom_buckets() {
            if self.same_bounds(other) {
                (self.positive_spans, self.positive) =
                    from_pairs(&merge_pairs(&mine, &theirs, sign), 0);
            } else {
                flags.custom_bounds_reconciled = true;
                let common = intersect_bounds(&self.custom_values, &other.custom_values);
                let mut dense = vec![0.0; common.len() + 1];
                map_custom(&mine, &self.custom_values, &common, 1.0, &mut dense);
                map_custom(&theirs, &other.custom_values, &common, sign, &mut dense);
                let pairs: Vec<(i32, f64)> = (0..).zip(dense).filter(|&(_, c)| c != 0.0).collect();
                (self.positive_spans, self.positive) = from_pairs(&pairs, 0);
                self.custom_values = common.into();
            }
            return Ok(flags);
        }
        let target = self.schema.min(other.schema);
        let side = |spans: &[Span], counts: &[f64], schema: i32| {
            reduce_pairs(&to_pairs(spans, counts), schema, target)
        };
        // `other`'s buckets inside the (common) zero bucket are already in its zero count.
        let outside = |pairs: Vec<(i32, f64)>| skip_within(pairs, target, self.zero_threshold);
        let pos = merge_pairs(
            &side(&self.positive_spans, &self.positive, self.schema),
            &outside(side(&other.positive_spans, &other.positive, other.schema)),
            sign,
        );
        let neg = merge_pairs(
            &side(&self.negative_spans, &self.negative, self.schema),
            &outside(side(&other.negative_spans, &other.negative, other.schema)),
            sign,
        );
        (self.positive_spans, self.positive) = from_pairs(&pos, 0);
        (self.negative_spans, self.negative) = from_pairs(&neg, 0);
        self.schema = target;
        Ok(flags)
    }

    /// Whether `other` has `self`'s buckets exactly: the same schema (and custom
    /// boundaries, or zero threshold), the same spans in the normal form [`from_pairs`]
    /// gives (no empty span, no zero gap between spans), a count per bucket, and no bucket
    /// inside the zero bucket. Then sums, differences and reset checks can go bucket by
    /// bucket, with the result the general paths compute.
    pub(crate) fn same_layout(&self, other: &FloatHistogram) -> bool {
        self.bucketwise_with(other)
            && self.positive_spans == other.positive_spans
            && self.negative_spans == other.negative_spans
            && other.positive.len() == self.positive.len()
            && other.negative.len() == self.negative.len()
    }

    /// Sets the hint of a sum or difference; true on a `Reset`/`NotReset` collision.
    fn adjust_reset_hint(&mut self, other: &FloatHistogram) -> bool {
        use ResetHint::*;
        match (self.reset_hint, other.reset_hint) {
            (a, b) if a == b => false,
            (Gauge, _) => false,
            (_, Gauge) => {
                self.reset_hint = Gauge;
                false
            }
            (Unknown, _) => false,
            (_, Unknown) => {
                self.reset_hint = Unknown;
                false
            }
            _ => {
                self.reset_hint = Unknown;
                true
            }
        }
    }

    /// Drops empty buckets at the edges and runs of more than `max_empty_buckets` empty
    /// buckets inside, and joins spans at most `max_empty_buckets` apart, as Prometheus's
    /// `Compact`. The buckets stay the same.
    pub fn compact(&mut self, max_empty_buckets: usize) -> &mut Self {
        let fill = i32::try_from(max_empty_buckets).unwrap_or(i32::MAX);
        let keep = |spans: &[Span], counts: &[f64]| -> Vec<(i32, f64)> {
            to_pairs(spans, counts)
                .into_iter()
                .filter(|&(_, c)| c != 0.0)
                .collect()
        };
        (self.positive_spans, self.positive) =
            from_pairs(&keep(&self.positive_spans, &self.positive), fill);
        (self.negative_spans, self.negative) =
            from_pairs(&keep(&self.negative_spans, &self.negative), fill);
        self
    }

    /// Merges buckets into the larger buckets of the smaller schema `target`. Refused for
    /// custom buckets and for a `target` that is not a smaller exponential schema.
    pub fn reduce_resolution(&mut self, target: i32) -> Result<(), Error> {
        if self.uses_custom_buckets() || !is_exponential_schema(target) || target >= self.schema {
            return Err(Error::ReduceResolution {
                from: self.schema,
                to: target,
            });
        }
        let pos = reduce_pairs(
            &to_pairs(&self.positive_spans, &self.positive),
            self.schema,
            target,
        );
        let neg = reduce_pairs(
            &to_pairs(&self.negative_spans, &self.negative),
            self.schema,
            target,
        );
        (self.positive_spans, self.positive) = from_pairs(&pos, 0);
        (self.negative_spans, self.negative) = from_pairs(&neg, 0);
        self.schema = target;
        Ok(())
    }

    /// Bit-exact equality as Prometheus's `Equals`: schema, counts, sum, zero bucket, custom
    /// boundaries and the buckets at the same indices. The reset hint is ignored, and two span
    /// lists that describe the same bucket indices are equal.
    pub fn equals(&self, other: &FloatHistogram) -> bool {
        let same = |a: f64, b: f64| a.to_bits() == b.to_bits();
        let same_side = |sa: &[Span], ca: &[f64], sb: &[Span], cb: &[f64]| {
            let (a, b) = (to_pairs(sa, ca), to_pairs(sb, cb));
            a.len() == b.len() && a.iter().zip(&b).all(|(x, y)| x.0 == y.0 && same(x.1, y.1))
        };
        self.schema == other.schema
            && same(self.count, other.count)
            && same(self.sum, other.sum)
            && (!self.uses_custom_buckets() || self.same_bounds(other))
            && self.zero_threshold == other.zero_threshold
            && same(self.zero_count, other.zero_count)
            && same_side(
                &self.negative_spans,
                &self.negative,
                &other.negative_spans,
                &other.negative,
            )
            && same_side(
                &self.positive_spans,
                &self.positive,
                &other.positive_spans,
                &other.positive,
            )
    }
}
