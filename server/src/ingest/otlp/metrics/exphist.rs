//! OTLP exponential histogram points to native histograms, as Prometheus's OTLP receiver
//! converts them: the scale becomes the schema (above 8 the buckets are merged down to
//! schema 8, below -4 the point is refused), OTel bucket `i` (covering `(base^i,
//! base^(i+1)]`) becomes Prometheus bucket `i+1`, the counts become integer deltas, the zero
//! threshold is always 1e-128 (OTel's own is not used yet, as in Prometheus), the zero count
//! is kept, min and max are dropped, the sum is set only when present, and a point flagged
//! "no recorded value" becomes a stale marker (sum and count the stale NaN's bits).
//! Cumulative points get the reset hint "unknown"; delta ones are refused by the caller.
//!
//! Derived from prometheus/storage/remote/otlptranslator/prometheusremotewrite/histograms.go
//! (`exponentialToNativeHistogram`, `convertBucketsLayout`), by The Prometheus Authors,
//! Apache-2.0.

use opentelemetry_proto::tonic::metrics::v1::{
    DataPointFlags, ExponentialHistogramDataPoint, exponential_histogram_data_point::Buckets,
};
use strata_engine::{Counts, Histogram, ResetHint, SCHEMA_MAX, SCHEMA_MIN, Span};

use super::point::STALE_NAN;

/// The zero bucket's width Prometheus gives every converted point (`defaultZeroThreshold`).
pub(crate) const ZERO_THRESHOLD: f64 = 1e-128;

/// Why a point cannot be converted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ExpHistError {
    /// A scale below -4 (Prometheus's message).
    #[error("cannot convert exponential to native histogram. Scale must be >= {min}, was {0}", min = SCHEMA_MIN)]
    Scale(i32),
    /// A bucket offset so far out that the converted index does not fit 32 bits.
    #[error("{side} bucket offset {offset} with {len} buckets is out of range")]
    Offset {
        /// `positive` or `negative`.
        side: &'static str,
        /// The OTel offset.
        offset: i32,
        /// The number of buckets.
        len: usize,
    },
}

/// Converts a cumulative point (see the module doc).
pub(crate) fn exp_histogram(p: &ExponentialHistogramDataPoint) -> Result<Histogram, ExpHistError> {
    let mut scale = p.scale;
    if scale < SCHEMA_MIN {
        return Err(ExpHistError::Scale(scale));
    }
    let mut scale_down = 0;
    if scale > SCHEMA_MAX {
        scale_down = scale - SCHEMA_MAX;
        scale = SCHEMA_MAX;
    }
    let layout = |side: &'static str, b: &Option<Buckets>| {
        let (counts, offset) = b
            .as_ref()
            .map_or((&[][..], 0), |b| (b.bucket_counts.as_slice(), b.offset));
        buckets_layout(counts, offset, scale_down).ok_or(ExpHistError::Offset {
            side,
            offset,
            len: counts.len(),
        })
    };
    let (positive_spans, positive_deltas) = layout("positive", &p.positive)?;
    let (negative_spans, negative_deltas) = layout("negative", &p.negative)?;
    let (sum, count) = if p.flags & DataPointFlags::NoRecordedValueMask as u32 != 0 {
        (f64::from_bits(STALE_NAN), STALE_NAN)
    } else {
        (p.sum.unwrap_or(0.0), p.count)
    };
    Ok(Histogram {
        schema: scale,
        zero_threshold: ZERO_THRESHOLD,
        sum,
        reset_hint: ResetHint::Unknown,
        positive_spans,
        negative_spans,
        custom_values: Vec::new(),
        counts: Counts::Int {
            count,
            zero_count: p.zero_count,
            positive_deltas,
            negative_deltas,
        },
    })
}

/// OTel's dense buckets (`counts` from index `offset`) as Prometheus's spans and deltas,
/// merging `2^scale_down` buckets into one and shifting indexes by one; gaps of up to two
/// empty buckets are filled with zeros, longer ones start a new span (client_golang's
/// `makeBuckets`). None when an index does not fit an `i32`.
fn buckets_layout(counts: &[u64], offset: i32, scale_down: i32) -> Option<(Vec<Span>, Vec<i64>)> {
    if counts.is_empty() {
        return Some((Vec::new(), Vec::new()));
    }
    // Arithmetic shifts in i64: no index overflows, and a shift of 63 or more gives what any
    // larger one would (0 or -1), as Go's does.
    let down = scale_down.clamp(0, 63) as u32;
    let index = |i: usize| ((i as i64 + i64::from(offset)) >> down) + 1;
    let mut out = Layout {
        spans: vec![Span {
            offset: i32::try_from(index(0)).ok()?,
            length: 0,
        }],
        deltas: Vec::with_capacity(counts.len()),
        prev: 0,
    };
    let mut bucket = index(0);
    // Go's int64(uint64) conversions and sums wrap; so do these.
    let mut count: i64 = 0;
    for (i, &c) in counts.iter().enumerate() {
        let next = index(i);
        if next == bucket {
            count = count.wrapping_add(c as i64);
            continue;
        }
        if count == 0 {
            count = c as i64;
            continue;
        }
        out.gap(next - bucket - 1)?;
        out.append(count);
        count = c as i64;
        bucket = next;
    }
    out.gap(index(counts.len() - 1) - bucket)?;
    out.append(count);
    Some((out.spans, out.deltas))
}

/// The spans and deltas being built.
struct Layout {
    spans: Vec<Span>,
    deltas: Vec<i64>,
    prev: i64,
}

impl Layout {
    /// The next bucket of the last span.
    fn append(&mut self, count: i64) {
        if let Some(last) = self.spans.last_mut() {
            last.length += 1;
        }
        self.deltas.push(count.wrapping_sub(self.prev));
        self.prev = count;
    }

    /// `gap` empty buckets before the next one: zeros for up to two, else a new span.
    fn gap(&mut self, gap: i64) -> Option<()> {
        if gap > 2 {
            self.spans.push(Span {
                offset: i32::try_from(gap).ok()?,
                length: 0,
            });
        } else {
            for _ in 0..gap.max(0) {
                self.append(0);
            }
        }
        Some(())
    }
}

#[cfg(test)]
#[path = "exphist_tests.rs"]
mod tests;
