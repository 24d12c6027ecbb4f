//! Bucket layouts: spans, boundaries, and the sparse `(index, count)` form the maths works on.

use super::bounds_table::SCHEMA8;
use super::is_custom_schema;

/// A run of consecutive buckets: `offset` is the gap (in bucket indices) from the end of the
/// previous span, or the index of the first bucket for the first span; `length` buckets follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Gap to the previous span, or the first index for the first span.
    pub offset: i32,
    /// Number of buckets in the span.
    pub length: u32,
}

/// One bucket with its boundaries, as the bucket iterators yield it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// Lower boundary.
    pub lower: f64,
    /// Upper boundary.
    pub upper: f64,
    /// Whether `lower` belongs to the bucket.
    pub lower_inclusive: bool,
    /// Whether `upper` belongs to the bucket.
    pub upper_inclusive: bool,
    /// Observations in the bucket.
    pub count: f64,
    /// The bucket's index in its schema (the zero bucket has 0).
    pub index: i32,
}

impl Bucket {
    /// The fraction of this bucket's width below `v`, assuming observations spread evenly
    /// (`linear`) or evenly on a logarithmic scale (exponential buckets), as Prometheus's
    /// `Bucket.FractionBelow`. `v` must lie within the bucket.
    pub fn fraction_below(&self, v: f64, linear: bool) -> f64 {
        if linear {
            return (v - self.lower) / (self.upper - self.lower);
        }
        let log_lower = self.lower.abs().log2();
        let log_upper = self.upper.abs().log2();
        let log_v = v.abs().log2();
        if v > 0.0 {
            (log_v - log_lower) / (log_upper - log_lower)
        } else {
            1.0 - (log_v - log_upper) / (log_lower - log_upper)
        }
    }
}

/// `frac * 2^exp`, exact whenever the result is a normal number.
fn ldexp(mut frac: f64, mut exp: i32) -> f64 {
    let pow2 = |e: i32| f64::from_bits(((e + 1023) as u64) << 52);
    while exp > 1023 {
        frac *= pow2(1023);
        exp -= 1023;
    }
    while exp < -1022 {
        frac *= pow2(-1022);
        exp += 1022;
    }
    frac * pow2(exp)
}

/// The upper boundary of positive bucket `index` in `schema` (the lower one is
/// `bucket_bound(index - 1, ..)`; negative buckets are the mirror image).
///
/// Exponential schemas: `2^(index * 2^-schema)`, with the largest finite `f64` in place of the
/// boundary that would overflow. Custom buckets: `custom_values[index]`, `-Inf` for index -1
/// and `+Inf` for index `custom_values.len()` (any index beyond those is clamped to them).
pub fn bucket_bound(index: i32, schema: i32, custom_values: &[f64]) -> f64 {
    if is_custom_schema(schema) {
        return match usize::try_from(index) {
            Err(_) => f64::NEG_INFINITY,
            Ok(i) => custom_values.get(i).copied().unwrap_or(f64::INFINITY),
        };
    }
    if schema < 0 {
        let exp = i64::from(index) << -schema;
        if exp == 1024 {
            return f64::MAX;
        }
        // Beyond ±1100 the result is 0 or +Inf anyway; clamping keeps the i32 safe.
        return ldexp(1.0, exp.clamp(-1100, 1100) as i32);
    }
    let frac_idx = index & ((1 << schema) - 1);
    // Prometheus's table, not `exp2`, so the boundaries are bit-identical to its own
    // (schemas above 8 are not valid in PromQL; they get the formula).
    let frac = match usize::try_from(frac_idx << (8 - schema.min(8))) {
        Ok(i) if schema <= 8 && i < SCHEMA8.len() => SCHEMA8[i],
        _ => (f64::from(frac_idx) / f64::from(1 << schema)).exp2() / 2.0,
    };
    let exp = (index >> schema) + 1;
    if frac == 0.5 && exp == 1025 {
        return f64::MAX;
    }
    ldexp(frac, exp)
}

/// The index in `target` (≤ `origin`) of the bucket that holds bucket `index` of `origin`.
pub(crate) fn target_index(index: i32, origin: i32, target: i32) -> i32 {
    ((index - 1) >> (origin - target)) + 1
}

/// The buckets of `spans`/`counts` as `(index, count)` pairs in index order. Extra counts or
/// span positions without a count are ignored (the histogram is invalid then).
pub(crate) fn to_pairs(spans: &[Span], counts: &[f64]) -> Vec<(i32, f64)> {
    let mut out = Vec::with_capacity(counts.len());
    let mut idx = 0i32;
    let mut counts = counts.iter();
    for (n, span) in spans.iter().enumerate() {
        idx = if n == 0 {
            span.offset
        } else {
            idx + span.offset
        };
        for _ in 0..span.length {
            let Some(&c) = counts.next() else { return out };
            out.push((idx, c));
            idx += 1;
        }
    }
    out
}

/// Spans and counts for sorted `(index, count)` pairs. Buckets whose indices are at most
/// `fill` apart share a span, the gap filled with empty buckets.
pub(crate) fn from_pairs(pairs: &[(i32, f64)], fill: i32) -> (Vec<Span>, Vec<f64>) {
    let mut spans: Vec<Span> = Vec::new();
    let mut counts = Vec::with_capacity(pairs.len());
    let mut last: Option<i32> = None;
    for &(idx, c) in pairs {
        match last {
            None => spans.push(Span {
                offset: idx,
                length: 1,
            }),
            Some(prev) if idx - prev - 1 <= fill => {
                let gap = idx - prev - 1;
                counts.extend((0..gap).map(|_| 0.0));
                if let Some(s) = spans.last_mut() {
                    s.length += gap as u32 + 1;
                }
            }
            Some(prev) => spans.push(Span {
                offset: idx - prev - 1,
                length: 1,
            }),
        }
        counts.push(c);
        last = Some(idx);
    }
    (spans, counts)
}

/// Merges buckets of schema `origin` into the larger buckets of schema `target`.
pub(crate) fn reduce_pairs(pairs: &[(i32, f64)], origin: i32, target: i32) -> Vec<(i32, f64)> {
    let mut out: Vec<(i32, f64)> = Vec::with_capacity(pairs.len());
    for &(idx, c) in pairs {
        let t = target_index(idx, origin, target);
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 += c,
            _ => out.push((t, c)),
        }
    }
    out
}

/// The union of two sorted bucket lists, `a + sign * b` where both have a bucket.
pub(crate) fn merge_pairs(a: &[(i32, f64)], b: &[(i32, f64)], sign: f64) -> Vec<(i32, f64)> {
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        match (a.get(i), b.get(j)) {
            (Some(&(ia, ca)), Some(&(ib, cb))) if ia == ib => {
                out.push((ia, ca + sign * cb));
                i += 1;
                j += 1;
            }
            (Some(&(ia, ca)), Some(&(ib, _))) if ia < ib => {
                out.push((ia, ca));
                i += 1;
            }
            (Some(&pa), None) => {
                out.push(pa);
                i += 1;
            }
            (_, Some(&(ib, cb))) => {
                out.push((ib, sign * cb));
                j += 1;
            }
            (None, None) => break,
        }
    }
    out
}

/// The bucket `index` with `count`, on the positive or negative side of `schema`.
pub(crate) fn make_bucket(
    index: i32,
    count: f64,
    positive: bool,
    schema: i32,
    cv: &[f64],
) -> Bucket {
    let (lower, upper) = if positive {
        (
            bucket_bound(index - 1, schema, cv),
            bucket_bound(index, schema, cv),
        )
    } else {
        (
            -bucket_bound(index, schema, cv),
            -bucket_bound(index - 1, schema, cv),
        )
    };
    let (lower_inclusive, upper_inclusive) = if is_custom_schema(schema) {
        (index == 0, true)
    } else {
        (lower < 0.0, upper > 0.0)
    };
    Bucket {
        lower,
        upper,
        lower_inclusive,
        upper_inclusive,
        count,
        index,
    }
}

/// The common finite boundaries of two sorted custom-bucket boundary lists.
pub(crate) fn intersect_bounds(a: &[f64], b: &[f64]) -> Vec<f64> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(a[i]);
            i += 1;
            j += 1;
        } else if a[i] < b[j] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// Re-buckets custom buckets with boundaries `bounds` onto the boundaries `target` (a subset
/// of them): each bucket goes to the first target boundary at or above its upper boundary, or
/// to the `+Inf` bucket. Returns `len(target) + 1` dense counts.
pub(crate) fn map_custom(
    pairs: &[(i32, f64)],
    bounds: &[f64],
    target: &[f64],
    sign: f64,
    into: &mut [f64],
) {
    for &(idx, c) in pairs {
        let upper = bucket_bound(idx, super::CUSTOM_BUCKETS_SCHEMA, bounds);
        let t = target
            .iter()
            .position(|&b| b >= upper)
            .unwrap_or(target.len());
        if let Some(slot) = into.get_mut(t) {
            *slot += sign * c;
        }
    }
}

/// Drops the leading buckets of an exponential `schema` whose upper boundary is at most
/// `threshold`: they lie inside the zero bucket.
pub(crate) fn skip_within(
    mut pairs: Vec<(i32, f64)>,
    schema: i32,
    threshold: f64,
) -> Vec<(i32, f64)> {
    if super::is_exponential_schema(schema) {
        let start = pairs
            .iter()
            .position(|&(i, _)| bucket_bound(i, schema, &[]) > threshold)
            .unwrap_or(pairs.len());
        pairs.drain(..start);
    }
    pairs
}
