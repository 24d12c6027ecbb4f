//! Validation: every error of [`Histogram::check`].

use super::*;

#[test]
fn valid_histograms_pass() {
    // Positive abs counts 1,3,1 (=5), negative 2,2 (=4), zero 3: count 12.
    let h = neg_int(
        int(0, &[(-2, 2), (1, 1)], &[1, 2, -2], 12, 3),
        &[(0, 2)],
        &[2, 0],
    );
    assert_eq!(h.check(), Ok(()));
    assert_eq!(h.validate(0), Ok(None));
    // A NaN sum (e.g. a stale marker) allows a count above the buckets' sum.
    let stale = Histogram {
        sum: f64::NAN,
        ..int(0, &[(0, 1)], &[2], 5, 0)
    };
    assert_eq!(stale.check(), Ok(()));
    // Float histograms: the count is not compared with the buckets; NaN counts pass.
    assert_eq!(
        float(3, &[(0, 2)], &[1.5, f64::NAN], 100.0, 0.5).check(),
        Ok(())
    );
    // Custom buckets: bounds 1, 2 give buckets (-Inf,1], (1,2], (2,+Inf]: 3 buckets.
    assert_eq!(
        custom(&[1.0, 2.0], &[(0, 3)], &[1, 1, -1], 4).check(),
        Ok(())
    );
    assert_eq!(
        custom(&[1.0, 2.0], &[(0, 1), (1, 1)], &[1, 1], 3).check(),
        Ok(())
    );
    // Empty histograms and the extreme schemas.
    for schema in [SCHEMA_MIN, SCHEMA_MAX] {
        assert_eq!(int(schema, &[], &[], 0, 0).check(), Ok(()));
    }
}

#[test]
fn schema_errors() {
    for schema in [-5, -9, -52, -54, 53, i32::MAX, i32::MIN] {
        assert_eq!(
            int(schema, &[], &[], 0, 0).validate(0),
            Err(HistogramError::InvalidSchema(schema)),
            "{schema}"
        );
    }
    // check() takes stored schemas only; validate() also takes 9..=52.
    assert_eq!(
        int(9, &[], &[], 0, 0).check(),
        Err(HistogramError::InvalidSchema(9))
    );
    assert!(int(52, &[], &[], 0, 0).validate(0).is_ok());
}

#[test]
fn span_errors() {
    let neg = int(0, &[(-2, 1), (-1, 1)], &[1, 0], 2, 0);
    let e = HistogramError::SpanNegativeOffset {
        side: Side::Positive,
        span: 2,
        offset: -1,
    };
    assert_eq!(neg.check(), Err(e));
    let mismatch = int(0, &[(0, 3)], &[1, 0], 2, 0);
    let e = HistogramError::SpansBucketsMismatch {
        side: Side::Positive,
        need: 3,
        have: 2,
    };
    assert_eq!(mismatch.check(), Err(e.clone()));
    assert_eq!(
        e.to_string(),
        "positive side: spans need 3 buckets, have 2 buckets: histogram spans specify different number of buckets than provided"
    );
    let neg_side = neg_int(int(0, &[], &[], 1, 0), &[(0, 2)], &[1]);
    let e = HistogramError::SpansBucketsMismatch {
        side: Side::Negative,
        need: 2,
        have: 1,
    };
    assert_eq!(neg_side.check(), Err(e));
}

#[test]
fn count_errors() {
    // Deltas 2, -3: the second bucket's absolute count is -1.
    let e = HistogramError::NegativeBucketCount {
        side: Side::Positive,
        bucket: 2,
        count: -1.0,
    };
    assert_eq!(int(0, &[(0, 2)], &[2, -3], 1, 0).check(), Err(e));
    let h = neg_int(int(0, &[], &[], 0, 0), &[(0, 1)], &[-4]);
    let e = HistogramError::NegativeBucketCount {
        side: Side::Negative,
        bucket: 1,
        count: -4.0,
    };
    assert_eq!(h.check(), Err(e));
    let e = HistogramError::BucketCountOverflow {
        side: Side::Positive,
        bucket: 2,
    };
    assert_eq!(int(0, &[(0, 2)], &[i64::MAX, 1], 0, 0).check(), Err(e));
    // Buckets 2 + 3 + zero 1 = 6.
    let e = HistogramError::CountMismatch {
        buckets: 6,
        count: 7,
    };
    assert_eq!(int(0, &[(0, 2)], &[2, 1], 7, 1).check(), Err(e));
    let e = HistogramError::CountMismatch {
        buckets: 6,
        count: 5,
    };
    assert_eq!(int(0, &[(0, 2)], &[2, 1], 5, 1).check(), Err(e));
    let nan = Histogram {
        sum: f64::NAN,
        ..int(0, &[(0, 2)], &[2, 1], 5, 1)
    };
    assert_eq!(
        nan.check(),
        Err(HistogramError::CountNotBigEnough {
            buckets: 6,
            count: 5
        })
    );
    // The buckets' sum is exact beyond u64 (u64::MAX + 2), not wrapped.
    let big = int(
        0,
        &[(0, 1)],
        &[i64::MAX],
        u64::MAX,
        u64::MAX - (i64::MAX as u64) + 2,
    );
    let e = HistogramError::CountMismatch {
        buckets: u128::from(u64::MAX) + 2,
        count: u64::MAX,
    };
    assert_eq!(big.check(), Err(e));
}

#[test]
fn float_count_errors() {
    let e = HistogramError::NegativeBucketCount {
        side: Side::Positive,
        bucket: 2,
        count: -0.5,
    };
    assert_eq!(float(0, &[(0, 2)], &[1.0, -0.5], 1.0, 0.0).check(), Err(e));
    let mut h = float(0, &[], &[], 1.0, 0.0);
    if let Counts::Float { negative, .. } = &mut h.counts {
        *negative = vec![-1.0];
    }
    h.negative_spans = sp(&[(0, 1)]);
    let e = HistogramError::NegativeBucketCount {
        side: Side::Negative,
        bucket: 1,
        count: -1.0,
    };
    assert_eq!(h.check(), Err(e));
    assert_eq!(
        float(0, &[], &[], 1.0, -2.0).check(),
        Err(HistogramError::NegativeZeroCount(-2.0))
    );
    assert_eq!(
        float(0, &[], &[], -3.0, 0.0).check(),
        Err(HistogramError::NegativeCount(-3.0))
    );
}

#[test]
fn zero_threshold_errors() {
    for t in [-1.0, f64::INFINITY] {
        let h = Histogram {
            zero_threshold: t,
            ..int(0, &[], &[], 0, 0)
        };
        assert_eq!(h.check(), Err(HistogramError::InvalidZeroThreshold(t)));
    }
    let h = Histogram {
        zero_threshold: f64::NAN,
        ..int(0, &[], &[], 0, 0)
    };
    assert!(matches!(h.check(), Err(HistogramError::InvalidZeroThreshold(t)) if t.is_nan()));
}

#[test]
fn custom_bucket_errors() {
    let ok = |b: &[f64]| custom(b, &[(0, 1)], &[1], 1);
    assert_eq!(
        ok(&[1.0, f64::NAN]).check(),
        Err(HistogramError::CustomBoundNaN { index: 2 })
    );
    let e = HistogramError::CustomBoundInfinite {
        index: 2,
        bound: f64::INFINITY,
    };
    assert_eq!(ok(&[1.0, f64::INFINITY]).check(), Err(e));
    let e = HistogramError::CustomBoundInfinite {
        index: 1,
        bound: f64::NEG_INFINITY,
    };
    assert_eq!(ok(&[f64::NEG_INFINITY, 1.0]).check(), Err(e));
    let e = HistogramError::CustomBoundsNotIncreasing {
        prev: 2.0,
        curr: 2.0,
    };
    assert_eq!(ok(&[1.0, 2.0, 2.0]).check(), Err(e));
    let e = HistogramError::CustomBoundsNotIncreasing {
        prev: 2.0,
        curr: 1.0,
    };
    assert_eq!(ok(&[2.0, 1.0]).check(), Err(e));
    // Two bounds give three buckets; spans reaching four are too many.
    let e = HistogramError::CustomBoundsTooFew {
        bounds: 2,
        span_total: 4,
    };
    assert_eq!(
        custom(&[1.0, 2.0], &[(0, 4)], &[1, 0, 0, 0], 4).check(),
        Err(e)
    );
    let e = HistogramError::CustomBoundsTooFew {
        bounds: 2,
        span_total: 4,
    };
    assert_eq!(custom(&[1.0, 2.0], &[(3, 1)], &[1], 1).check(), Err(e));
    // No negative offset at all, not even the first span's.
    let e = HistogramError::SpanNegativeOffset {
        side: Side::Positive,
        span: 1,
        offset: -1,
    };
    assert_eq!(custom(&[1.0, 2.0], &[(-1, 1)], &[1], 1).check(), Err(e));
    let e = HistogramError::SpansBucketsMismatch {
        side: Side::Positive,
        need: 2,
        have: 1,
    };
    assert_eq!(custom(&[1.0, 2.0], &[(0, 2)], &[1], 1).check(), Err(e));
    let zc = Histogram {
        counts: Counts::Int {
            count: 2,
            zero_count: 1,
            positive_deltas: vec![1],
            negative_deltas: vec![],
        },
        ..ok(&[1.0])
    };
    assert_eq!(zc.check(), Err(HistogramError::CustomZeroCount));
    let zt = Histogram {
        zero_threshold: 0.5,
        ..ok(&[1.0])
    };
    assert_eq!(zt.check(), Err(HistogramError::CustomZeroThreshold));
    let ns = Histogram {
        negative_spans: sp(&[(0, 0)]),
        ..ok(&[1.0])
    };
    assert_eq!(ns.check(), Err(HistogramError::CustomNegativeSpans));
    let mut nb = ok(&[1.0]);
    if let Counts::Int {
        negative_deltas, ..
    } = &mut nb.counts
    {
        *negative_deltas = vec![1];
    }
    assert_eq!(nb.check(), Err(HistogramError::CustomNegativeBuckets));
    let exp = Histogram {
        custom_values: vec![1.0],
        ..int(0, &[], &[], 0, 0)
    };
    assert_eq!(exp.check(), Err(HistogramError::ExpSchemaCustomBounds));
    assert_eq!(
        ok(&[1.0, 2.0, 2.0]).validate(0),
        Err(HistogramError::CustomBoundsNotIncreasing {
            prev: 2.0,
            curr: 2.0
        })
    );
}
