//! Tests of the in-place hybrid decoder (`hybrid.rs`) against a plain decode of streams
//! encoded here: runs of one value (any length) and bit-packed groups, mixed.

use super::*;

fn varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// `values` encoded: runs of 8 or more equal values repeated, the rest bit-packed (the
/// last group padded with zeros).
fn encode(values: &[u32], width: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < values.len() {
        let mut j = i;
        while j < values.len() && values[j] == values[i] {
            j += 1;
        }
        if j - i >= 8 {
            varint(&mut out, ((j - i) as u64) << 1);
            let bytes = usize::from(width).div_ceil(8);
            out.extend_from_slice(&values[i].to_le_bytes()[..bytes]);
            i = j;
            continue;
        }
        // Bit-pack up to the next long run, in whole groups of eight.
        let mut end = i;
        while end < values.len() {
            let mut k = end;
            while k < values.len() && values[k] == values[end] {
                k += 1;
            }
            if k - end >= 8 {
                break;
            }
            end = k;
        }
        let groups = (end - i).div_ceil(8);
        varint(&mut out, ((groups as u64) << 1) | 1);
        let mut bits = vec![0u8; groups * usize::from(width)];
        for (n, &v) in values[i..(i + groups * 8).min(values.len())]
            .iter()
            .enumerate()
        {
            for b in 0..usize::from(width) {
                if v >> b & 1 == 1 {
                    let at = n * usize::from(width) + b;
                    bits[at / 8] |= 1 << (at % 8);
                }
            }
        }
        out.extend_from_slice(&bits);
        i = (i + groups * 8).min(values.len());
    }
    out
}

/// A deterministic sequence of `n` values below `1 << width`, with long runs.
fn values(n: usize, width: u8, seed: u64) -> Vec<u32> {
    let max = if width == 0 { 1 } else { 1u64 << width };
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v = (x % max) as u32;
        let repeat = if x.is_multiple_of(5) {
            (x >> 8) % 40
        } else {
            1
        } as usize;
        out.extend(std::iter::repeat_n(v, repeat.max(1)));
    }
    out.truncate(n);
    out
}

#[test]
fn count_find_and_take_agree_with_a_plain_decode() {
    for width in [0u8, 1, 2, 3, 7, 12, 32] {
        for seed in 1..6u64 {
            let vals = values(1003, width, seed * 7919);
            let data = encode(&vals, width);
            let h = Hybrid::new(&data, width, vals.len()).expect("stream");
            assert_eq!(h.take(0, vals.len()).expect("take"), vals, "width {width}");
            for &(s, n) in &[(0, 1), (5, 17), (500, 3), (1000, 3), (1003, 0)] {
                assert_eq!(h.take(s, n).expect("take"), vals[s..s + n].to_vec());
            }
            for target in [0u32, 1, 2, 3] {
                for upto in [0, 1, 9, 64, 517, 1003] {
                    let want = vals[..upto].iter().filter(|&&v| v == target).count();
                    assert_eq!(h.count(target, upto).expect("count"), want, "w{width}");
                }
                let at: Vec<usize> = (0..vals.len()).filter(|&i| vals[i] == target).collect();
                for nth in [0, 1, at.len() / 2, at.len().saturating_sub(1), at.len()] {
                    assert_eq!(h.find(target, nth).expect("find"), at.get(nth).copied());
                }
            }
        }
    }
}

#[test]
fn padding_past_the_announced_values_is_not_counted() {
    // Three values bit-packed in a group of eight: the five padding zeros are not values.
    let data = encode(&[1, 0, 1], 1);
    let h = Hybrid::new(&data, 1, 3).expect("stream");
    assert_eq!(h.count(0, 3).expect("count"), 1);
    assert_eq!(h.find(0, 1).expect("find"), None);
    assert!(h.take(0, 4).is_err());
}

#[test]
fn truncated_streams_are_errors_not_panics() {
    let vals = values(300, 3, 42);
    let data = encode(&vals, 3);
    for cut in 0..data.len() {
        let h = Hybrid::new(&data[..cut], 3, vals.len()).expect("stream");
        assert!(h.take(0, vals.len()).is_err(), "cut at {cut}");
        let _ = h.count(1, vals.len());
        let _ = h.find(1, 1000);
    }
    assert!(Hybrid::new(&data, 33, 1).is_err());
}
