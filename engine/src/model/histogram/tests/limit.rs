//! Input normalisation: schemas 9..=52 reduced to 8, and the bucket limit.

use super::*;

#[test]
fn reserved_schemas_are_reduced_to_8() {
    // Schema 10 → 8 divides indexes by 4: old i goes to ((i-1) >> 2) + 1.
    // Old 1..=4 → 1, old 5 → 2. Abs counts 1,1,1,1,2 → 4, 2; deltas 4, -2.
    let h = int(10, &[(1, 5)], &[1, 0, 0, 0, 1], 6, 0);
    let want = int(8, &[(1, 2)], &[4, -2], 6, 0);
    assert_eq!(h.validate(0), Ok(Some(want)));
    // A reserved schema with bad spans is refused, not reduced.
    let bad = int(12, &[(0, 2)], &[1], 1, 0);
    let e = HistogramError::SpansBucketsMismatch {
        side: Side::Positive,
        need: 2,
        have: 1,
    };
    assert_eq!(bad.validate(0), Err(e));
}

#[test]
fn bucket_limit() {
    // Schema 2, indexes 1..=8 each 1: schema 1 gives 4 buckets of 2, schema 0 gives 2 of 4.
    let h = int(2, &[(1, 8)], &[1, 0, 0, 0, 0, 0, 0, 0], 8, 0);
    assert_eq!(h.validate(0), Ok(None));
    assert_eq!(h.validate(8), Ok(None));
    assert_eq!(
        h.validate(4),
        Ok(Some(int(1, &[(1, 4)], &[2, 0, 0, 0], 8, 0)))
    );
    assert_eq!(h.validate(3), Ok(Some(int(0, &[(1, 2)], &[4, 0], 8, 0))));
    assert_eq!(h.validate(2), Ok(Some(int(0, &[(1, 2)], &[4, 0], 8, 0))));
    // At schema -4 it refuses: indexes 1 and 3 stay apart, as at -4 nothing is merged further.
    let floor = int(-4, &[(1, 1), (1, 1)], &[1, 0], 2, 0);
    let e = HistogramError::TooManyBuckets {
        buckets: 2,
        limit: 1,
        schema: -4,
    };
    assert_eq!(floor.validate(1), Err(e));
    // Schema -3 indexes 1 and 3 → -4: ((0)>>1)+1 = 1 and ((2)>>1)+1 = 2, still two buckets.
    let e = HistogramError::TooManyBuckets {
        buckets: 2,
        limit: 1,
        schema: -4,
    };
    assert_eq!(
        int(-3, &[(1, 1), (1, 1)], &[1, 0], 2, 0).validate(1),
        Err(e)
    );
    let c = custom(&[1.0, 2.0], &[(0, 3)], &[1, 0, 0], 3);
    let e = HistogramError::TooManyBuckets {
        buckets: 3,
        limit: 2,
        schema: SCHEMA_CUSTOM,
    };
    assert_eq!(c.validate(2), Err(e));
    assert_eq!(c.validate(3), Ok(None));
    // Float histograms and the negative side count too.
    let f = float(1, &[(1, 2)], &[1.0, 2.0], 3.0, 0.0);
    assert_eq!(
        f.validate(1),
        Ok(Some(float(0, &[(1, 1)], &[3.0], 3.0, 0.0)))
    );
    let both = neg_int(int(0, &[(1, 2)], &[1, 0], 4, 0), &[(1, 2)], &[1, 0]);
    let want = neg_int(int(-1, &[(1, 1)], &[2], 4, 0), &[(1, 1)], &[2]);
    assert_eq!(both.validate(3), Ok(Some(want)));
}
