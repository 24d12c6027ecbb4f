//! A protobuf reader for `prometheus.WriteRequest` that borrows label bytes from the
//! decompressed buffer instead of allocating a `Vec` per label name and value (prost's
//! generated decoder did: allocation was a third of the remote-write CPU, docs/benchmarks.md).
//!
//! It accepts and refuses what prost's decoder for `proto.rs` does: unknown fields of every
//! wire type are skipped (groups included, nested at most [`DEPTH`] deep), a known field with
//! the wrong wire type is an error, the last occurrence of a scalar field wins, and every
//! length must fit in its enclosing message. The differential test in `decode.rs` holds it
//! to that.

/// How deep unknown groups may nest (prost's recursion limit).
pub(crate) const DEPTH: u32 = 100;

pub(crate) const VARINT: u8 = 0;
pub(crate) const FIXED64: u8 = 1;
pub(crate) const LEN: u8 = 2;
pub(crate) const START_GROUP: u8 = 3;
pub(crate) const END_GROUP: u8 = 4;
pub(crate) const FIXED32: u8 = 5;

/// Why a body is not a `WriteRequest`.
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
    /// More series, samples or labels than one request may hold ([`MAX_SERIES`],
    /// [`MAX_SAMPLES`], [`MAX_LABELS`]): the body may be well formed, but reading it could
    /// take gigabytes.
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

/// Reads fields off the front of a message's bytes (also used by the OTLP metrics reader).
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

/// One `TimeSeries` with at least one float sample: ranges into [`Parsed`]'s vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParsedSeries<'a> {
    /// Its position among the request's `timeseries`, for messages.
    pub(crate) index: usize,
    /// Its `Label` messages in [`Parsed::label_msgs`], not decoded yet ([`label`]).
    pub(crate) labels: (usize, usize),
    pub(crate) samples: (usize, usize),
    /// The bytes of its label fields when they are adjacent (as Prometheus encodes them:
    /// labels first), else empty. Equal bytes mean equal labels: the engine's key for the
    /// series. When they are all ASCII, every label name and value is ASCII, hence UTF-8.
    pub(crate) key: &'a [u8],
}

/// A `WriteRequest` read in place. Series without float samples are left out (their
/// labels too); their native histogram samples are counted. The `Label` messages are
/// framed but not decoded: [`label`] decodes them, for the series that need it.
#[derive(Debug, Default)]
pub(crate) struct Parsed<'a> {
    /// The `Label` messages of every series in `series`, in order.
    pub(crate) label_msgs: Vec<&'a [u8]>,
    pub(crate) samples: Vec<strata_engine::Sample>,
    pub(crate) series: Vec<ParsedSeries<'a>>,
    /// Native histogram samples (`TimeSeries.histograms` entries).
    pub(crate) histograms: u64,
}

/// `TimeSeries` one request may hold. A sample costs 16 bytes in memory and a series ~70
/// bytes before its labels, where the wire spends as few as 2 and 4 (snappy makes those
/// bytes smaller still): a 2.8 MB request of 15 M label-less samples once took the server
/// to 3.9 GB (`docs/benchmarks.md`, "Request bombs"). Prometheus sends at most
/// `max_samples_per_send` (default 2,000) samples per request, vmagent ~10,000.
pub(crate) const MAX_SERIES: usize = 500_000;
/// Float samples one request may hold.
pub(crate) const MAX_SAMPLES: usize = 2_000_000;
/// `Label` messages one request may hold, in series with samples.
pub(crate) const MAX_LABELS: usize = 10_000_000;

/// Reads a `WriteRequest`, all but the inside of its `Label` messages. Stops with
/// [`WireError::TooMany`] as soon as the request passes one of the limits above.
pub(crate) fn parse(raw: &[u8]) -> Result<Parsed<'_>, WireError> {
    let mut out = Parsed::default();
    let mut r = Reader { rest: raw };
    let mut index = 0;
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        if tag == 1 {
            if index == MAX_SERIES {
                return Err(WireError::TooMany {
                    what: "series",
                    limit: MAX_SERIES,
                });
            }
            expect("WriteRequest.timeseries", wire, LEN)?;
            let ts = r.len_delimited()?;
            out.timeseries(ts, index)?;
            index += 1;
        } else {
            r.skip(tag, wire, DEPTH)?;
        }
    }
    Ok(out)
}

impl<'a> Parsed<'a> {
    fn timeseries(&mut self, buf: &'a [u8], index: usize) -> Result<(), WireError> {
        let (l0, s0) = (self.label_msgs.len(), self.samples.len());
        let mut r = Reader { rest: buf };
        // Byte range of the label fields while they are adjacent; None once they are not.
        let mut span = Some((0, 0));
        while !r.is_empty() {
            let at = buf.len() - r.rest.len();
            let (tag, wire) = r.key()?;
            match tag {
                1 => {
                    expect("TimeSeries.labels", wire, LEN)?;
                    if self.label_msgs.len() == MAX_LABELS {
                        return Err(WireError::TooMany {
                            what: "labels",
                            limit: MAX_LABELS,
                        });
                    }
                    self.label_msgs.push(r.len_delimited()?);
                    let end = buf.len() - r.rest.len();
                    span = match span {
                        Some((a, b)) if a == b => Some((at, end)),
                        Some((a, b)) if b == at => Some((a, end)),
                        _ => None,
                    };
                }
                2 => {
                    expect("TimeSeries.samples", wire, LEN)?;
                    if self.samples.len() == MAX_SAMPLES {
                        return Err(WireError::TooMany {
                            what: "samples",
                            limit: MAX_SAMPLES,
                        });
                    }
                    self.samples.push(sample(r.len_delimited()?)?);
                }
                4 => {
                    expect("TimeSeries.histograms", wire, LEN)?;
                    histogram(r.len_delimited()?)?;
                    self.histograms += 1;
                }
                _ => r.skip(tag, wire, DEPTH - 1)?,
            }
        }
        if self.samples.len() == s0 {
            // Left out, but a malformed label still makes the body invalid (as for prost).
            for msg in self.label_msgs.drain(l0..) {
                label(msg)?;
            }
        } else {
            self.series.push(ParsedSeries {
                index,
                labels: (l0, self.label_msgs.len()),
                samples: (s0, self.samples.len()),
                key: span.map_or(&[][..], |(a, b)| &buf[a..b]),
            });
        }
        Ok(())
    }
}

/// Decodes a `Label` message: (name, value) bytes.
pub(crate) fn label(buf: &[u8]) -> Result<(&[u8], &[u8]), WireError> {
    let (mut name, mut value): (&[u8], &[u8]) = (&[], &[]);
    let mut r = Reader { rest: buf };
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        match tag {
            1 => {
                expect("Label.name", wire, LEN)?;
                name = r.len_delimited()?;
            }
            2 => {
                expect("Label.value", wire, LEN)?;
                value = r.len_delimited()?;
            }
            _ => r.skip(tag, wire, DEPTH - 2)?,
        }
    }
    Ok((name, value))
}

fn sample(buf: &[u8]) -> Result<strata_engine::Sample, WireError> {
    let mut s = strata_engine::Sample { ts: 0, value: 0.0 };
    let mut r = Reader { rest: buf };
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        match tag {
            1 => {
                expect("Sample.value", wire, FIXED64)?;
                s.value = f64::from_bits(r.fixed64()?);
            }
            2 => {
                expect("Sample.timestamp", wire, VARINT)?;
                // int64 on the wire: two's complement in a 64-bit varint.
                s.ts = r.varint()? as i64;
            }
            _ => r.skip(tag, wire, DEPTH - 2)?,
        }
    }
    Ok(s)
}

/// Checks a native histogram's framing (only its timestamp field is declared).
fn histogram(buf: &[u8]) -> Result<(), WireError> {
    let mut r = Reader { rest: buf };
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        if tag == 15 {
            expect("Histogram.timestamp", wire, VARINT)?;
            r.varint()?;
        } else {
            r.skip(tag, wire, DEPTH - 2)?;
        }
    }
    Ok(())
}
