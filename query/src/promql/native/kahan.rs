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
    let bounds = shared_bounds(hs);
    // On shared custom bounds the sum's layout is the inputs' and only its hint is left to
    // find: the headers are added, without their buckets.
    let header = |h: &FloatHistogram| FloatHistogram {
        reset_hint: h.reset_hint,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        custom_values: h.custom_values.clone(),
        ..FloatHistogram::default()
    };
    let mut plain = if bounds.is_some() {
        header(first)
    } else {
        (*first).clone()
    };
    let mut flags = SumFlags::default();
    for h in rest {
        let f = if bounds.is_some() {
            plain.add(&header(h))?
        } else {
            plain.add(h)?
        };
        flags.counter_reset_collision |= f.counter_reset_collision;
        flags.custom_bounds_reconciled |= f.custom_bounds_reconciled;
    }
    let total = if shared_layout(hs) {
        dense_total(hs, &plain)
    } else if let Some(buckets) = bounds {
        bounds_total(hs, &plain, buckets)
    } else {
        mapped_total(hs, &plain)?
    };
    Ok((divided(total, divisor), flags))
}

/// The sum `total` divided by `divisor`: a mean whose sum overflows, from inputs that do
/// not, is summed from the divided inputs.
fn divided((total, inputs_overflow): Total<'_>, divisor: f64) -> FloatHistogram {
    let mut out = total(1.0);
    if divisor != 1.0 {
        if overflowed(&out) && !inputs_overflow {
            out = total(divisor);
        } else {
            out.div(divisor);
        }
    }
    out
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

/// When every one of `hs` has custom buckets on the first's bounds, positive buckets only,
/// each at an index of those bounds (`0..=` their number): how many buckets the bounds
/// make. Then a sum keeps the bounds and every bucket's index, whatever the inputs' spans.
fn shared_bounds(hs: &[&FloatHistogram]) -> Option<usize> {
    let first = hs[0];
    let buckets = first.custom_values.len() + 1;
    let fits = |h: &FloatHistogram| {
        let mut end = 0i64;
        for (n, s) in h.positive_spans.iter().enumerate() {
            if n > 0 && s.offset < 0 {
                return false;
            }
            end += i64::from(s.offset) + i64::from(s.length);
        }
        let first_offset = h.positive_spans.first().map_or(0, |s| s.offset);
        first_offset >= 0 && end <= buckets as i64
    };
    let all = hs.iter().all(|h| {
        h.uses_custom_buckets()
            && h.same_bounds(first)
            && h.negative_spans.is_empty()
            && h.negative.is_empty()
            && fits(h)
    });
    all.then_some(buckets)
}

/// The sum of inputs on shared custom bounds ([`shared_bounds`], `buckets` of them): what
/// [`mapped_total`] computes, bit for bit, without mapping each input. Mapping one onto
/// the empty layout of its own bounds adds its count and sum to `0.0` (so `-0.0` becomes
/// `0.0`), leaves the zero count `0.0`, and keeps each bucket's index and count; the
/// per-index sums take the inputs in the same order, and the indexes any input has are
/// the result's.
fn bounds_total<'a>(
    hs: &'a [&'a FloatHistogram],
    plain: &'a FloatHistogram,
    buckets: usize,
) -> Total<'a> {
    let inputs_overflow = hs.iter().any(|h| {
        [h.count, h.sum]
            .into_iter()
            .chain(h.positive.iter().copied())
            .any(f64::is_infinite)
    });
    let total = Box::new(move |scale: f64| {
        let (mut count, mut sum, mut zero) = (Acc::default(), Acc::default(), Acc::default());
        let mut pos: Vec<Option<Acc>> = vec![None; buckets];
        for h in hs {
            count.add((0.0 + h.count) / scale);
            sum.add((0.0 + h.sum) / scale);
            zero.add(0.0 / scale);
            for (i, c) in to_pairs(&h.positive_spans, &h.positive) {
                // Always in range: `shared_bounds` checked that every span ends in bounds.
                if let Some(slot) = pos.get_mut(i as usize) {
                    slot.get_or_insert_default().add(c / scale);
                }
            }
        }
        let pairs: Vec<(i32, f64)> = (0..)
            .zip(pos)
            .filter_map(|(i, a)| a.map(|a| (i, a.value())))
            .collect();
        finish(plain, [count, sum, zero], &pairs, &[])
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

    /// `kahan_sum` as it is without its fast paths: the headers summed with their buckets,
    /// every input mapped onto the sum's layout.
    fn general(hs: &[&FloatHistogram], divisor: f64) -> (FloatHistogram, SumFlags) {
        let mut plain = hs[0].clone();
        let mut flags = SumFlags::default();
        for h in &hs[1..] {
            let f = plain.add(h).unwrap();
            flags.counter_reset_collision |= f.counter_reset_collision;
            flags.custom_bounds_reconciled |= f.custom_bounds_reconciled;
        }
        (divided(mapped_total(hs, &plain).unwrap(), divisor), flags)
    }

    /// Inputs on shared custom bounds with different spans (as `rate` results compacted
    /// each their own way) sum as the general path does, bit for bit: -0.0 counts and sums,
    /// values that cancel, an infinite bucket, a mean that overflows, mixed reset hints.
    #[test]
    fn shared_bounds_sum_as_the_general_path_does() {
        use crate::promql::native::ResetHint;
        let bounds: std::sync::Arc<[f64]> = std::sync::Arc::from(&[0.1, 0.5, 1.0, 2.5, 5.0][..]);
        let mut seed = 7u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize
        };
        let values = [1e100, -1e100, 1.0, -0.0, 0.0, 0.25, 3.0, f64::MAX];
        for round in 0..300 {
            let n = 1 + next() % 6;
            let hs: Vec<FloatHistogram> = (0..n)
                .map(|_| {
                    // Each bucket index 0..=5 present or not; spans joined or split.
                    let mut pairs: Vec<(i32, f64)> = Vec::new();
                    for i in 0..6 {
                        if next() % 3 != 0 {
                            pairs.push((i, values[next() % values.len()]));
                        }
                    }
                    let (mut positive_spans, positive) = from_pairs(&pairs, next() as i32 % 2);
                    if next() % 4 == 0 && !positive_spans.is_empty() {
                        // An empty span first: the same buckets, other spans.
                        let first = positive_spans[0];
                        positive_spans.insert(
                            0,
                            Span {
                                offset: first.offset,
                                length: 0,
                            },
                        );
                        positive_spans[1].offset = 0;
                    }
                    let hint = [
                        ResetHint::Unknown,
                        ResetHint::NotReset,
                        ResetHint::Reset,
                        ResetHint::Gauge,
                    ][next() % 4];
                    FloatHistogram {
                        reset_hint: hint,
                        schema: super::super::CUSTOM_BUCKETS_SCHEMA,
                        count: values[next() % values.len()],
                        sum: values[next() % values.len()],
                        positive_spans,
                        positive,
                        custom_values: if next() % 2 == 0 {
                            bounds.clone()
                        } else {
                            std::sync::Arc::from(&bounds[..])
                        },
                        ..FloatHistogram::default()
                    }
                })
                .collect();
            let refs: Vec<&FloatHistogram> = hs.iter().collect();
            assert!(shared_bounds(&refs).is_some(), "round {round}");
            for divisor in [1.0, n as f64, 0.5] {
                let (fast, fast_flags) = kahan_sum(&refs, divisor).unwrap();
                let (slow, slow_flags) = general(&refs, divisor);
                assert_eq!(
                    format!("{fast:?}"),
                    format!("{slow:?}"),
                    "round {round} {hs:?}"
                );
                assert_eq!(fast_flags, slow_flags, "round {round}");
            }
        }
        // Other bounds, a bucket past the bounds, a negative bucket: the general path.
        let h = |values: &[f64], spans: Vec<Span>| FloatHistogram {
            schema: super::super::CUSTOM_BUCKETS_SCHEMA,
            positive: vec![1.0; spans.iter().map(|s| s.length as usize).sum()],
            positive_spans: spans,
            custom_values: std::sync::Arc::from(values),
            ..FloatHistogram::default()
        };
        let span = |offset, length| vec![Span { offset, length }];
        let a = h(&[1.0, 2.0], span(0, 3));
        assert_eq!(shared_bounds(&[&a, &a]), Some(3));
        assert_eq!(shared_bounds(&[&a, &h(&[1.0], span(0, 2))]), None);
        assert_eq!(shared_bounds(&[&a, &h(&[1.0, 2.0], span(1, 3))]), None);
        assert_eq!(shared_bounds(&[&a, &h(&[1.0, 2.0], span(-1, 1))]), None);
        let mut neg = a.clone();
        (neg.negative_spans, neg.negative) = (span(0, 1), vec![1.0]);
        assert_eq!(shared_bounds(&[&a, &neg]), None);
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
