//! The trim operators' maths: [`FloatHistogram::trim`] removes the observations above (`</`)
//! or below (`>/`) a value, interpolating within the bucket that holds it.
//!
//! Derived from prometheus/model/histogram/float_histogram.go (`TrimBuckets`,
//! `handleInfinityBuckets`, `computeSplit`, `computeZeroBucketTrim`, `computeBucketTrim`,
//! `computeMidpoint`): exponential buckets interpolate on a logarithmic scale, custom buckets
//! and the zero bucket linearly; the sum is rebuilt from the surviving part of each bucket
//! times its midpoint (geometric for exponential buckets).

use super::buckets::Bucket;
use super::float_histogram::FloatHistogram;

/// Which side a trim keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    /// `</` (TRIM_UPPER): keeps the observations below the value.
    Upper,
    /// `>/` (TRIM_LOWER): keeps the observations above the value.
    Lower,
}

impl FloatHistogram {
    /// Trims the histogram at `rhs` in place and returns it (Prometheus's `TrimBuckets`).
    /// Count and sum change only when a bucket was cut, and then the sum is estimated from
    /// the buckets' midpoints; the histogram is compacted.
    pub fn trim(&mut self, rhs: f64, side: Trim) -> &mut Self {
        let custom = self.uses_custom_buckets();
        let upper = side == Trim::Upper;
        let mut count = 0.0;
        let mut sum = 0.0;
        let mut trimmed = false;
        let mut has = [false, false]; // [positive, negative]
        for positive in [true, false] {
            let buckets: Vec<Bucket> = if positive {
                self.positive_buckets().collect()
            } else {
                self.negative_buckets().collect()
            };
            for (i, b) in buckets.into_iter().enumerate() {
                if b.count == 0.0 {
                    continue;
                }
                has[usize::from(!positive)] = true;
                let (whole, cut) = if upper {
                    (b.upper <= rhs, b.lower < rhs)
                } else {
                    (b.lower >= rhs, b.upper > rhs)
                };
                let slot = if positive {
                    &mut self.positive[i]
                } else {
                    &mut self.negative[i]
                };
                if whole {
                    count += b.count;
                    sum += midpoint(b.lower, b.upper, positive, custom) * b.count;
                } else if cut {
                    let (keep, mid) = bucket_trim(&b, rhs, upper, positive, custom);
                    count += keep;
                    sum += mid * keep;
                    if *slot != keep {
                        *slot = keep;
                        trimmed = true;
                    }
                } else {
                    *slot = 0.0;
                    trimmed = true;
                }
            }
        }
        if self.zero_count > 0.0 {
            let (keep, mid) = zero_bucket_trim(&self.zero_bucket(), rhs, has[1], has[0], upper);
            if self.zero_count != keep {
                self.zero_count = keep;
                trimmed = true;
            }
            sum += mid * keep;
            count += keep;
        }
        if trimmed {
            self.count = count;
            self.sum = sum;
            self.compact(0);
        }
        self
    }
}

/// The kept count and its midpoint for a bucket with an infinite bound (only custom buckets
/// have one).
fn infinity_bucket_trim(upper_trim: bool, b: &Bucket, rhs: f64) -> (f64, f64) {
    let zero_if_inf = |x: f64| if x.is_infinite() { 0.0 } else { x };
    if b.lower == f64::NEG_INFINITY {
        if upper_trim {
            if rhs >= b.upper {
                return (b.count, 0.0);
            }
            if rhs > 0.0 && b.upper > 0.0 && b.upper.is_finite() {
                // The lower bound is taken as 0, interpolating linearly.
                return (b.count * rhs / b.upper, rhs / 2.0);
            }
            if b.upper <= 0.0 {
                return (b.count, rhs);
            }
            return (0.0, zero_if_inf(b.upper));
        }
        if rhs <= b.lower {
            return (b.count, 0.0);
        }
        if rhs >= 0.0 && b.upper > rhs && b.upper.is_finite() {
            return (b.count * (1.0 - rhs / b.upper), (rhs + b.upper) / 2.0);
        }
        return (0.0, zero_if_inf(b.upper));
    }
    // The upper bound is +Inf.
    if upper_trim {
        return (0.0, zero_if_inf(b.lower));
    }
    if rhs >= b.lower {
        return (b.count, rhs);
    }
    (0.0, zero_if_inf(b.lower))
}

/// The part of `b`'s count at or below `rhs`.
fn split(b: &Bucket, rhs: f64, linear: bool) -> f64 {
    if rhs <= b.lower {
        return 0.0;
    }
    if rhs >= b.upper {
        return b.count;
    }
    b.count * b.fraction_below(rhs, linear)
}

/// The kept count and midpoint of the zero bucket; it only spreads to the side(s) that have
/// buckets.
fn zero_bucket_trim(
    z: &Bucket,
    rhs: f64,
    has_negative: bool,
    has_positive: bool,
    upper_trim: bool,
) -> (f64, f64) {
    let mut lower = z.lower;
    let mut upper = z.upper;
    if has_negative && !has_positive {
        upper = 0.0;
    }
    if has_positive && !has_negative {
        lower = 0.0;
    }
    let (fraction, mid) = if upper_trim {
        if rhs <= lower {
            return (0.0, 0.0);
        }
        if rhs >= upper {
            return (z.count, (lower + upper) / 2.0);
        }
        ((rhs - lower) / (upper - lower), (lower + rhs) / 2.0)
    } else {
        if rhs <= lower {
            return (z.count, (lower + upper) / 2.0);
        }
        if rhs >= upper {
            return (0.0, 0.0);
        }
        ((upper - rhs) / (upper - lower), (rhs + upper) / 2.0)
    };
    (z.count * fraction, mid)
}

/// The kept count and its midpoint for a bucket that `rhs` cuts.
fn bucket_trim(b: &Bucket, rhs: f64, upper_trim: bool, positive: bool, custom: bool) -> (f64, f64) {
    if b.lower == f64::NEG_INFINITY || b.upper == f64::INFINITY {
        return infinity_bucket_trim(upper_trim, b, rhs);
    }
    let under = split(b, rhs, custom);
    if upper_trim {
        (under, midpoint(b.lower, rhs, positive, custom))
    } else {
        (b.count - under, midpoint(rhs, b.upper, positive, custom))
    }
}

/// The representative value of `[lower, upper]`: arithmetic mean for linear buckets,
/// geometric mean (negated on the negative side) for exponential ones.
fn midpoint(lower: f64, upper: f64, positive: bool, linear: bool) -> f64 {
    if lower.is_infinite() {
        if upper.is_infinite() {
            return 0.0;
        }
        if upper > 0.0 {
            return upper / 2.0;
        }
        return upper;
    } else if upper.is_infinite() {
        return lower;
    }
    if linear {
        return (lower + upper) / 2.0;
    }
    let geo = (lower * upper).abs().sqrt();
    if positive { geo } else { -geo }
}
