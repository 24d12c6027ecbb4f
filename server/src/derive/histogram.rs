//! Classic histograms with Tempo's default buckets, kept as counts per bucket (not
//! cumulative) and written cumulative with a `+Inf` bucket, as Prometheus's `_bucket`,
//! `_sum` and `_count` series.

use super::labels::go_float;

/// Span-metrics latency buckets in seconds: Tempo's default,
/// `prometheus.ExponentialBuckets(0.002, 2, 14)`
/// (`modules/generator/processor/spanmetrics/config.go`), in nanoseconds.
pub(crate) const SPAN_BUCKETS_NS: [u64; 14] = [
    2_000_000,
    4_000_000,
    8_000_000,
    16_000_000,
    32_000_000,
    64_000_000,
    128_000_000,
    256_000_000,
    512_000_000,
    1_024_000_000,
    2_048_000_000,
    4_096_000_000,
    8_192_000_000,
    16_384_000_000,
];

/// Service-graph latency buckets in seconds: Tempo's default,
/// `prometheus.ExponentialBuckets(0.1, 2, 8)`
/// (`modules/generator/processor/servicegraphs/config.go`), in nanoseconds.
pub(crate) const EDGE_BUCKETS_NS: [u64; 8] = [
    100_000_000,
    200_000_000,
    400_000_000,
    800_000_000,
    1_600_000_000,
    3_200_000_000,
    6_400_000_000,
    12_800_000_000,
];

/// The bucket a duration of `ns` falls in: the first bound it is not above (Prometheus's
/// `le`), or `bounds.len()` for `+Inf`.
pub(crate) fn bucket(bounds: &[u64], ns: u64) -> usize {
    bounds.partition_point(|&b| b < ns)
}

/// The `le` label values of `bounds` and `+Inf`, as Tempo prints them.
pub(crate) fn le_labels(bounds: &[u64]) -> Vec<String> {
    bounds
        .iter()
        .map(|&b| go_float(b as f64 / 1e9))
        .chain(std::iter::once("+Inf".to_owned()))
        .collect()
}

/// One histogram's counts: per bucket (the last is `+Inf`), the sum in seconds, the count.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Counts {
    /// Observations per bucket, not cumulative; `bounds.len() + 1` entries.
    pub(crate) buckets: Vec<u64>,
    /// Sum of the observations, in seconds.
    pub(crate) sum: f64,
    /// Number of observations.
    pub(crate) count: u64,
}

impl Counts {
    /// Empty counts for `n` bounds.
    pub(crate) fn new(n: usize) -> Self {
        Self {
            buckets: vec![0; n + 1],
            sum: 0.0,
            count: 0,
        }
    }

    /// Adds one observation of `ns` nanoseconds.
    pub(crate) fn observe(&mut self, bounds: &[u64], ns: u64) {
        self.buckets[bucket(bounds, ns)] += 1;
        self.sum += ns as f64 / 1e9;
        self.count += 1;
    }

    /// Adds `other`'s counts.
    pub(crate) fn merge(&mut self, other: &Counts) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.sum += other.sum;
        self.count += other.count;
    }

    /// The cumulative bucket counts, as `_bucket` holds them.
    pub(crate) fn cumulative(&self) -> Vec<u64> {
        let mut acc = 0;
        self.buckets
            .iter()
            .map(|b| {
                acc += b;
                acc
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_are_tempos_and_inclusive() {
        let le = le_labels(&SPAN_BUCKETS_NS);
        assert_eq!(le.first().map(String::as_str), Some("0.002"));
        assert_eq!(le[13], "16.384");
        assert_eq!(le[14], "+Inf");
        assert_eq!(le_labels(&EDGE_BUCKETS_NS)[7], "12.8");
        // le is inclusive: exactly 2ms is in the first bucket.
        assert_eq!(bucket(&SPAN_BUCKETS_NS, 2_000_000), 0);
        assert_eq!(bucket(&SPAN_BUCKETS_NS, 2_000_001), 1);
        assert_eq!(bucket(&SPAN_BUCKETS_NS, 99_000_000_000), 14);
    }
}
