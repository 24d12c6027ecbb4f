//! Counter-reset detection between two consecutive histograms of one series.

use super::buckets::{bucket_bound, intersect_bounds, reduce_pairs, skip_within, to_pairs};
use super::{CUSTOM_BUCKETS_SCHEMA, FloatHistogram, ResetHint};

impl FloatHistogram {
    /// Whether a counter reset happened between `previous` and `self`, as Prometheus's
    /// `DetectReset`: the hint decides if it is `Reset` or `NotReset`; otherwise any count
    /// that went down, a higher schema, a smaller zero threshold, or a zero bucket that would
    /// have to cut a populated bucket of `previous` is a reset. A gauge hint is treated like
    /// `Unknown`. Custom buckets with other boundaries compare the sums between the boundaries
    /// both histograms share.
    pub fn detect_reset(&self, previous: &FloatHistogram) -> bool {
        match self.reset_hint {
            ResetHint::Reset => true,
            ResetHint::NotReset => false,
            ResetHint::Unknown | ResetHint::Gauge => self.went_down_from(previous),
        }
    }

    /// [`FloatHistogram::detect_reset`] without the hint: whether the counts say a reset
    /// happened between `previous` and `self`.
    pub(crate) fn went_down_from(&self, previous: &FloatHistogram) -> bool {
        if self.count < previous.count {
            return true;
        }
        if self.uses_custom_buckets() {
            if !previous.uses_custom_buckets() {
                return true;
            }
            if !self.same_bounds(previous) {
                return self.reset_with_other_bounds(previous);
            }
        }
        if self.schema > previous.schema || self.zero_threshold < previous.zero_threshold {
            return true;
        }
        let (prev_zero, threshold) = previous.zero_count_for_threshold(self.zero_threshold);
        if threshold != self.zero_threshold || self.zero_count < prev_zero {
            return true;
        }
        if self.same_layout(previous) {
            let down = |cur: &[f64], prev: &[f64]| cur.iter().zip(prev).any(|(c, p)| c < p);
            return down(&self.positive, &previous.positive)
                || down(&self.negative, &previous.negative);
        }
        if let Some(down) = self.went_down_within(previous) {
            return down;
        }
        let side = |h: &FloatHistogram, positive: bool| {
            let (spans, counts) = if positive {
                (&h.positive_spans, &h.positive)
            } else {
                (&h.negative_spans, &h.negative)
            };
            let mut pairs = to_pairs(spans, counts);
            if h.schema != self.schema {
                pairs = reduce_pairs(&pairs, h.schema, self.schema);
            }
            // Skip the leading buckets that lie within the current zero bucket.
            if self.zero_threshold != 0.0 {
                pairs = skip_within(pairs, self.schema, self.zero_threshold);
            }
            pairs
        };
        [true, false]
            .into_iter()
            .any(|positive| went_down(&side(self, positive), &side(previous, positive)))
    }

    /// Reset detection for custom buckets with different boundaries: between consecutive
    /// shared boundaries (and `+Inf`), the current sum may not be below the previous one.
    fn reset_with_other_bounds(&self, previous: &FloatHistogram) -> bool {
        let mut shared = intersect_bounds(&self.custom_values, &previous.custom_values);
        shared.push(f64::INFINITY);
        let sums = |h: &FloatHistogram| {
            let mut out = vec![0.0; shared.len()];
            for (i, c) in to_pairs(&h.positive_spans, &h.positive) {
                let upper = bucket_bound(i, CUSTOM_BUCKETS_SCHEMA, &h.custom_values);
                if let Some(slot) = shared.iter().position(|&b| upper <= b) {
                    out[slot] += c;
                }
            }
            out
        };
        sums(self)
            .iter()
            .zip(sums(previous))
            .any(|(cur, prev)| *cur < prev)
    }
}

/// Whether a bucket of `prev` has a larger count than the same bucket of `curr` (a missing
/// bucket counts as empty).
fn went_down(curr: &[(i32, f64)], prev: &[(i32, f64)]) -> bool {
    let mut j = 0;
    prev.iter().any(|&(idx, pc)| {
        while j < curr.len() && curr[j].0 < idx {
            j += 1;
        }
        match curr.get(j) {
            Some(&(ci, cc)) if ci == idx => cc < pc,
            _ => pc != 0.0,
        }
    })
}
