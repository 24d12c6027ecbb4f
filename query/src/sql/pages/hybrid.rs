//! Parquet's RLE/bit-packing hybrid encoding (levels, dictionary indices), read in place:
//! values are counted, located and taken by position without decoding those before them
//! one by one. A run of one value is skipped whole; bit-packed values of width 1 or 2 are
//! counted a byte (8 or 4 values) at a time.
//!
//! Used by [`super::map_rows`], which finds one record among the thousands of a page's
//! repetition levels: the parquet crate's reader decodes every level before it.

use datafusion::parquet::errors::ParquetError;

type Result<T> = std::result::Result<T, ParquetError>;

/// `len` values of `width` bits in the hybrid encoding (without a length prefix).
#[derive(Clone, Copy)]
pub(crate) struct Hybrid<'a> {
    data: &'a [u8],
    width: u8,
    len: usize,
}

/// A run of the encoding, cut to the values the stream holds.
enum Run<'a> {
    /// `count` times `value`.
    Repeat { value: u32, count: usize },
    /// `count` values bit-packed in `bytes`, least significant bit first.
    Packed { bytes: &'a [u8], count: usize },
}

impl<'a> Hybrid<'a> {
    /// The stream `data` of `len` values of `width` bits (at most 32).
    pub(crate) fn new(data: &'a [u8], width: u8, len: usize) -> Result<Self> {
        if width > 32 {
            return Err(corrupt("a bit width over 32"));
        }
        Ok(Self { data, width, len })
    }

    /// Calls `f` with each run and the position of its first value, until `f` answers
    /// `false` or the values end.
    fn each_run(&self, mut f: impl FnMut(usize, Run<'a>) -> bool) -> Result<()> {
        let mut data = self.data;
        let mut at = 0usize;
        let value_bytes = usize::from(self.width).div_ceil(8);
        while at < self.len {
            let header = uleb128(&mut data)?;
            let left = self.len - at;
            let run = if header & 1 == 1 {
                let groups = usize::try_from(header >> 1).map_err(|_| corrupt("a run"))?;
                let size = groups
                    .checked_mul(usize::from(self.width))
                    .ok_or_else(|| corrupt("a run"))?;
                let bytes = data
                    .get(..size)
                    .ok_or_else(|| corrupt("bit-packed values"))?;
                data = &data[size..];
                Run::Packed {
                    bytes,
                    count: groups.saturating_mul(8).min(left),
                }
            } else {
                let count = usize::try_from(header >> 1).map_err(|_| corrupt("a run"))?;
                let bytes = data
                    .get(..value_bytes)
                    .ok_or_else(|| corrupt("a repeated value"))?;
                data = &data[value_bytes..];
                let mut word = [0u8; 4];
                word[..value_bytes].copy_from_slice(bytes);
                Run::Repeat {
                    value: u32::from_le_bytes(word),
                    count: count.min(left),
                }
            };
            let count = match run {
                Run::Repeat { count, .. } | Run::Packed { count, .. } => count,
            };
            if count == 0 && data.is_empty() {
                return Err(corrupt("fewer values than announced"));
            }
            if !f(at, run) {
                return Ok(());
            }
            at += count;
        }
        Ok(())
    }

    /// How many of the first `upto` values are `value`.
    pub(crate) fn count(&self, value: u32, upto: usize) -> Result<usize> {
        let mut n = 0usize;
        self.each_run(|at, run| {
            if at >= upto {
                return false;
            }
            let take = upto - at;
            match run {
                Run::Repeat { value: v, count } => {
                    if v == value {
                        n += count.min(take);
                    }
                }
                Run::Packed { bytes, count } => {
                    n += packed_count(bytes, self.width, value, count.min(take));
                }
            }
            true
        })?;
        Ok(n)
    }

    /// The position of the `nth` (from 0) value equal to `value`, if there is one.
    pub(crate) fn find(&self, value: u32, nth: usize) -> Result<Option<usize>> {
        let mut seen = 0usize;
        let mut found = None;
        self.each_run(|at, run| {
            match run {
                Run::Repeat { value: v, count } => {
                    if v == value {
                        if nth < seen + count {
                            found = Some(at + nth - seen);
                            return false;
                        }
                        seen += count;
                    }
                }
                Run::Packed { bytes, count } => {
                    let here = packed_count(bytes, self.width, value, count);
                    if nth < seen + here {
                        found = packed_find(bytes, self.width, value, count, nth - seen)
                            .map(|i| at + i);
                        return false;
                    }
                    seen += here;
                }
            }
            true
        })?;
        Ok(found)
    }

    /// The values at positions `start..start + n`.
    pub(crate) fn take(&self, start: usize, n: usize) -> Result<Vec<u32>> {
        let end = start.saturating_add(n);
        if end > self.len {
            return Err(corrupt("values past the end"));
        }
        let mut out = Vec::with_capacity(n);
        self.each_run(|at, run| match run {
            Run::Repeat { value, count } => {
                let (a, b) = (start.max(at), end.min(at + count));
                if a < b {
                    out.extend(std::iter::repeat_n(value, b - a));
                }
                at + count < end
            }
            Run::Packed { bytes, count } => {
                let (a, b) = (start.max(at), end.min(at + count));
                for i in a..b {
                    out.push(packed_get(bytes, self.width, i - at));
                }
                at + count < end
            }
        })?;
        if out.len() != n {
            return Err(corrupt("fewer values than announced"));
        }
        Ok(out)
    }
}

/// The `i`th value of a bit-packed run.
fn packed_get(bytes: &[u8], width: u8, i: usize) -> u32 {
    let bit = i * usize::from(width);
    let (byte, shift) = (bit / 8, bit % 8);
    let end = (byte + 8).min(bytes.len());
    let mut word = [0u8; 8];
    if let Some(src) = bytes.get(byte..end) {
        word[..src.len()].copy_from_slice(src);
    }
    let mask = if width == 0 {
        0
    } else {
        u64::MAX >> (64 - width)
    };
    ((u64::from_le_bytes(word) >> shift) & mask) as u32
}

/// How many values a byte of `width`-bit values holds, when a whole number.
fn per_byte(width: u8) -> Option<usize> {
    match width {
        1 => Some(8),
        2 => Some(4),
        _ => None,
    }
}

/// How many of the values packed in byte `b` (of `width` 1 or 2) are `value`.
fn byte_count(b: u8, width: u8, value: u32) -> usize {
    match width {
        1 => {
            let ones = b.count_ones() as usize;
            if value == 1 { ones } else { 8 - ones }
        }
        _ => {
            // Fields equal to `value` are those whose two bits both clear after an xor.
            let x = b ^ (0x55u8.wrapping_mul(value as u8 & 3));
            (!(x | x >> 1) & 0x55).count_ones() as usize
        }
    }
}

/// How many of the first `count` values of a bit-packed run are `value`.
fn packed_count(bytes: &[u8], width: u8, value: u32, count: usize) -> usize {
    if width < 32 && value >> width != 0 {
        return 0;
    }
    if width == 0 {
        return count;
    }
    let mut n = 0usize;
    let mut i = 0usize;
    if let Some(k) = per_byte(width) {
        let whole = count / k;
        for &b in bytes.iter().take(whole) {
            n += byte_count(b, width, value);
        }
        i = whole * k;
    }
    for j in i..count {
        n += usize::from(packed_get(bytes, width, j) == value);
    }
    n
}

/// The position in a bit-packed run of its `nth` value equal to `value`.
fn packed_find(bytes: &[u8], width: u8, value: u32, count: usize, nth: usize) -> Option<usize> {
    if width < 32 && value >> width != 0 {
        return None;
    }
    let mut seen = 0usize;
    let mut i = 0usize;
    if let Some(k) = per_byte(width) {
        for &b in bytes.iter().take(count / k) {
            let here = byte_count(b, width, value);
            if nth < seen + here {
                break;
            }
            seen += here;
            i += k;
        }
    }
    for j in i..count {
        if packed_get(bytes, width, j) == value {
            if seen == nth {
                return Some(j);
            }
            seen += 1;
        }
    }
    None
}

/// An unsigned LEB128 integer (a run's header).
pub(crate) fn uleb128(data: &mut &[u8]) -> Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&b, tail) = data.split_first().ok_or_else(|| corrupt("a run header"))?;
        *data = tail;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(corrupt("a run header"))
}

fn corrupt(what: &str) -> ParquetError {
    ParquetError::General(format!("corrupt page: {what}"))
}

#[cfg(test)]
#[path = "hybrid_tests.rs"]
mod tests;
