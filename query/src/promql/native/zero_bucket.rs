//! Widening the zero bucket, as addition and reset detection need.

use super::FloatHistogram;

impl FloatHistogram {
    /// Widens the zero bucket of whichever histogram has the smaller threshold until both
    /// agree; widens `self` in place and returns `other`'s zero count at the common threshold.
    pub(crate) fn reconcile_zero_buckets(&mut self, other: &FloatHistogram) -> f64 {
        let mut other_zero = other.zero_count;
        let mut other_threshold = other.zero_threshold;
        while other_threshold != self.zero_threshold {
            if self.zero_threshold > other_threshold {
                (other_zero, other_threshold) = other.zero_count_for_threshold(self.zero_threshold);
            }
            if other_threshold > self.zero_threshold {
                (self.zero_count, self.zero_threshold) =
                    self.zero_count_for_threshold(other_threshold);
                self.trim_buckets_in_zero_bucket();
            }
        }
        other_zero
    }

    /// The zero count if the zero bucket grew to at least `larger`, and the threshold it
    /// really gets: it grows further to the upper edge of a populated bucket it would cut.
    pub(crate) fn zero_count_for_threshold(&self, mut larger: f64) -> (f64, f64) {
        if larger == self.zero_threshold {
            return (self.zero_count, larger);
        }
        'outer: loop {
            let mut zero = self.zero_count;
            for b in self.positive_buckets() {
                if b.lower >= larger {
                    break;
                }
                zero += b.count;
                if b.upper > larger {
                    if b.count != 0.0 {
                        larger = b.upper;
                    }
                    break;
                }
            }
            for b in self.negative_buckets() {
                if b.upper <= -larger {
                    break;
                }
                zero += b.count;
                if b.lower < -larger {
                    if b.count != 0.0 {
                        larger = -b.lower;
                        continue 'outer;
                    }
                    break;
                }
            }
            return (zero, larger);
        }
    }

    /// Empties the buckets that now lie inside the zero bucket, then drops empty buckets.
    fn trim_buckets_in_zero_bucket(&mut self) {
        let zt = self.zero_threshold;
        let inside: Vec<bool> = self.positive_buckets().map(|b| b.lower < zt).collect();
        for (c, inside) in self.positive.iter_mut().zip(inside) {
            if inside {
                *c = 0.0;
            }
        }
        let inside: Vec<bool> = self.negative_buckets().map(|b| b.upper > -zt).collect();
        for (c, inside) in self.negative.iter_mut().zip(inside) {
            if inside {
                *c = 0.0;
            }
        }
        self.compact(0);
    }
}
