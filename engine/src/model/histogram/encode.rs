//! The compact binary encoding of a [`Histogram`], byte for byte as in
//! `docs/formats/histograms.md`: a 33-byte fixed header, then varint counts, spans, buckets
//! and custom bounds. Decoding is bounds-checked and refuses damaged bytes with an error.

use super::{Counts, Histogram, HistogramError, ResetHint, Span};

/// Flags bit 0: the counts are floats.
const FLAG_FLOAT: u8 = 1;
/// Flags bits 1-2: the reset hint.
const HINT_SHIFT: u8 = 1;
/// Bytes before the first varint.
pub(super) const HEADER_LEN: usize = 33;

impl Histogram {
    /// Appends the encoding of this histogram to `out`. Bit-exact: NaN payloads are kept.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let float = self.counts.is_float();
        out.push((u8::from(float) * FLAG_FLOAT) | ((self.reset_hint as u8) << HINT_SHIFT));
        out.extend_from_slice(&self.zero_threshold.to_bits().to_le_bytes());
        out.extend_from_slice(&self.sum.to_bits().to_le_bytes());
        let (count, zero, pos_len, neg_len) = match &self.counts {
            Counts::Int {
                count,
                zero_count,
                positive_deltas: p,
                negative_deltas: n,
            } => (*count, *zero_count, p.len(), n.len()),
            Counts::Float {
                count,
                zero_count,
                positive: p,
                negative: n,
            } => (count.to_bits(), zero_count.to_bits(), p.len(), n.len()),
        };
        out.extend_from_slice(&count.to_le_bytes());
        out.extend_from_slice(&zero.to_le_bytes());
        varint(out, zigzag(i64::from(self.schema)));
        for n in [
            self.positive_spans.len(),
            self.negative_spans.len(),
            pos_len,
            neg_len,
            self.custom_values.len(),
        ] {
            varint(out, n as u64);
        }
        for s in self.positive_spans.iter().chain(&self.negative_spans) {
            varint(out, zigzag(i64::from(s.offset)));
            varint(out, u64::from(s.length));
        }
        match &self.counts {
            Counts::Int {
                positive_deltas: p,
                negative_deltas: n,
                ..
            } => {
                p.iter().chain(n).for_each(|d| varint(out, zigzag(*d)));
            }
            Counts::Float {
                positive: p,
                negative: n,
                ..
            } => {
                p.iter()
                    .chain(n)
                    .for_each(|c| out.extend_from_slice(&c.to_bits().to_le_bytes()));
            }
        }
        for v in &self.custom_values {
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    }

    /// The encoding of this histogram in a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + 8 + 2 * self.bucket_len());
        self.encode(&mut out);
        out
    }

    /// Decodes exactly one histogram filling `buf`. Damaged bytes (truncated, unknown flags,
    /// bad varints, out-of-range values, trailing bytes) give [`HistogramError::Damaged`],
    /// never a panic. The result is not validated; see [`Histogram::check`].
    pub fn decode(buf: &[u8]) -> Result<Histogram, HistogramError> {
        let mut r = Reader { buf, pos: 0 };
        let flags = r.u8("flags")?;
        if flags >> 3 != 0 {
            return Err(HistogramError::Damaged {
                what: "unknown flag bits",
                at: 0,
            });
        }
        let float = flags & FLAG_FLOAT != 0;
        let reset_hint = ResetHint::from_u8((flags >> HINT_SHIFT) & 3).unwrap_or_default();
        let zero_threshold = f64::from_bits(r.u64("zero threshold")?);
        let sum = f64::from_bits(r.u64("sum")?);
        let count = r.u64("count")?;
        let zero_count = r.u64("zero count")?;
        let schema = r.i32("schema")?;
        let n_pos_spans = r.len("positive span count", 2)?;
        let n_neg_spans = r.len("negative span count", 2)?;
        let width = if float { 8 } else { 1 };
        let n_pos = r.len("positive bucket count", width)?;
        let n_neg = r.len("negative bucket count", width)?;
        let n_custom = r.len("custom bound count", 8)?;
        let positive_spans = r.spans(n_pos_spans)?;
        let negative_spans = r.spans(n_neg_spans)?;
        let counts = if float {
            Counts::Float {
                count: f64::from_bits(count),
                zero_count: f64::from_bits(zero_count),
                positive: r.floats(n_pos, "positive bucket")?,
                negative: r.floats(n_neg, "negative bucket")?,
            }
        } else {
            Counts::Int {
                count,
                zero_count,
                positive_deltas: r.deltas(n_pos)?,
                negative_deltas: r.deltas(n_neg)?,
            }
        };
        let custom_values = r.floats(n_custom, "custom bound")?;
        if r.pos != buf.len() {
            return Err(HistogramError::Damaged {
                what: "trailing bytes",
                at: r.pos,
            });
        }
        Ok(Histogram {
            schema,
            zero_threshold,
            sum,
            reset_hint,
            positive_spans,
            negative_spans,
            custom_values,
            counts,
        })
    }
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Appends `v` as an unsigned LEB128 varint.
fn varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A bounds-checked reader (the WAL's `Cursor` sits in a higher layer).
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn damaged(&self, what: &'static str) -> HistogramError {
        HistogramError::Damaged { what, at: self.pos }
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, HistogramError> {
        let b = *self.buf.get(self.pos).ok_or_else(|| self.damaged(what))?;
        self.pos += 1;
        Ok(b)
    }

    fn u64(&mut self, what: &'static str) -> Result<u64, HistogramError> {
        let bytes = self
            .buf
            .get(self.pos..self.pos + 8)
            .ok_or_else(|| self.damaged(what))?;
        let mut a = [0u8; 8];
        a.copy_from_slice(bytes);
        self.pos += 8;
        Ok(u64::from_le_bytes(a))
    }

    /// A canonical unsigned LEB128 varint (no needless trailing zero byte) that fits a u64,
    /// so that bytes decode only if encoding gives them back.
    fn varint(&mut self, what: &'static str) -> Result<u64, HistogramError> {
        let start = self.pos;
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8(what)?;
            if i == 9 && b > 1 {
                self.pos = start;
                return Err(self.damaged("varint beyond 64 bits"));
            }
            if i > 0 && b == 0 {
                self.pos = start;
                return Err(self.damaged("overlong varint"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        self.pos = start;
        Err(self.damaged("varint beyond 64 bits"))
    }

    fn i32(&mut self, what: &'static str) -> Result<i32, HistogramError> {
        let at = self.pos;
        let v = unzigzag(self.varint(what)?);
        i32::try_from(v).map_err(|_| HistogramError::Damaged {
            what: "value beyond 32 bits",
            at,
        })
    }

    /// A count of items each taking at least `min_bytes`, checked against the bytes left.
    fn len(&mut self, what: &'static str, min_bytes: usize) -> Result<usize, HistogramError> {
        let at = self.pos;
        let n = self.varint(what)?;
        let left = (self.buf.len() - self.pos) as u64;
        if n.checked_mul(min_bytes as u64)
            .is_none_or(|need| need > left)
        {
            return Err(HistogramError::Damaged {
                what: "count beyond the bytes left",
                at,
            });
        }
        Ok(n as usize)
    }

    fn spans(&mut self, n: usize) -> Result<Vec<Span>, HistogramError> {
        let mut spans = Vec::with_capacity(n);
        for _ in 0..n {
            let offset = self.i32("span offset")?;
            let at = self.pos;
            let length = u32::try_from(self.varint("span length")?).map_err(|_| {
                HistogramError::Damaged {
                    what: "span length beyond 32 bits",
                    at,
                }
            })?;
            spans.push(Span { offset, length });
        }
        Ok(spans)
    }

    fn deltas(&mut self, n: usize) -> Result<Vec<i64>, HistogramError> {
        (0..n)
            .map(|_| self.varint("bucket delta").map(unzigzag))
            .collect()
    }

    fn floats(&mut self, n: usize, what: &'static str) -> Result<Vec<f64>, HistogramError> {
        (0..n).map(|_| self.u64(what).map(f64::from_bits)).collect()
    }
}
