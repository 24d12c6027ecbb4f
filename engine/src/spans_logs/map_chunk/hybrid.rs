//! Parquet's RLE/bit-packing hybrid, as map leaves' levels and dictionary indices are
//! written: RLE runs, bit-packed runs, and each list's indices packed once.

use super::LeafLists;

/// Bits needed to write values up to `max`.
pub(super) fn bits_for(max: u32) -> u8 {
    (32 - max.leading_zeros()) as u8
}

/// Appends `bytes` with its length before it (4 bytes, little-endian): how a version 1
/// data page holds its levels.
pub(super) fn with_length(buf: &mut Vec<u8>, bytes: &[u8]) {
    buf.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    buf.extend_from_slice(bytes);
}

/// One run of Parquet's RLE/bit-packing hybrid repeating `value` `count` times at `width`
/// bits: the count, then the value in whole bytes.
pub(super) fn rle_run(value: u32, count: usize, width: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(14);
    varint(&mut out, (count as u64) << 1);
    out.extend_from_slice(&value.to_le_bytes()[..(width as usize).div_ceil(8)]);
    out
}

/// One bit-packed run of Parquet's RLE/bit-packing hybrid: `count` values (declared up
/// front, for the run's header) of `width` bits, least significant bit first, padded with
/// zeros to a multiple of 8 values, which the reader's value count leaves unread. Packing
/// every value costs a shift and an or, where looking for repeats would cost more than the
/// bytes it saves before zstd.
pub(super) struct BitPacker {
    out: Vec<u8>,
    acc: u64,
    bits: u32,
    width: u32,
    pushed: usize,
    count: usize,
    /// The value [`BitPacker::push_n`] last repeated, and as many copies of it as 32 bits
    /// hold, packed.
    fill: (u32, u64),
}

impl BitPacker {
    pub(super) fn new(width: u8, count: usize) -> Self {
        let groups = count.div_ceil(8);
        let mut out = Vec::with_capacity(10 + groups * width as usize);
        if groups > 0 {
            varint(&mut out, ((groups as u64) << 1) | 1);
        }
        Self {
            out,
            acc: 0,
            bits: 0,
            width: u32::from(width),
            pushed: 0,
            count,
            fill: (0, 0),
        }
    }

    #[inline]
    pub(super) fn push(&mut self, v: u32) {
        self.pushed += 1;
        self.acc |= u64::from(v) << self.bits;
        self.bits += self.width;
        if self.bits >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.bits -= 32;
        }
    }

    /// Appends `n` values packed into `bits` (`n` × the width bits, at most 32; as
    /// [`PackedLists`] packs them).
    #[inline]
    pub(super) fn push_bits(&mut self, bits: u64, n: usize) {
        self.pushed += n;
        self.acc |= bits << self.bits;
        self.bits += n as u32 * self.width;
        if self.bits >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.bits -= 32;
        }
    }

    /// Appends `v` `n` times, up to 32 bits at a time.
    #[inline]
    pub(super) fn push_n(&mut self, v: u32, mut n: usize) {
        if self.width == 0 {
            self.pushed += n;
            return;
        }
        let per = (32 / self.width) as usize;
        if n >= 2 && self.fill.0 != v {
            self.fill = (v, repeat(v, self.width, per));
        }
        while n >= 2 {
            let k = n.min(per);
            let bits = self.fill.1 & (u64::MAX >> (64 - k as u32 * self.width));
            self.push_bits(bits, k);
            n -= k;
        }
        if n == 1 {
            self.push(v);
        }
    }

    /// The run, padded to whole groups of 8 values.
    pub(super) fn finish(mut self) -> Vec<u8> {
        debug_assert_eq!(self.pushed, self.count, "values pushed and declared differ");
        while !self.pushed.is_multiple_of(8) {
            self.push(0);
        }
        // 8 values of any width fill whole bytes.
        for _ in 0..self.bits / 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
        }
        self.out
    }
}

/// `v` `n` times at `width` bits, packed least significant first (`n` × `width` ≤ 64).
fn repeat(v: u32, width: u32, n: usize) -> u64 {
    (0..n).fold(0u64, |acc, i| acc | (u64::from(v) << (i as u32 * width)))
}

/// Each list's dictionary indices packed at the chunk's bit width, in pieces of at most 32
/// bits: `(bits, values)`; list `j` is `pieces[bounds[j]..bounds[j + 1]]` (empty for lists
/// no row uses).
pub(super) struct PackedLists {
    pieces: Vec<(u64, u32)>,
    bounds: Vec<usize>,
}

impl PackedLists {
    pub(super) fn new(lists: &LeafLists<'_>, ids: &[u32], used: &[bool], width: u8) -> Self {
        let width = u32::from(width);
        // Width 0 (a one-entry dictionary): every index in one piece of no bits.
        let per = 32u32.checked_div(width).map_or(usize::MAX, |p| p as usize);
        let mut pieces = Vec::new();
        let mut bounds = Vec::with_capacity(lists.len() + 1);
        bounds.push(0);
        for (j, &used) in used.iter().enumerate() {
            if used {
                for chunk in ids[lists.range(j as u32)].chunks(per) {
                    let bits = chunk.iter().enumerate().fold(0u64, |acc, (i, &id)| {
                        acc | (u64::from(id) << (i as u32 * width))
                    });
                    pieces.push((bits, chunk.len() as u32));
                }
            }
            bounds.push(pieces.len());
        }
        Self { pieces, bounds }
    }

    pub(super) fn list(&self, j: u32) -> &[(u64, u32)] {
        &self.pieces[self.bounds[j as usize]..self.bounds[j as usize + 1]]
    }
}

/// An unsigned LEB128 varint.
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(width: u8, values: &[u32]) -> Vec<u8> {
        let mut p = BitPacker::new(width, values.len());
        for &v in values {
            p.push(v);
        }
        p.finish()
    }

    #[test]
    fn runs_are_parquets_hybrid_layout() {
        // Three values at width 2: one group (header 1 << 1 | 1), padded: 1 | 2<<2 | 3<<4.
        assert_eq!(packed(2, &[1, 2, 3]), [3, 0b0011_1001, 0]);
        // Eleven values at width 1: two groups, LSB first.
        let v = [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
        assert_eq!(packed(1, &v), [5, 0b1111_1110, 0b0000_0111]);
        // Width 9 crosses bytes: 8 values of 0x1ff fill 9 bytes of ones.
        let mut want = vec![3];
        want.extend([0xff; 9]);
        assert_eq!(packed(9, &[0x1ff; 8]), want);
        // Width 0 (a one-entry dictionary): the header alone; no values, nothing.
        assert_eq!(packed(0, &[0; 20]), [7]);
        assert!(packed(3, &[]).is_empty());
        // An RLE run: count << 1, then the value in whole bytes.
        assert_eq!(rle_run(2, 300, 2), [0xd8, 0x04, 2]);
        assert_eq!(rle_run(0x1ff, 8, 9), [16, 0xff, 0x01]);
    }

    #[test]
    fn bulk_pushes_pack_as_single_ones() {
        for width in [1u8, 2, 3, 5, 7, 9, 13] {
            let max = (1u32 << width) - 1;
            // Runs of every length around the 32-bit pieces, and lone values between.
            let (mut values, mut ops) = (Vec::new(), Vec::new());
            for n in [0usize, 1, 2, 3, 31, 32, 33, 70] {
                for v in [0, 1, max, max / 2] {
                    ops.push((v, n));
                    values.extend(std::iter::repeat_n(v, n));
                    ops.push((max, 1));
                    values.push(max);
                }
            }
            let mut want = BitPacker::new(width, values.len());
            for &v in &values {
                want.push(v);
            }
            let mut bulk = BitPacker::new(width, values.len());
            for &(v, n) in &ops {
                bulk.push_n(v, n);
            }
            // Packed lists of every length.
            let strings: Vec<Vec<u8>> = (0..=max.min(300))
                .map(|i| i.to_le_bytes().to_vec())
                .collect();
            let mut lists = LeafLists::default();
            let mut ids = Vec::new();
            for (j, len) in [0usize, 1, 7, 40, 3].into_iter().enumerate() {
                for k in 0..len {
                    let id = ((j * 31 + k * 7) as u32) % (max.min(300) + 1);
                    lists.push(&strings[id as usize]);
                    ids.push(id);
                }
                lists.end_list();
            }
            let packed = PackedLists::new(&lists, &ids, &[true; 5], width);
            let mut one = BitPacker::new(width, ids.len());
            let mut pieces = BitPacker::new(width, ids.len());
            for j in 0..5 {
                for &id in &ids[lists.range(j)] {
                    one.push(id);
                }
                for &(bits, n) in packed.list(j) {
                    pieces.push_bits(bits, n as usize);
                }
            }
            assert_eq!(bulk.finish(), want.finish(), "width {width}");
            assert_eq!(pieces.finish(), one.finish(), "width {width}");
        }
    }

    #[test]
    fn bit_widths() {
        assert_eq!(bits_for(0), 0);
        assert_eq!(bits_for(1), 1);
        assert_eq!(bits_for(2), 2);
        assert_eq!(bits_for(255), 8);
        assert_eq!(bits_for(256), 9);
    }
}
