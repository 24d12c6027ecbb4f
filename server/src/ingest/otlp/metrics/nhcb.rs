//! An OTLP explicit-bucket histogram point as a native histogram with custom buckets
//! (NHCB, schema -53), as Prometheus's OTLP receiver makes it with
//! `convert_histograms_to_nhcb`: the explicit bounds are the custom bounds (`+Inf` implied
//! last), each bucket's count is kept, empty buckets are left out of the spans, and the
//! count and sum are the point's. Only cumulative points come here (the caller refuses
//! delta ones).

use opentelemetry_proto::tonic::metrics::v1::HistogramDataPoint;
use strata_engine::{Counts, Histogram, ResetHint, SCHEMA_CUSTOM, Span};

/// The NHCB of `p`, or why it cannot be one.
pub(super) fn nhcb(p: &HistogramDataPoint) -> Result<Histogram, String> {
    let bounds = &p.explicit_bounds;
    if !p.bucket_counts.is_empty() && p.bucket_counts.len() != bounds.len() + 1 {
        return Err(format!(
            "{} bucket counts for {} explicit bounds (there must be one more count than bounds)",
            p.bucket_counts.len(),
            bounds.len()
        ));
    }
    if bounds.iter().any(|b| !b.is_finite()) || bounds.windows(2).any(|w| w[0] >= w[1]) {
        return Err("explicit bounds must be finite and strictly increasing".into());
    }
    let mut spans: Vec<Span> = Vec::new();
    let mut deltas = Vec::new();
    let (mut prev, mut end) = (0i64, 0usize);
    for (i, &c) in p.bucket_counts.iter().enumerate() {
        if c == 0 {
            continue;
        }
        let c = i64::try_from(c).map_err(|_| format!("bucket count {c} over 2^63"))?;
        match spans.last_mut() {
            Some(s) if end == i => s.length += 1,
            _ => spans.push(Span {
                offset: i32::try_from(i - end).unwrap_or(i32::MAX),
                length: 1,
            }),
        }
        end = i + 1;
        deltas.push(c.wrapping_sub(prev));
        prev = c;
    }
    Ok(Histogram {
        schema: SCHEMA_CUSTOM,
        zero_threshold: 0.0,
        sum: p.sum.unwrap_or(0.0),
        reset_hint: ResetHint::Unknown,
        positive_spans: spans,
        negative_spans: Vec::new(),
        custom_values: bounds.clone(),
        counts: Counts::Int {
            count: p.count,
            zero_count: 0,
            positive_deltas: deltas,
            negative_deltas: Vec::new(),
        },
    })
}
