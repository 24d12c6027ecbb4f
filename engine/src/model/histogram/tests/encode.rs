//! The binary encoding: golden bytes from the layout in `docs/formats/histograms.md`, round
//! trips (proptest) and damaged input.

use proptest::prelude::*;

use super::*;

fn le(v: f64) -> [u8; 8] {
    v.to_bits().to_le_bytes()
}

#[test]
fn golden_int() {
    let h = Histogram {
        schema: -1,
        zero_threshold: 0.5,
        sum: 2.0,
        reset_hint: ResetHint::Gauge,
        positive_spans: vec![Span {
            offset: -2,
            length: 2,
        }],
        negative_spans: vec![],
        custom_values: vec![],
        counts: Counts::Int {
            count: 301,
            zero_count: 1,
            positive_deltas: vec![300, -300],
            negative_deltas: vec![],
        },
    };
    let mut want = vec![3 << 1];
    want.extend(le(0.5));
    want.extend(le(2.0));
    want.extend(301u64.to_le_bytes());
    want.extend(1u64.to_le_bytes());
    want.push(1); // schema -1, zigzag 1
    want.extend([1, 0, 2, 0, 0]); // span and bucket counts
    want.extend([3, 2]); // span (-2 → zigzag 3, 2)
    want.extend([0xD8, 0x04, 0xD7, 0x04]); // zigzag 600 and 599 as LEB128
    assert_eq!(h.to_bytes(), want);
    assert_eq!(Histogram::decode(&want), Ok(h));
}

#[test]
fn golden_float_custom() {
    let h = Histogram {
        schema: SCHEMA_CUSTOM,
        zero_threshold: 0.0,
        sum: 0.0,
        reset_hint: ResetHint::Unknown,
        positive_spans: vec![Span {
            offset: 0,
            length: 1,
        }],
        negative_spans: vec![],
        custom_values: vec![1.0],
        counts: Counts::Float {
            count: 1.0,
            zero_count: 0.0,
            positive: vec![1.0],
            negative: vec![],
        },
    };
    let mut want = vec![1];
    want.extend([0; 16]);
    want.extend(le(1.0));
    want.extend([0; 8]);
    want.push(105); // zigzag(-53)
    want.extend([1, 0, 1, 0, 1, 0, 1]);
    want.extend(le(1.0));
    want.extend(le(1.0));
    assert_eq!(h.to_bytes(), want);
    assert_eq!(Histogram::decode(&want), Ok(h));
}

#[test]
fn damaged_bytes_are_refused() {
    let dmg = |what, at| Err(HistogramError::Damaged { what, at });
    let h = Histogram::decode(&golden()).unwrap();
    let good = h.to_bytes();
    for n in 0..good.len() {
        assert!(Histogram::decode(&good[..n]).is_err(), "truncated to {n}");
    }
    let mut extra = good.clone();
    extra.push(0);
    assert_eq!(Histogram::decode(&extra), dmg("trailing bytes", good.len()));
    let mut flags = good.clone();
    flags[0] |= 8;
    assert_eq!(Histogram::decode(&flags), dmg("unknown flag bits", 0));
    // A positive span count of 2^40 with a few bytes left.
    let mut huge = good[..34].to_vec();
    huge.extend([0x80, 0x80, 0x80, 0x80, 0x80, 0x20]);
    assert_eq!(
        Histogram::decode(&huge),
        dmg("count beyond the bytes left", 34)
    );
    // An 11-byte varint for the schema.
    let mut long = good[..33].to_vec();
    long.extend([0xFF; 10]);
    long.push(1);
    assert_eq!(Histogram::decode(&long), dmg("varint beyond 64 bits", 33));
    // A non-canonical varint: 0 written as two bytes.
    let mut overlong = good[..33].to_vec();
    overlong.extend([0x80, 0x00]);
    assert_eq!(Histogram::decode(&overlong), dmg("overlong varint", 33));
    // A schema beyond i32: zigzag(2^32) as a varint.
    let mut wide = good[..33].to_vec();
    wide.extend([0x80, 0x80, 0x80, 0x80, 0x20]);
    assert_eq!(Histogram::decode(&wide), dmg("value beyond 32 bits", 33));
}

fn golden() -> Vec<u8> {
    let mut b = vec![0u8];
    b.extend([0; 32]);
    b.push(0);
    b.extend([1, 0, 1, 0, 0, 0, 1, 0]);
    b
}

fn any_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>().prop_map(f64::from_bits),
        -1e9..1e9f64,
        Just(f64::NAN)
    ]
}

fn spans() -> impl Strategy<Value = Vec<Span>> {
    prop::collection::vec(
        (any::<i32>(), any::<u32>()).prop_map(|(offset, length)| Span { offset, length }),
        0..5,
    )
}

prop_compose! {
    fn histogram()(
        schema in any::<i32>(), zt in any_f64(), sum in any_f64(), hint in 0u8..4,
        ps in spans(), ns in spans(), cv in prop::collection::vec(any_f64(), 0..4),
        float in any::<bool>(), c in any::<u64>(), z in any::<u64>(),
        pi in prop::collection::vec(any::<i64>(), 0..20), ni in prop::collection::vec(any::<i64>(), 0..20),
        pf in prop::collection::vec(any_f64(), 0..20), nf in prop::collection::vec(any_f64(), 0..20),
    ) -> Histogram {
        let counts = if float {
            Counts::Float { count: f64::from_bits(c), zero_count: f64::from_bits(z), positive: pf, negative: nf }
        } else {
            Counts::Int { count: c, zero_count: z, positive_deltas: pi, negative_deltas: ni }
        };
        let reset_hint = ResetHint::from_u8(hint).unwrap_or_default();
        Histogram { schema, zero_threshold: zt, sum, reset_hint, positive_spans: ps, negative_spans: ns, custom_values: cv, counts }
    }
}

proptest! {
    #[test]
    fn round_trip_is_bit_exact(h in histogram()) {
        let bytes = h.to_bytes();
        let back = Histogram::decode(&bytes).unwrap();
        // Re-encoding compares every float bit for bit, NaN payloads included.
        prop_assert_eq!(back.to_bytes(), bytes);
        prop_assert_eq!(back.schema, h.schema);
        prop_assert_eq!(&back.positive_spans, &h.positive_spans);
        prop_assert_eq!(back.sum.to_bits(), h.sum.to_bits());
        prop_assert_eq!(back.counts.bucket_len(), h.counts.bucket_len());
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Histogram::decode(&bytes);
    }

    #[test]
    fn flipped_bytes_never_panic(h in histogram(), at in any::<prop::sample::Index>(), x in 1u8..) {
        let mut bytes = h.to_bytes();
        let i = at.index(bytes.len());
        bytes[i] ^= x;
        if let Ok(back) = Histogram::decode(&bytes) {
            prop_assert_eq!(back.to_bytes(), bytes);
        }
    }
}
