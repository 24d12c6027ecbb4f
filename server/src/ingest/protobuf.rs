//! A protobuf reader over borrowed bytes, shared by the in-place readers of remote-write
//! (`remote_write/wire.rs`) and OTLP (`otlp/metrics/wire.rs`, `otlp/records/wire.rs`,
//! `otlp/request_items.rs`): fields are read off the front of a message without copying
//! it, and values borrow from it.
//!
//! It accepts and refuses what prost's decoder does: unknown fields of every wire type are
//! skipped (groups included, nested at most [`DEPTH`] deep), a known field with the wrong
//! wire type is an error ([`expect`]), and every length must fit in its enclosing message.

use strata_engine::Span;

/// How deep unknown groups may nest (prost's recursion limit).
pub(crate) const DEPTH: u32 = 100;

pub(crate) const VARINT: u8 = 0;
pub(crate) const FIXED64: u8 = 1;
pub(crate) const LEN: u8 = 2;
pub(crate) const START_GROUP: u8 = 3;
pub(crate) const END_GROUP: u8 = 4;
pub(crate) const FIXED32: u8 = 5;

/// Why a body is not the protobuf message it should be.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// A varint longer than 10 bytes, overflowing 64 bits, or cut short.
    #[error("invalid varint")]
    Varint,
    /// A field key over 32 bits.
    #[error("invalid key value: {0}")]
    Key(u64),
    /// Wire types 6 and 7 do not exist.
    #[error("invalid wire type value: {0}")]
    WireTypeValue(u8),
    /// Field number 0.
    #[error("invalid tag value: 0")]
    Tag,
    /// A length or fixed-size value past the end of its message.
    #[error("buffer underflow")]
    Underflow,
    /// An end-group without its start, or for another field.
    #[error("unexpected end group tag")]
    EndGroup,
    /// Groups nested deeper than [`DEPTH`].
    #[error("recursion limit reached")]
    Recursion,
    /// More items than one request may hold (remote-write's series, samples and labels,
    /// `remote_write/wire.rs`): the body may be well formed, but reading it could take
    /// gigabytes.
    #[error("more than {limit} {what} in one request")]
    TooMany {
        /// `series`, `samples` or `labels`.
        what: &'static str,
        /// The limit passed.
        limit: usize,
    },
    /// A known field with another wire type than its declared one.
    #[error("{field}: invalid wire type {got} (expected {want})")]
    WireType {
        /// `Message.field`.
        field: &'static str,
        /// The wire type found.
        got: u8,
        /// The declared type's wire type.
        want: u8,
    },
}

/// Reads fields off the front of a message's bytes.
pub(crate) struct Reader<'a> {
    /// What is left of the message.
    pub(crate) rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    #[inline]
    pub(crate) fn varint(&mut self) -> Result<u64, WireError> {
        let b = self.rest;
        if let Some(&first) = b.first()
            && first < 0x80
        {
            self.rest = &b[1..];
            return Ok(u64::from(first));
        }
        let mut v = 0u64;
        for (i, &byte) in b.iter().take(10).enumerate() {
            v |= u64::from(byte & 0x7F) << (7 * i);
            if byte < 0x80 {
                // The 10th byte holds only bit 63.
                if i == 9 && byte >= 2 {
                    return Err(WireError::Varint);
                }
                self.rest = &b[i + 1..];
                return Ok(v);
            }
        }
        Err(WireError::Varint)
    }

    /// A field key: (field number, wire type).
    #[inline]
    pub(crate) fn key(&mut self) -> Result<(u32, u8), WireError> {
        let key = self.varint()?;
        let key32 = u32::try_from(key).map_err(|_| WireError::Key(key))?;
        let wire = (key32 & 7) as u8;
        if wire > FIXED32 {
            return Err(WireError::WireTypeValue(wire));
        }
        let tag = key32 >> 3;
        if tag == 0 {
            return Err(WireError::Tag);
        }
        Ok((tag, wire))
    }

    #[inline]
    pub(crate) fn take(&mut self, n: u64) -> Result<&'a [u8], WireError> {
        let n = usize::try_from(n).map_err(|_| WireError::Underflow)?;
        let (head, rest) = self.rest.split_at_checked(n).ok_or(WireError::Underflow)?;
        self.rest = rest;
        Ok(head)
    }

    #[inline]
    pub(crate) fn len_delimited(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.varint()?;
        self.take(n)
    }

    pub(crate) fn fixed64(&mut self) -> Result<u64, WireError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// Skips the value of an unknown field.
    pub(crate) fn skip(&mut self, tag: u32, wire: u8, depth: u32) -> Result<(), WireError> {
        if depth == 0 {
            return Err(WireError::Recursion);
        }
        match wire {
            VARINT => self.varint().map(drop),
            FIXED64 => self.take(8).map(drop),
            LEN => self.len_delimited().map(drop),
            FIXED32 => self.take(4).map(drop),
            START_GROUP => loop {
                let (inner, w) = self.key()?;
                if w == END_GROUP {
                    return if inner == tag {
                        Ok(())
                    } else {
                        Err(WireError::EndGroup)
                    };
                }
                self.skip(inner, w, depth - 1)?;
            },
            _ => Err(WireError::EndGroup),
        }
    }
}

/// A known field's wire type must be the declared one.
pub(crate) fn expect(field: &'static str, got: u8, want: u8) -> Result<(), WireError> {
    if got == want {
        Ok(())
    } else {
        Err(WireError::WireType { field, got, want })
    }
}

/// Counts of what a request's histograms (remote-write's, a scrape's protobuf body) hold, against [`MAX_BUCKETS`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Budget {
    /// Buckets, spans and custom bounds read so far.
    pub(crate) buckets: usize,
}

/// Buckets, spans and custom bounds all the histograms of one request may hold together.
/// Each costs 8 bytes in memory where the wire may spend 1 (a packed sint64 delta), so
/// unbounded they are the request-bomb class of `docs/benchmarks-history.md`. A Prometheus
/// histogram at schema 8 with a bucket limit of 160 holds at most ~160.
pub(crate) const MAX_BUCKETS: usize = 4_000_000;

/// Protobuf's zigzag decoding of a `sint32`.
pub(crate) fn zigzag32(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}

/// Protobuf's zigzag decoding of a `sint64`.
pub(crate) fn zigzag64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

pub(crate) fn take(budget: &mut Budget, n: usize) -> Result<(), WireError> {
    budget.buckets += n;
    if budget.buckets > MAX_BUCKETS {
        return Err(WireError::TooMany {
            what: "histogram buckets",
            limit: MAX_BUCKETS,
        });
    }
    Ok(())
}

/// A `BucketSpan`.
pub(crate) fn span(buf: &[u8], depth: u32) -> Result<Span, WireError> {
    let mut s = Span::default();
    let mut r = Reader { rest: buf };
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        match tag {
            1 => {
                expect("BucketSpan.offset", wire, VARINT)?;
                s.offset = zigzag32(r.varint()? as u32);
            }
            2 => {
                expect("BucketSpan.length", wire, VARINT)?;
                s.length = r.varint()? as u32;
            }
            _ => r.skip(tag, wire, depth)?,
        }
    }
    Ok(s)
}

/// A repeated `sint64`: packed (one length-delimited field) or one varint per field.
pub(crate) fn sint64s(
    field: &'static str,
    r: &mut Reader<'_>,
    wire: u8,
    out: &mut Vec<i64>,
    budget: &mut Budget,
) -> Result<(), WireError> {
    if wire == VARINT {
        take(budget, 1)?;
        out.push(zigzag64(r.varint()?));
        return Ok(());
    }
    expect(field, wire, LEN)?;
    let mut packed = Reader {
        rest: r.len_delimited()?,
    };
    while !packed.is_empty() {
        take(budget, 1)?;
        out.push(zigzag64(packed.varint()?));
    }
    Ok(())
}

/// A repeated `double`: packed (a multiple of 8 bytes) or one fixed64 per field.
pub(crate) fn doubles(
    field: &'static str,
    r: &mut Reader<'_>,
    wire: u8,
    out: &mut Vec<f64>,
    budget: &mut Budget,
) -> Result<(), WireError> {
    if wire == FIXED64 {
        take(budget, 1)?;
        out.push(f64::from_bits(r.fixed64()?));
        return Ok(());
    }
    expect(field, wire, LEN)?;
    let bytes = r.len_delimited()?;
    if bytes.len() % 8 != 0 {
        return Err(WireError::Underflow);
    }
    take(budget, bytes.len() / 8)?;
    out.extend(bytes.chunks_exact(8).map(|c| {
        let mut a = [0u8; 8];
        a.copy_from_slice(c);
        f64::from_bits(u64::from_le_bytes(a))
    }));
    Ok(())
}
