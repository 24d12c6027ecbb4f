//! Unit tests of the histogram module, with builders shared by the validation and limit
//! tests. Every expected value is worked out by hand from the bucket maths in the module
//! docs (old index `i` goes to `((i-1) >> d) + 1` going `d` schemas down), never from the
//! code under test.

use super::*;

mod encode;
mod limit;
mod reduce;
mod validate;

fn sp(v: &[(i32, u32)]) -> Vec<Span> {
    v.iter()
        .map(|&(offset, length)| Span { offset, length })
        .collect()
}

/// An integer histogram with only positive buckets.
fn int(
    schema: i32,
    spans: &[(i32, u32)],
    deltas: &[i64],
    count: u64,
    zero_count: u64,
) -> Histogram {
    Histogram {
        schema,
        zero_threshold: 0.001,
        sum: 10.0,
        reset_hint: ResetHint::Unknown,
        positive_spans: sp(spans),
        negative_spans: vec![],
        custom_values: vec![],
        counts: Counts::Int {
            count,
            zero_count,
            positive_deltas: deltas.to_vec(),
            negative_deltas: vec![],
        },
    }
}

/// A float histogram with only positive buckets.
fn float(
    schema: i32,
    spans: &[(i32, u32)],
    buckets: &[f64],
    count: f64,
    zero_count: f64,
) -> Histogram {
    Histogram {
        counts: Counts::Float {
            count,
            zero_count,
            positive: buckets.to_vec(),
            negative: vec![],
        },
        ..int(schema, spans, &[], 0, 0)
    }
}

/// A custom-bucket integer histogram.
fn custom(bounds: &[f64], spans: &[(i32, u32)], deltas: &[i64], count: u64) -> Histogram {
    Histogram {
        zero_threshold: 0.0,
        custom_values: bounds.to_vec(),
        ..int(SCHEMA_CUSTOM, spans, deltas, count, 0)
    }
}

fn neg_int(mut h: Histogram, spans: &[(i32, u32)], deltas: &[i64]) -> Histogram {
    h.negative_spans = sp(spans);
    if let Counts::Int {
        negative_deltas, ..
    } = &mut h.counts
    {
        *negative_deltas = deltas.to_vec();
    }
    h
}
