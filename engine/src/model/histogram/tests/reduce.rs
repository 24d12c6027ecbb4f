//! Resolution reduction, with its own builders (both sides, fixed counts and sum).

use super::*;

fn int(schema: i32, pos: (&[(i32, u32)], &[i64]), neg: (&[(i32, u32)], &[i64])) -> Histogram {
    Histogram {
        schema,
        zero_threshold: 0.25,
        sum: 7.5,
        reset_hint: ResetHint::NotReset,
        positive_spans: sp(pos.0),
        negative_spans: sp(neg.0),
        custom_values: vec![],
        counts: Counts::Int {
            count: 19,
            zero_count: 3,
            positive_deltas: pos.1.to_vec(),
            negative_deltas: neg.1.to_vec(),
        },
    }
}

fn float(schema: i32, pos: (&[(i32, u32)], &[f64])) -> Histogram {
    Histogram {
        counts: Counts::Float {
            count: 9.0,
            zero_count: 1.5,
            positive: pos.1.to_vec(),
            negative: vec![],
        },
        ..int(schema, (pos.0, &[]), (&[], &[]))
    }
}

#[test]
fn prometheus_case_schema_0_to_minus_1() {
    // Indexes -2,-1,0,1 then (gap 3) 5,6; abs counts 1,3,1,2,1,1.
    // Targets: -2→-1, -1→0, 0→0, 1→1, 5→3, 6→3: abs -1:1, 0:4, 1:2, 3:2.
    let spans: &[(i32, u32)] = &[(-2, 4), (0, 0), (3, 2)];
    let deltas: &[i64] = &[1, 2, -2, 1, -1, 0];
    let mut h = int(0, (spans, deltas), (&[(0, 4), (0, 0), (3, 2)], deltas));
    h.reduce_resolution(-1).unwrap();
    // Negative side: indexes 0..=3, 7, 8 → 0,1,1,2,4,4; abs 1,3+1,2,1+1.
    let want = int(
        -1,
        (&[(-1, 3), (1, 1)], &[1, 3, -2, 0]),
        (&[(0, 3), (1, 1)], &[1, 3, -2, 0]),
    );
    assert_eq!(h, want);
}

#[test]
fn float_counts_merge() {
    let mut h = float(
        0,
        (&[(-2, 4), (0, 0), (3, 2)], &[1.0, 3.0, 1.0, 2.0, 1.0, 1.0]),
    );
    h.reduce_resolution(-1).unwrap();
    assert_eq!(h, float(-1, (&[(-1, 3), (1, 1)], &[1.0, 4.0, 2.0, 2.0])));
}

#[test]
fn several_schemas_at_once_and_negative_indexes() {
    // Schema 2 → 0 (d = 2): 1..=4 → 1, 5 → 2. Abs 1,1,1,1,1 → 4,1.
    let mut h = int(2, (&[(1, 5)], &[1, 0, 0, 0, 0]), (&[], &[]));
    h.reduce_resolution(0).unwrap();
    assert_eq!(h, int(0, (&[(1, 2)], &[4, -3]), (&[], &[])));
    // Schema 1 → 0: -3→-1, -2→-1, -1→0, 0→0. Abs 1,2,3,4 → 3,7.
    let mut h = int(1, (&[(-3, 4)], &[1, 1, 1, 1]), (&[], &[]));
    h.reduce_resolution(0).unwrap();
    assert_eq!(h, int(0, (&[(-1, 2)], &[3, 4]), (&[], &[])));
    // A gap survives: 0 → 0 and 6 → 3 at schema -1, so the gap between them is 2.
    let mut h = int(0, (&[(0, 1), (5, 1)], &[5, -3]), (&[], &[]));
    h.reduce_resolution(-1).unwrap();
    assert_eq!(h, int(-1, (&[(0, 1), (2, 1)], &[5, -3]), (&[], &[])));
    // Sum, counts, zero bucket and hint are untouched.
    assert_eq!(
        (h.sum, h.zero_threshold, h.reset_hint),
        (7.5, 0.25, ResetHint::NotReset)
    );
}

#[test]
fn refusals_leave_the_histogram_unchanged() {
    let spans: &[(i32, u32)] = &[(-2, 4), (0, 0), (3, 2)];
    let cases: Vec<(Histogram, i32, HistogramError)> = vec![
        (
            int(0, (spans, &[1, 2, -2, 1, -1]), (&[], &[])),
            -1,
            HistogramError::SpansBucketsMismatch {
                side: Side::Positive,
                need: 6,
                have: 5,
            },
        ),
        (
            int(0, (spans, &[1, 2, -2, 1, -1, 0, 3]), (&[], &[])),
            -1,
            HistogramError::SpansBucketsMismatch {
                side: Side::Positive,
                need: 6,
                have: 7,
            },
        ),
        (
            int(
                0,
                (&[(-2, 4), (-1, 0), (3, 2)], &[1, 2, -2, 1, -1, 0]),
                (&[], &[]),
            ),
            -1,
            HistogramError::SpanNegativeOffset {
                side: Side::Positive,
                span: 2,
                offset: -1,
            },
        ),
        (
            int(0, (&[], &[]), (&[], &[])),
            0,
            HistogramError::CannotReduce { from: 0, to: 0 },
        ),
        (
            int(0, (&[], &[]), (&[], &[])),
            1,
            HistogramError::CannotReduce { from: 0, to: 1 },
        ),
        (
            int(0, (&[], &[]), (&[], &[])),
            -5,
            HistogramError::CannotReduce { from: 0, to: -5 },
        ),
        (
            Histogram {
                schema: SCHEMA_CUSTOM,
                custom_values: vec![1.0],
                ..int(0, (&[], &[]), (&[], &[]))
            },
            -4,
            HistogramError::CannotReduce {
                from: SCHEMA_CUSTOM,
                to: -4,
            },
        ),
        // Two buckets of 2^62 merge into 2^63, beyond an i64.
        (
            int(0, (&[(1, 2)], &[1 << 62, 0]), (&[], &[])),
            -1,
            HistogramError::BucketCountOverflow {
                side: Side::Positive,
                bucket: 1,
            },
        ),
    ];
    for (h, target, err) in cases {
        let mut got = h.clone();
        assert_eq!(got.reduce_resolution(target), Err(err));
        assert_eq!(got, h);
    }
}
