//! Table tests of the exponential histogram conversion: the cases and expected layouts are
//! Prometheus's own (`storage/remote/otlptranslator/prometheusremotewrite/histograms_test.go`,
//! `TestConvertBucketsLayout` and `TestExponentialToNativeHistogram`), taken as facts.

use opentelemetry_proto::tonic::metrics::v1::{
    DataPointFlags, ExponentialHistogramDataPoint, exponential_histogram_data_point::Buckets,
};
use strata_engine::{Counts, Histogram, ResetHint, Span};

use super::{ExpHistError, ZERO_THRESHOLD, buckets_layout, exp_histogram};
use crate::ingest::otlp::metrics::point::STALE_NAN;

type Case = (
    &'static str,
    i32,
    &'static [u64],
    i32,
    &'static [(i32, u32)],
    &'static [i64],
);

#[rustfmt::skip]
const LAYOUTS: &[Case] = &[
        ("zero offset", 0, &[4, 3, 2, 1], 0, &[(1, 4)], &[4, -1, -1, -1]),
        ("zero offset", 0, &[4, 3, 2, 1], 1, &[(1, 2)], &[7, -4]),
        ("zero offset", 0, &[4, 3, 2, 1], 2, &[(1, 1)], &[10]),
        ("offset 1", 1, &[4, 3, 2, 1], 0, &[(2, 4)], &[4, -1, -1, -1]),
        ("offset 1", 1, &[4, 3, 2, 1], 1, &[(1, 3)], &[4, 1, -4]),
        ("offset 1", 1, &[4, 3, 2, 1], 2, &[(1, 2)], &[9, -8]),
        ("positive offset", 4, &[4, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 0, &[(5, 4), (12, 1)], &[4, -2, -2, 2, -1]),
        ("positive offset", 4, &[4, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 1, &[(3, 2), (6, 1)], &[6, -4, -1]),
        ("positive offset", 4, &[4, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], 2, &[(2, 1), (3, 1)], &[8, -7]),
        ("scaledown merges spans", 4, &[4, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1], 0, &[(5, 4), (8, 1)], &[4, -2, -2, 2, -1]),
        ("scaledown merges spans", 4, &[4, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1], 1, &[(3, 2), (4, 1)], &[6, -4, -1]),
        ("scaledown merges spans", 4, &[4, 2, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 1], 2, &[(2, 4)], &[8, -8, 0, 1]),
        ("negative offset", -2, &[3, 1, 0, 0, 0, 1], 0, &[(-1, 2), (3, 1)], &[3, -2, 0]),
        ("negative offset", -2, &[3, 1, 0, 0, 0, 1], 1, &[(0, 3)], &[4, -4, 1]),
        ("negative offset", -2, &[3, 1, 0, 0, 0, 1], 2, &[(0, 2)], &[4, -3]),
        ("buckets with gaps of size 1", -2, &[3, 1, 0, 1, 0, 1], 0, &[(-1, 6)], &[3, -2, -1, 1, -1, 1]),
        ("buckets with gaps of size 1", -2, &[3, 1, 0, 1, 0, 1], 1, &[(0, 3)], &[4, -3, 0]),
        ("buckets with gaps of size 1", -2, &[3, 1, 0, 1, 0, 1], 2, &[(0, 2)], &[4, -2]),
        ("buckets with gaps of size 2", -2, &[3, 0, 0, 1, 0, 0, 1], 0, &[(-1, 7)], &[3, -3, 0, 1, -1, 0, 1]),
        ("buckets with gaps of size 2", -2, &[3, 0, 0, 1, 0, 0, 1], 1, &[(0, 4)], &[3, -2, -1, 1]),
        ("buckets with gaps of size 2", -2, &[3, 0, 0, 1, 0, 0, 1], 2, &[(0, 3)], &[3, -2, 0]),
        ("zero buckets", 0, &[], 0, &[], &[]),
        ("zero buckets", 0, &[], 1, &[], &[]),
        ("zero buckets", 0, &[], 2, &[], &[]),
];

#[test]
fn bucket_layouts_are_prometheus_s() {
    for &(name, offset, counts, scale_down, spans, deltas) in LAYOUTS {
        let (got_spans, got_deltas) = buckets_layout(counts, offset, scale_down).unwrap();
        let want: Vec<Span> = spans
            .iter()
            .map(|&(offset, length)| Span { offset, length })
            .collect();
        assert_eq!(got_spans, want, "{name}, scale down {scale_down}");
        assert_eq!(got_deltas, deltas, "{name}, scale down {scale_down}");
    }
}

fn buckets(offset: i32, counts: &[u64]) -> Option<Buckets> {
    Some(Buckets {
        offset,
        bucket_counts: counts.to_vec(),
    })
}

/// Count 4, zero count 1, sum 10.1 at `scale`, and its buckets.
fn point(scale: i32, pos: Option<Buckets>, neg: Option<Buckets>) -> ExponentialHistogramDataPoint {
    ExponentialHistogramDataPoint {
        start_time_unix_nano: 100_000_000,
        time_unix_nano: 500_000_000,
        count: 4,
        sum: Some(10.1),
        scale,
        zero_count: 1,
        positive: pos,
        negative: neg,
        ..Default::default()
    }
}

fn int(
    schema: i32,
    count: u64,
    sum: f64,
    pos: (Vec<Span>, Vec<i64>),
    neg: (Vec<Span>, Vec<i64>),
) -> Histogram {
    Histogram {
        schema,
        zero_threshold: ZERO_THRESHOLD,
        sum,
        reset_hint: ResetHint::Unknown,
        positive_spans: pos.0,
        negative_spans: neg.0,
        custom_values: vec![],
        counts: Counts::Int {
            count,
            zero_count: 1,
            positive_deltas: pos.1,
            negative_deltas: neg.1,
        },
    }
}

fn span(offset: i32, length: u32) -> Vec<Span> {
    vec![Span { offset, length }]
}

#[test]
fn points_convert_as_prometheus_s() {
    // "convert exp. to native histogram"
    let p = point(1, buckets(1, &[1, 1]), buckets(1, &[1, 1]));
    let want = int(
        1,
        4,
        10.1,
        (span(2, 2), vec![1, 0]),
        (span(2, 2), vec![1, 0]),
    );
    assert_eq!(exp_histogram(&p), Ok(want.clone()));
    // "... with no sum": the sum stays 0.
    let p = ExponentialHistogramDataPoint { sum: None, ..p };
    let want = Histogram { sum: 0.0, ..want };
    assert_eq!(exp_histogram(&p), Ok(want));
    // "invalid negative scale"
    let p = point(-10, None, None);
    let err = exp_histogram(&p).unwrap_err();
    assert_eq!(err, ExpHistError::Scale(-10));
    assert!(
        err.to_string().contains("Scale must be >= -4, was -10"),
        "{err}"
    );
    // "no downscaling at scale 8"
    let mut p = point(8, buckets(1, &[1, 1, 1]), buckets(2, &[1, 1, 1]));
    p.count = 6;
    let want = int(
        8,
        6,
        10.1,
        (span(2, 3), vec![1, 0, 0]),
        (span(3, 3), vec![1, 0, 0]),
    );
    assert_eq!(exp_histogram(&p), Ok(want));
    // "downsample if scale is more than 8"
    p.scale = 9;
    let want = int(
        8,
        6,
        10.1,
        (span(1, 2), vec![1, 1]),
        (span(2, 2), vec![2, -1]),
    );
    assert_eq!(exp_histogram(&p), Ok(want));
}

#[test]
fn no_recorded_value_is_a_stale_marker_and_extremes_are_refused() {
    let mut p = point(0, buckets(0, &[2, 2]), None);
    p.flags = DataPointFlags::NoRecordedValueMask as u32;
    p.min = Some(1.0);
    p.max = Some(3.0);
    let h = exp_histogram(&p).unwrap();
    assert_eq!(h.sum.to_bits(), STALE_NAN);
    assert!(matches!(h.counts, Counts::Int { count, .. } if count == STALE_NAN));
    // Scale -4 is the lowest kept; a huge scale merges everything into one bucket.
    assert!(exp_histogram(&point(-4, None, None)).is_ok());
    let h = exp_histogram(&point(i32::MAX, buckets(5, &[1, 2, 3]), None)).unwrap();
    assert_eq!((h.schema, h.positive_spans.clone()), (8, span(1, 1)));
    assert!(matches!(&h.counts, Counts::Int { positive_deltas, .. } if positive_deltas == &[6]));
    // An offset whose Prometheus index does not fit 32 bits.
    let err = exp_histogram(&point(0, buckets(i32::MAX, &[1]), None)).unwrap_err();
    assert!(
        matches!(
            err,
            ExpHistError::Offset {
                side: "positive",
                ..
            }
        ),
        "{err}"
    );
}
