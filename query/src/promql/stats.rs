//! Numeric helpers shared by aggregations and range functions: compensated sums, mean,
//! variance, quantiles, classic-histogram bucket quantiles and fractions, and Go-style
//! float formatting.

/// One step of Kahan-Babuška (Neumaier) summation: adds `inc` to `sum` with compensation `c`.
pub(crate) fn kahan_inc(inc: f64, sum: f64, c: f64) -> (f64, f64) {
    let t = sum + inc;
    let c = if t.is_infinite() {
        0.0
    } else if sum.abs() >= inc.abs() {
        c + ((sum - t) + inc)
    } else {
        c + ((inc - t) + sum)
    };
    (t, c)
}

/// Compensated sum.
pub(crate) fn sum(vals: &[f64]) -> f64 {
    let (mut s, mut c) = (0.0, 0.0);
    for v in vals {
        (s, c) = kahan_inc(*v, s, c);
    }
    if s.is_infinite() { s } else { s + c }
}

/// The mean: a compensated direct sum while it stays finite, then an incremental mean.
pub(crate) fn mean(vals: &[f64]) -> f64 {
    let Some(first) = vals.first() else {
        return f64::NAN;
    };
    let (mut sum, mut c, mut mean, mut incremental) = (*first, 0.0, 0.0, false);
    for (i, v) in vals[1..].iter().enumerate() {
        let count = (i + 2) as f64;
        if !incremental {
            let (ns, nc) = kahan_inc(*v, sum, c);
            if !ns.is_infinite() {
                (sum, c) = (ns, nc);
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(v / count, q * mean, q * c);
    }
    if incremental {
        mean + c
    } else {
        let n = vals.len() as f64;
        sum / n + c / n
    }
}

/// Population variance (Welford's method with compensated sums).
pub(crate) fn variance(vals: &[f64]) -> f64 {
    let (mut count, mut mean, mut cm, mut aux, mut ca) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for v in vals {
        count += 1.0;
        let delta = v - (mean + cm);
        (mean, cm) = kahan_inc(delta / count, mean, cm);
        (aux, ca) = kahan_inc(delta * (v - (mean + cm)), aux, ca);
    }
    (aux + ca) / count
}

/// The φ-quantile of `vals` (sorted in place), interpolating between neighbours.
pub(crate) fn quantile(q: f64, vals: &mut [f64]) -> f64 {
    if vals.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    // NaN sorts first, as in Prometheus.
    vals.sort_by(|a, b| match (a.is_nan(), b.is_nan()) {
        (true, true) => std::cmp::Ordering::Equal,
        (true, false) => std::cmp::Ordering::Less,
        (false, true) => std::cmp::Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal),
    });
    let n = vals.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (lower + 1.0).min(n - 1.0);
    let w = rank - rank.floor();
    vals[lower as usize] * (1.0 - w) + vals[upper as usize] * w
}

/// One classic histogram bucket: upper bound and cumulative count.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bucket {
    pub(crate) upper: f64,
    pub(crate) count: f64,
}

/// Sorts, merges equal bounds, fixes tiny precision errors and forces monotonicity.
/// Returns whether monotonicity had to be forced, or `None` without a `+Inf` bucket.
fn prepare(buckets: &mut Vec<Bucket>) -> Option<bool> {
    buckets.sort_by(|a, b| {
        a.upper
            .partial_cmp(&b.upper)
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    if !buckets.last().is_some_and(|b| b.upper == f64::INFINITY) {
        return None;
    }
    let mut merged: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.upper == b.upper => last.count += b.count,
            _ => merged.push(*b),
        }
    }
    *buckets = merged;
    let mut prev = buckets[0].count;
    for b in buckets.iter_mut().skip(1) {
        let delta = (b.count - prev).abs();
        if delta == 0.0 {
            continue;
        }
        if delta / b.count <= 1e-12 {
            b.count = prev;
        } else {
            prev = b.count;
        }
    }
    let mut forced = false;
    let mut max = buckets[0].count;
    for b in buckets.iter_mut().skip(1) {
        if b.count > max {
            max = b.count;
        } else if b.count < max {
            b.count = max;
            forced = true;
        }
    }
    Some(forced)
}

/// `histogram_quantile` over classic buckets: (value, monotonicity was forced).
pub(crate) fn bucket_quantile(q: f64, mut buckets: Vec<Bucket>) -> (f64, bool) {
    if q.is_nan() {
        return (f64::NAN, false);
    }
    if q < 0.0 {
        return (f64::NEG_INFINITY, false);
    }
    if q > 1.0 {
        return (f64::INFINITY, false);
    }
    let Some(forced) = prepare(&mut buckets) else {
        return (f64::NAN, false);
    };
    let n = buckets.len();
    if n < 2 {
        return (f64::NAN, false);
    }
    let total = buckets[n - 1].count;
    if total == 0.0 || total.is_nan() {
        return (f64::NAN, false);
    }
    let mut rank = q * total;
    let b = buckets[..n - 1].partition_point(|x| x.count < rank);
    if b == n - 1 {
        return (buckets[n - 2].upper, forced);
    }
    if b == 0 && buckets[0].upper <= 0.0 {
        return (buckets[0].upper, forced);
    }
    let (mut start, end, mut count) = (0.0, buckets[b].upper, buckets[b].count);
    if b > 0 {
        start = buckets[b - 1].upper;
        count -= buckets[b - 1].count;
        rank -= buckets[b - 1].count;
    }
    (start + (end - start) * (rank / count), forced)
}

/// `histogram_fraction` over classic buckets.
pub(crate) fn bucket_fraction(lower: f64, upper: f64, mut buckets: Vec<Bucket>) -> f64 {
    if prepare(&mut buckets).is_none() || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    let total = buckets[buckets.len() - 1].count;
    if total == 0.0 {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    for (i, b) in buckets.iter().enumerate() {
        let b_lower = if i == 0 {
            if b.upper <= 0.0 {
                f64::NEG_INFINITY
            } else {
                0.0
            }
        } else {
            buckets[i - 1].upper
        };
        let count = if i == 0 {
            b.count
        } else {
            b.count - buckets[i - 1].count
        };
        if !lower_set && b_lower >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && b_lower >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && b_lower < lower && b.upper > lower {
            lower_rank = rank + count * interpolate(lower, b_lower, b.upper);
            lower_set = true;
        }
        if !upper_set && b_lower < upper && b.upper > upper {
            upper_rank = rank + count * interpolate(upper, b_lower, b.upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank += count;
    }
    if !lower_set || lower_rank > total {
        lower_rank = total;
    }
    if !upper_set || upper_rank > total {
        upper_rank = total;
    }
    (upper_rank - lower_rank) / total
}

/// Where `x` sits within `(lo, hi)`, 0..1; infinite bounds count as no interpolation.
fn interpolate(x: f64, lo: f64, hi: f64) -> f64 {
    if hi.is_infinite() {
        return 0.0;
    }
    if lo.is_infinite() {
        return 1.0;
    }
    (x - lo) / (hi - lo)
}

/// Formats a float as Go's `strconv.FormatFloat(f, 'f', -1, 64)`, with `+Inf`/`-Inf`/`NaN`.
pub(crate) fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".into()
    } else if f == f64::INFINITY {
        "+Inf".into()
    } else if f == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{f}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compensated_sum_keeps_small_terms() {
        assert_eq!(sum(&[1e100, 1.0, -1e100]), 1.0);
        assert_eq!(mean(&[1e308, 1e308]), 1e308);
    }

    #[test]
    fn quantile_interpolates_and_handles_bounds() {
        assert_eq!(quantile(0.5, &mut [1.0, 3.0]), 2.0);
        assert_eq!(quantile(-1.0, &mut [1.0]), f64::NEG_INFINITY);
        assert!(quantile(0.5, &mut []).is_nan());
    }

    #[test]
    fn bucket_quantile_interpolates_within_the_bucket() {
        let b = |upper, count| Bucket { upper, count };
        let (q, forced) = bucket_quantile(
            0.5,
            vec![b(1.0, 10.0), b(2.0, 20.0), b(f64::INFINITY, 20.0)],
        );
        assert_eq!((q, forced), (1.0, false));
        let (q, forced) =
            bucket_quantile(0.5, vec![b(1.0, 10.0), b(2.0, 5.0), b(f64::INFINITY, 20.0)]);
        assert!(forced);
        assert_eq!(q, 1.0);
    }
}
