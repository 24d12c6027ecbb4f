//! Sums, differences and reset checks of two histograms where one's buckets are among the
//! other's: a counter histogram and an earlier sample of it (buckets appear, they do not
//! go), or a running sum and one more series. They are done in place, bucket by bucket,
//! without rebuilding bucket lists, with the result the general paths
//! ([`FloatHistogram::add`], [`FloatHistogram::detect_reset`]) compute.
//!
//! The wider histogram must have one schema with the other (and the same custom bounds, or
//! the same zero threshold with no bucket inside its zero bucket), and its spans in the
//! normal form `from_pairs` gives (no empty span, no zero gap), so that the union of both
//! bucket lists is its own layout.

use super::buckets::{Span, bucket_bound};
use super::{FloatHistogram, is_exponential_schema};

/// The bucket indexes `spans` cover, in order.
fn indexes(spans: &[Span]) -> impl Iterator<Item = i64> + '_ {
    let mut end = 0i64;
    spans.iter().enumerate().flat_map(move |(k, s)| {
        let start = if k == 0 {
            i64::from(s.offset)
        } else {
            end + i64::from(s.offset)
        };
        end = start + i64::from(s.length);
        start..end
    })
}

/// Calls `f(i, j)` for each bucket of `inner` (its `j`th) with its position `i` among
/// `outer`'s; false as soon as one of `inner`'s is not among `outer`'s.
fn within(outer: &[Span], inner: &[Span], mut f: impl FnMut(usize, usize)) -> bool {
    let mut o = indexes(outer).enumerate();
    'inner: for (j, idx) in indexes(inner).enumerate() {
        for (i, oi) in o.by_ref() {
            if oi == idx {
                f(i, j);
                continue 'inner;
            }
            if oi > idx {
                return false;
            }
        }
        return false;
    }
    true
}

/// Whether `spans` are in normal form and cover `n` buckets.
fn normal(spans: &[Span], n: usize) -> bool {
    spans
        .iter()
        .enumerate()
        .all(|(k, s)| s.length > 0 && (k == 0 || s.offset > 0))
        && spans.iter().map(|s| s.length as usize).sum::<usize>() == n
}

impl FloatHistogram {
    /// Whether `self`'s buckets and `other`'s can meet index by index: one schema, the
    /// same custom bounds (or zero threshold, with no bucket of `self` inside its zero
    /// bucket), and `self`'s spans in normal form with a count per bucket.
    pub(crate) fn bucketwise_with(&self, other: &FloatHistogram) -> bool {
        let clear_of_zero = |spans: &[Span]| {
            self.zero_threshold == 0.0
                || spans
                    .first()
                    .is_none_or(|s| bucket_bound(s.offset, self.schema, &[]) > self.zero_threshold)
        };
        let buckets = if self.uses_custom_buckets() {
            other.uses_custom_buckets() && self.same_bounds(other)
        } else {
            is_exponential_schema(self.schema)
                && self.zero_threshold == other.zero_threshold
                && clear_of_zero(&self.positive_spans)
                && clear_of_zero(&self.negative_spans)
        };
        self.schema == other.schema
            && buckets
            && normal(&self.positive_spans, self.positive.len())
            && normal(&self.negative_spans, self.negative.len())
    }

    /// [`FloatHistogram::bucketwise_with`], and `other` with a count per bucket: `self`
    /// may take `other`'s buckets by position (the subset itself is checked after).
    fn wider_than(&self, other: &FloatHistogram) -> bool {
        let covered = |spans: &[Span]| spans.iter().map(|s| s.length as usize).sum::<usize>();
        self.bucketwise_with(other)
            && covered(&other.positive_spans) == other.positive.len()
            && covered(&other.negative_spans) == other.negative.len()
    }

    /// `self`'s buckets `+= sign *` `other`'s when each of `other`'s is one of `self`'s;
    /// false, with nothing changed, otherwise. Counts, sums and zero buckets are the
    /// caller's.
    pub(crate) fn add_within(&mut self, other: &FloatHistogram, sign: f64) -> bool {
        if !self.wider_than(other)
            || !within(&self.positive_spans, &other.positive_spans, |_, _| {})
            || !within(&self.negative_spans, &other.negative_spans, |_, _| {})
        {
            return false;
        }
        let (pos, neg) = (&mut self.positive, &mut self.negative);
        within(&self.positive_spans, &other.positive_spans, |i, j| {
            pos[i] += sign * other.positive[j];
        });
        within(&self.negative_spans, &other.negative_spans, |i, j| {
            neg[i] += sign * other.negative[j];
        });
        true
    }

    /// Whether a bucket of `previous` holds more than the same bucket of `self`, when each
    /// of `previous`'s buckets is one of `self`'s; `None` otherwise (the general path
    /// decides).
    pub(crate) fn went_down_within(&self, previous: &FloatHistogram) -> Option<bool> {
        if !self.wider_than(previous) {
            return None;
        }
        let mut down = false;
        let sides = [
            (
                &self.positive_spans,
                &previous.positive_spans,
                &self.positive,
                &previous.positive,
            ),
            (
                &self.negative_spans,
                &previous.negative_spans,
                &self.negative,
                &previous.negative,
            ),
        ];
        for (spans, prev_spans, counts, prev) in sides {
            if !within(spans, prev_spans, |i, j| down |= counts[i] < prev[j]) {
                return None;
            }
        }
        Some(down)
    }
}
