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
    let (total, inputs_overflow) = if shared_layout(hs) {
        dense_total(hs, &plain)
    } else {
        mapped_total(hs, &plain)?
    };
    let mut out = total(1.0);
    if divisor != 1.0 {
        if overflowed(&out) && !inputs_overflow {
            out = total(divisor);
        } else {
            out.div(divisor);
        }
    }
    Ok((out, flags))
}

/// A sum of the inputs at a scale (each input divided by it first), and whether an input,
/// on the sum's layout, already holds an infinity.
type Total<'a> = (Box<dyn Fn(f64) -> FloatHistogram + 'a>, bool);

/// Whether a field of `h` is infinite.
fn overflowed(h: &FloatHistogram) -> bool {
    [h.count, h.sum, h.zero_count]
        .into_iter()
        .chain(h.positive.iter().copied())
        .chain(h.negative.iter().copied())
        .any(f64::is_infinite)
}

/// `plain` (the sum's layout and hint) with the compensated count, sum and zero count and
/// the buckets of the `(index, count)` pairs of each side.
fn finish(
    plain: &FloatHistogram,
    [count, sum, zero]: [Acc; 3],
    pos: &[(i32, f64)],
    neg: &[(i32, f64)],
) -> FloatHistogram {
    let mut out = plain.clone();
    out.count = count.value();
    out.sum = sum.value();
    out.zero_count = zero.value();
    (out.positive_spans, out.positive) = from_pairs(pos, 0);
    (out.negative_spans, out.negative) = from_pairs(neg, 0);
    out
}

/// Whether every one of `hs` has the first's layout (schema, zero threshold, spans, custom
/// bounds): then each input's buckets are the sum's, position for position.
fn shared_layout(hs: &[&FloatHistogram]) -> bool {
    let first = hs[0];
    hs.iter().all(|h| {
        h.schema == first.schema
            && h.zero_threshold.to_bits() == first.zero_threshold.to_bits()
            && h.positive_spans == first.positive_spans
            && h.negative_spans == first.negative_spans
            && h.positive.len() == first.positive.len()
            && h.negative.len() == first.negative.len()
            && (std::sync::Arc::ptr_eq(&h.custom_values, &first.custom_values)
                || h.custom_values[..] == first.custom_values[..])
    })
}

/// The sum of inputs of one layout ([`shared_layout`]): a compensated sum per bucket
/// position, with the buckets (and spans) the general path gives for that layout.
fn dense_total<'a>(hs: &'a [&'a FloatHistogram], plain: &'a FloatHistogram) -> Total<'a> {
    let custom = hs[0].uses_custom_buckets();
    let inputs_overflow = hs.iter().any(|h| {
        (!custom && h.zero_count.is_infinite())
            || [h.count, h.sum]
                .into_iter()
                .chain(h.positive.iter().copied())
                .chain(h.negative.iter().copied())
                .any(f64::is_infinite)
    });
    let total = Box::new(move |scale: f64| {
        let first = hs[0];
        // Custom buckets have no zero bucket: a sum leaves theirs out.
        let zeros = !first.uses_custom_buckets();
        let (mut count, mut sum, mut zero) = (Acc::default(), Acc::default(), Acc::default());
        let mut pos = vec![Acc::default(); first.positive.len()];
        let mut neg = vec![Acc::default(); first.negative.len()];
        for h in hs {
            count.add(h.count / scale);
            sum.add(h.sum / scale);
            if zeros {
                zero.add(h.zero_count / scale);
            }
            for (a, c) in pos.iter_mut().zip(&h.positive) {
                a.add(c / scale);
            }
            for (a, c) in neg.iter_mut().zip(&h.negative) {
                a.add(c / scale);
            }
        }
        let pairs = |spans, counts, accs: &[Acc]| -> Vec<(i32, f64)> {
            to_pairs(spans, counts)
                .into_iter()
                .zip(accs)
                .map(|((i, _), a)| (i, a.value()))
                .collect()
        };
        finish(
            plain,
            [count, sum, zero],
            &pairs(&first.positive_spans, &first.positive, &pos),
            &pairs(&first.negative_spans, &first.negative, &neg),
        )
    });
    (total, inputs_overflow)
}

/// The sum of inputs of any layouts: each mapped onto the layout of `plain` (their sum by
/// [`FloatHistogram::add`]), then summed bucket by bucket index.
fn mapped_total<'a>(
    hs: &'a [&'a FloatHistogram],
    plain: &'a FloatHistogram,
) -> Result<Total<'a>, Error> {
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
    let inputs_overflow = mapped.iter().any(overflowed);
    let total = Box::new(move |scale: f64| {
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
        finish(plain, [count, sum, zero], &pairs(pos), &pairs(neg))
    });
    Ok((total, inputs_overflow))
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

    /// Inputs of one layout summed position by position give what mapping each onto the
    /// sum's layout gives, bit for bit: exponential buckets in spans that a sum rewrites
    /// (a zero-length span, adjacent spans), custom buckets, cancelling and -0.0 counts.
    #[test]
    fn one_layout_sums_as_the_general_path_does() {
        let spans = |v: &[(i32, u32)]| -> Vec<Span> {
            v.iter()
                .map(|&(offset, length)| Span { offset, length })
                .collect()
        };
        let layouts = [
            FloatHistogram {
                schema: 3,
                zero_threshold: 0.001,
                positive_spans: spans(&[(-2, 2), (0, 0), (0, 1), (3, 2)]),
                negative_spans: spans(&[(1, 2)]),
                ..FloatHistogram::default()
            },
            FloatHistogram {
                schema: super::super::CUSTOM_BUCKETS_SCHEMA,
                positive_spans: spans(&[(0, 3), (1, 1)]),
                custom_values: std::sync::Arc::from(&[0.1, 0.5, 1.0, 2.5][..]),
                ..FloatHistogram::default()
            },
        ];
        for layout in layouts {
            let hs: Vec<FloatHistogram> = (0..7)
                .map(|k| {
                    let mut h = layout.clone();
                    let big = if k % 2 == 0 { 1e100 } else { -1e100 };
                    let n = h.positive_spans.iter().map(|s| s.length as usize).sum();
                    h.positive = (0..n).map(|i| [big, 1.0, -0.0, 0.25, 3.0][i % 5]).collect();
                    let n = h.negative_spans.iter().map(|s| s.length as usize).sum();
                    h.negative = (0..n).map(|i| i as f64 + 0.5).collect();
                    (h.count, h.sum, h.zero_count) = (10.0 + k as f64, big, 0.5);
                    h
                })
                .collect();
            let refs: Vec<&FloatHistogram> = hs.iter().collect();
            assert!(shared_layout(&refs));
            let mut plain = hs[0].clone();
            for h in &refs[1..] {
                plain.add(h).unwrap();
            }
            let (general, general_inf) = mapped_total(&refs, &plain).unwrap();
            let (dense, dense_inf) = dense_total(&refs, &plain);
            assert_eq!(dense_inf, general_inf);
            for scale in [1.0, 7.0] {
                assert_eq!(
                    format!("{:?}", dense(scale)),
                    format!("{:?}", general(scale))
                );
            }
            assert_eq!(
                dense(1.0).positive[1],
                7.0,
                "the 1e100s cancel, the ones stay"
            );
            // An infinite input bucket: both say so.
            let mut hs = hs.clone();
            hs[3].positive[3] = f64::INFINITY;
            let refs: Vec<&FloatHistogram> = hs.iter().collect();
            let (_, general_inf) = mapped_total(&refs, &plain).unwrap();
            assert!(dense_total(&refs, &plain).1 && general_inf);
        }
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
