//! Compensated (Kahan) sums and means of histograms, for `sum`, `avg`, `sum_over_time` and
//! `avg_over_time`: large values that cancel (`1e100 + 1 - 1e100`) keep the small ones, as
//! Prometheus's `KahanAdd` does.
//!
//! The result's layout (schema, zero threshold, custom bounds) and reset hint are those of
//! [`FloatHistogram::add`] applied in order; every field (count, sum, zero count, each
//! bucket) is then summed with compensation over the inputs mapped onto that layout.

use std::collections::BTreeMap;

use super::buckets::{from_pairs, to_pairs};
use super::{Combined, Error, FloatHistogram};
use crate::promql::stats::kahan_inc;

/// A compensated running sum.
#[derive(Default, Clone, Copy)]
struct Acc {
    sum: f64,
    c: f64,
}

impl Acc {
    fn add(&mut self, v: f64) {
        (self.sum, self.c) = kahan_inc(v, self.sum, self.c);
    }

    fn value(self) -> f64 {
        if self.sum.is_infinite() {
            self.sum
        } else {
            self.sum + self.c
        }
    }
}

/// What [`sum`] reports besides the result: the flags of the additions, as
/// [`FloatHistogram::add`] gives them, merged.
pub type SumFlags = Combined;

/// The compensated sum of `hs` (at least one), divided by `divisor` (1 for a sum, the
/// count for a mean). A mean whose sum would overflow is summed from the divided inputs.
/// Mixing custom and exponential buckets is an error.
pub fn kahan_sum(
    hs: &[&FloatHistogram],
    divisor: f64,
) -> Result<(FloatHistogram, SumFlags), Error> {
    let Some((first, rest)) = hs.split_first() else {
        return Ok((FloatHistogram::default(), SumFlags::default()));
    };
    let mut plain = (*first).clone();
    let mut flags = SumFlags::default();
    for h in rest {
        let f = plain.add(h)?;
        flags.counter_reset_collision |= f.counter_reset_collision;
        flags.custom_bounds_reconciled |= f.custom_bounds_reconciled;
    }
    let layout = FloatHistogram {
        schema: plain.schema,
        zero_threshold: plain.zero_threshold,
        custom_values: plain.custom_values.clone(),
        ..FloatHistogram::default()
    };
    let mapped: Vec<FloatHistogram> = hs
        .iter()
        .map(|h| {
            let mut m = layout.clone();
            m.add(h).map(|_| m)
        })
        .collect::<Result<_, _>>()?;
    let total = |scale: f64| {
        let (mut count, mut sum, mut zero) = (Acc::default(), Acc::default(), Acc::default());
        let mut pos: BTreeMap<i32, Acc> = BTreeMap::new();
        let mut neg: BTreeMap<i32, Acc> = BTreeMap::new();
        for m in &mapped {
            count.add(m.count / scale);
            sum.add(m.sum / scale);
            zero.add(m.zero_count / scale);
            for (i, c) in to_pairs(&m.positive_spans, &m.positive) {
                pos.entry(i).or_default().add(c / scale);
            }
            for (i, c) in to_pairs(&m.negative_spans, &m.negative) {
                neg.entry(i).or_default().add(c / scale);
            }
        }
        let pairs = |m: BTreeMap<i32, Acc>| -> Vec<(i32, f64)> {
            m.into_iter().map(|(i, a)| (i, a.value())).collect()
        };
        let mut out = plain.clone();
        out.count = count.value();
        out.sum = sum.value();
        out.zero_count = zero.value();
        (out.positive_spans, out.positive) = from_pairs(&pairs(pos), 0);
        (out.negative_spans, out.negative) = from_pairs(&pairs(neg), 0);
        out
    };
    let mut out = total(1.0);
    if divisor != 1.0 {
        let overflowed = |h: &FloatHistogram| {
            [h.count, h.sum, h.zero_count]
                .into_iter()
                .chain(h.positive.iter().copied())
                .chain(h.negative.iter().copied())
                .any(f64::is_infinite)
        };
        if overflowed(&out) && !mapped.iter().any(overflowed) {
            out = total(divisor);
        } else {
            out.div(divisor);
        }
    }
    Ok((out, flags))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::promql::native::Span;

    fn h(count: f64, sum: f64) -> FloatHistogram {
        FloatHistogram {
            count,
            sum,
            positive_spans: vec![Span {
                offset: 0,
                length: 1,
            }],
            positive: vec![count],
            ..FloatHistogram::default()
        }
    }

    /// native_histograms.test's `histogram_sum_over_time_3`: 1, 1e100, 1, -1e100 sum to 2.
    #[test]
    fn large_values_cancel_without_losing_small_ones() {
        let hs = [h(1.0, 1.0), h(2.0, 1e100), h(3.0, 1.0), h(4.0, -1e100)];
        let refs: Vec<&FloatHistogram> = hs.iter().collect();
        let (sum, _) = kahan_sum(&refs, 1.0).unwrap();
        assert_eq!((sum.count, sum.sum), (10.0, 2.0));
        assert_eq!(sum.positive, vec![10.0]);
        let (mean, _) = kahan_sum(&refs, 4.0).unwrap();
        assert_eq!((mean.count, mean.sum), (2.5, 0.5));
    }

    #[test]
    fn a_mean_that_would_overflow_divides_first() {
        let hs = [h(f64::MAX, 1.0), h(1e308, 3.0)];
        let refs: Vec<&FloatHistogram> = hs.iter().collect();
        let (mean, _) = kahan_sum(&refs, 2.0).unwrap();
        assert!(mean.count.is_finite());
        assert!((mean.count - (f64::MAX / 2.0 + 0.5e308)).abs() / mean.count < 1e-12);
        assert_eq!(mean.sum, 2.0);
    }
}
