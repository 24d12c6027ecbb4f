//! Validation (Prometheus's `Validate` for integer and float histograms) and the input
//! normalisation around it: schemas 9..=52 reduced to 8, then the bucket limit.

use super::{
    Counts, Histogram, HistogramError, SCHEMA_CUSTOM, SCHEMA_MAX, SCHEMA_MAX_RESERVED, SCHEMA_MIN,
    Side, Span,
};

impl Histogram {
    /// Number of positive plus negative buckets.
    pub fn bucket_len(&self) -> usize {
        self.counts.bucket_len()
    }

    /// Checks the histogram as Prometheus's `Validate` does: the schema (-4..=8 or -53),
    /// spans against buckets, negative counts, custom bounds, and for integer histograms the
    /// count against the buckets (at least their sum if `sum` is NaN, else equal). Strata
    /// also refuses a NaN, infinite or negative zero threshold.
    pub fn check(&self) -> Result<(), HistogramError> {
        if self.schema != SCHEMA_CUSTOM && !(SCHEMA_MIN..=SCHEMA_MAX).contains(&self.schema) {
            return Err(HistogramError::InvalidSchema(self.schema));
        }
        self.check_structure()
    }

    /// Checks the histogram ([`Histogram::check`]) and normalises it for storage: a schema in
    /// 9..=52 is reduced to 8, then while there are more than `bucket_limit` buckets (0: no
    /// limit) the schema is reduced by one, refusing at schema -4 or for custom buckets.
    /// Returns `None` when the histogram is stored as it is, or the reduced histogram.
    pub fn validate(&self, bucket_limit: usize) -> Result<Option<Histogram>, HistogramError> {
        let mut reduced = None;
        if self.schema > SCHEMA_MAX && self.schema <= SCHEMA_MAX_RESERVED {
            self.check_structure()?;
            let mut h = self.clone();
            h.reduce_resolution(SCHEMA_MAX)?;
            reduced = Some(h);
        } else {
            self.check()?;
        }
        if bucket_limit > 0 && reduced.as_ref().unwrap_or(self).bucket_len() > bucket_limit {
            let mut h = reduced.unwrap_or_else(|| self.clone());
            h.apply_bucket_limit(bucket_limit)?;
            reduced = Some(h);
        }
        Ok(reduced)
    }

    /// Reduces the resolution by one schema at a time while there are more than `limit`
    /// buckets, as Prometheus's `bucketLimitAppender` does. Refuses with
    /// [`HistogramError::TooManyBuckets`] for custom buckets or once schema -4 is reached.
    /// Returns whether the histogram changed. `limit` 0 means no limit.
    pub fn apply_bucket_limit(&mut self, limit: usize) -> Result<bool, HistogramError> {
        let mut changed = false;
        while limit > 0 && self.bucket_len() > limit {
            if self.schema == SCHEMA_CUSTOM || self.schema <= SCHEMA_MIN {
                return Err(HistogramError::TooManyBuckets {
                    buckets: self.bucket_len(),
                    limit,
                    schema: self.schema,
                });
            }
            self.reduce_resolution(self.schema - 1)?;
            changed = true;
        }
        Ok(changed)
    }

    /// Every check but the schema's range; exponential rules apply to any schema but -53.
    fn check_structure(&self) -> Result<(), HistogramError> {
        let (neg_len, pos_len) = match &self.counts {
            Counts::Int {
                positive_deltas: p,
                negative_deltas: n,
                ..
            } => (n.len(), p.len()),
            Counts::Float {
                positive: p,
                negative: n,
                ..
            } => (n.len(), p.len()),
        };
        let mut neg_sum = 0u128;
        if self.schema == SCHEMA_CUSTOM {
            check_custom_bounds(&self.custom_values, &self.positive_spans, pos_len)?;
            if zero_count_set(&self.counts) {
                return Err(HistogramError::CustomZeroCount);
            }
            if self.zero_threshold != 0.0 {
                return Err(HistogramError::CustomZeroThreshold);
            }
            if !self.negative_spans.is_empty() {
                return Err(HistogramError::CustomNegativeSpans);
            }
            if neg_len > 0 {
                return Err(HistogramError::CustomNegativeBuckets);
            }
        } else {
            check_spans(Side::Positive, &self.positive_spans, pos_len, false)?;
            check_spans(Side::Negative, &self.negative_spans, neg_len, false)?;
            match &self.counts {
                Counts::Int {
                    negative_deltas, ..
                } => neg_sum = int_buckets(Side::Negative, negative_deltas)?,
                Counts::Float {
                    negative,
                    zero_count,
                    ..
                } => {
                    float_buckets(Side::Negative, negative)?;
                    if *zero_count < 0.0 {
                        return Err(HistogramError::NegativeZeroCount(*zero_count));
                    }
                }
            }
            if !self.custom_values.is_empty() {
                return Err(HistogramError::ExpSchemaCustomBounds);
            }
            if !self.zero_threshold.is_finite() || self.zero_threshold < 0.0 {
                return Err(HistogramError::InvalidZeroThreshold(self.zero_threshold));
            }
        }
        match &self.counts {
            Counts::Int {
                count,
                zero_count,
                positive_deltas,
                ..
            } => {
                let pos_sum = int_buckets(Side::Positive, positive_deltas)?;
                let buckets = neg_sum + pos_sum + u128::from(*zero_count);
                let count = *count;
                if self.sum.is_nan() {
                    if buckets > u128::from(count) {
                        return Err(HistogramError::CountNotBigEnough { buckets, count });
                    }
                } else if buckets != u128::from(count) {
                    return Err(HistogramError::CountMismatch { buckets, count });
                }
            }
            Counts::Float {
                count, positive, ..
            } => {
                if *count < 0.0 {
                    return Err(HistogramError::NegativeCount(*count));
                }
                float_buckets(Side::Positive, positive)?;
            }
        }
        Ok(())
    }
}

/// Whether the zero bucket count is not 0.
fn zero_count_set(counts: &Counts) -> bool {
    match counts {
        Counts::Int { zero_count, .. } => *zero_count != 0,
        Counts::Float { zero_count, .. } => *zero_count != 0.0,
    }
}

/// Checks offsets (all must be ≥ 0 but the first's, unless `all_positive`) and that the span
/// lengths add up to `buckets`; returns the sum of offsets and lengths.
pub(super) fn check_spans(
    side: Side,
    spans: &[Span],
    buckets: usize,
    all_positive: bool,
) -> Result<i64, HistogramError> {
    let mut need = 0u64;
    let mut total = 0i64;
    for (n, span) in spans.iter().enumerate() {
        if (n > 0 || all_positive) && span.offset < 0 {
            return Err(HistogramError::SpanNegativeOffset {
                side,
                span: n + 1,
                offset: span.offset,
            });
        }
        need += u64::from(span.length);
        total += i64::from(span.offset) + i64::from(span.length);
    }
    if need != buckets as u64 {
        return Err(HistogramError::SpansBucketsMismatch {
            side,
            need,
            have: buckets,
        });
    }
    Ok(total)
}

/// Sums the absolute counts of integer buckets given as deltas, refusing negative ones.
fn int_buckets(side: Side, deltas: &[i64]) -> Result<u128, HistogramError> {
    let mut last = 0i128;
    let mut sum = 0u128;
    for (i, d) in deltas.iter().enumerate() {
        let c = last + i128::from(*d);
        if c < 0 {
            return Err(HistogramError::NegativeBucketCount {
                side,
                bucket: i + 1,
                count: c as f64,
            });
        }
        if c > i128::from(i64::MAX) {
            return Err(HistogramError::BucketCountOverflow {
                side,
                bucket: i + 1,
            });
        }
        last = c;
        sum += c as u128;
    }
    Ok(sum)
}

/// Refuses negative float bucket counts (NaN passes, as in Prometheus).
fn float_buckets(side: Side, buckets: &[f64]) -> Result<(), HistogramError> {
    match buckets.iter().position(|c| *c < 0.0) {
        Some(i) => Err(HistogramError::NegativeBucketCount {
            side,
            bucket: i + 1,
            count: buckets[i],
        }),
        None => Ok(()),
    }
}

/// Custom bounds: not NaN, finite, strictly increasing; spans with no negative offset,
/// matching the buckets and within the bounds plus the implied +Inf bucket.
fn check_custom_bounds(
    bounds: &[f64],
    spans: &[Span],
    buckets: usize,
) -> Result<(), HistogramError> {
    for (i, &b) in bounds.iter().enumerate() {
        if b.is_nan() {
            return Err(HistogramError::CustomBoundNaN { index: i + 1 });
        }
        if b.is_infinite() {
            return Err(HistogramError::CustomBoundInfinite {
                index: i + 1,
                bound: b,
            });
        }
        if i > 0 && b <= bounds[i - 1] {
            return Err(HistogramError::CustomBoundsNotIncreasing {
                prev: bounds[i - 1],
                curr: b,
            });
        }
    }
    let span_total = check_spans(Side::Positive, spans, buckets, true)?;
    if (bounds.len() as i64) + 1 < span_total {
        return Err(HistogramError::CustomBoundsTooFew {
            bounds: bounds.len(),
            span_total,
        });
    }
    Ok(())
}
