//! A protobuf reader for `io.prometheus.write.v2.Request` over the decompressed buffer:
//! symbols borrowed (each checked for UTF-8 once, however many series use it), references
//! kept as numbers, histograms read by the 1.0 reader ([`super::super::histogram`]).
//!
//! It accepts and refuses what prost's decoder for `proto.rs` does (unknown fields skipped,
//! wire types and lengths checked, repeated `uint32`s packed or not, the last of a scalar
//! field winning, the metadata message's occurrences merged); the differential test in
//! `decode_tests.rs` holds it to that. References are not resolved here.

use strata_engine::Sample;

use super::super::histogram::{self, Budget, WireHistogram};
use super::super::wire::{MAX_EXEMPLARS, MAX_HISTOGRAMS, MAX_LABELS, MAX_SAMPLES, MAX_SERIES};
use crate::ingest::protobuf::{DEPTH, FIXED64, LEN, Reader, VARINT, WireError, expect};

/// Symbols one request may hold.
pub(crate) const MAX_SYMBOLS: usize = 10_000_000;
/// Label references one request may hold (two per label), in one packed field or in all.
pub(crate) const MAX_REFS: usize = 2 * MAX_LABELS;

/// One `TimeSeries`: ranges into [`Parsed`]'s vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ParsedSeries {
    /// Its position among the request's `timeseries`, for messages.
    pub(crate) index: usize,
    /// Its `labels_refs` in [`Parsed::refs`].
    pub(crate) refs: (usize, usize),
    pub(crate) samples: (usize, usize),
    pub(crate) histograms: (usize, usize),
    pub(crate) exemplars: (usize, usize),
    /// Its metadata, when the field is present.
    pub(crate) metadata: Option<Metadata>,
}

/// `Metadata`: the type's number and the help and unit references.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Metadata {
    pub(crate) kind: i32,
    pub(crate) help_ref: u32,
    pub(crate) unit_ref: u32,
}

/// An `Exemplar`: its label references in [`Parsed::refs`], value and timestamp.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ParsedExemplar {
    pub(crate) refs: (usize, usize),
    pub(crate) value: f64,
    pub(crate) ts: i64,
}

/// A `Request` read in place.
#[derive(Debug, Default)]
pub(crate) struct Parsed<'a> {
    pub(crate) symbols: Vec<&'a str>,
    /// Every `labels_refs` of the series and exemplars.
    pub(crate) refs: Vec<u32>,
    pub(crate) samples: Vec<Sample>,
    /// Samples and histograms with a start timestamp.
    pub(crate) start_timestamps: u64,
    /// The start timestamp of each of `samples` (0: none); empty until a sample has one.
    pub(crate) sample_starts: Vec<i64>,
    pub(crate) histograms: Vec<WireHistogram>,
    pub(crate) exemplars: Vec<ParsedExemplar>,
    pub(crate) series: Vec<ParsedSeries>,
    budget: Budget,
}

/// Reads a `Request`. Stops with [`WireError::TooMany`] as soon as the request passes one
/// of the 1.0 limits (`remote_write/wire.rs`) or [`MAX_SYMBOLS`], and with
/// [`V2Error::Symbol`] at a symbol that is not UTF-8 (prost's decoder refuses it too).
pub(crate) fn parse(raw: &[u8]) -> Result<Parsed<'_>, V2Error> {
    let mut out = Parsed::default();
    let mut r = Reader { rest: raw };
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        match tag {
            4 => {
                expect("Request.symbols", wire, LEN)?;
                if out.symbols.len() == MAX_SYMBOLS {
                    return Err(too_many("symbols", MAX_SYMBOLS));
                }
                let bytes = r.len_delimited()?;
                let s = std::str::from_utf8(bytes).map_err(|_| V2Error::Symbol {
                    index: out.symbols.len(),
                })?;
                out.symbols.push(s);
            }
            5 => {
                expect("Request.timeseries", wire, LEN)?;
                if out.series.len() == MAX_SERIES {
                    return Err(too_many("series", MAX_SERIES));
                }
                let index = out.series.len();
                out.timeseries(r.len_delimited()?, index)?;
            }
            _ => r.skip(tag, wire, DEPTH)?,
        }
    }
    Ok(out)
}

/// Why a body is not a `Request` this reader takes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum V2Error {
    /// Not protobuf, or past a limit.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// A symbol that is not UTF-8.
    #[error("symbols[{index}] is not valid UTF-8")]
    Symbol {
        /// Its position in the table.
        index: usize,
    },
}

fn too_many(what: &'static str, limit: usize) -> V2Error {
    V2Error::Wire(WireError::TooMany { what, limit })
}

impl Parsed<'_> {
    fn timeseries(&mut self, buf: &[u8], index: usize) -> Result<(), V2Error> {
        let mut s = ParsedSeries {
            index,
            ..ParsedSeries::default()
        };
        let (r0, s0, h0) = (self.refs.len(), self.samples.len(), self.histograms.len());
        let e0 = self.exemplars.len();
        // Exemplar refs are read into a scratch list: they follow the series' own refs.
        let mut exemplar_refs = Vec::new();
        let mut exemplars = Vec::new();
        let mut r = Reader { rest: buf };
        while !r.is_empty() {
            let (tag, wire) = r.key()?;
            match tag {
                1 => uint32s(
                    "TimeSeries.labels_refs",
                    &mut r,
                    wire,
                    &mut self.refs,
                    MAX_REFS,
                )?,
                2 => {
                    expect("TimeSeries.samples", wire, LEN)?;
                    if self.samples.len() == MAX_SAMPLES {
                        return Err(too_many("samples", MAX_SAMPLES));
                    }
                    let (sample, start) = sample(r.len_delimited()?)?;
                    // Kept from the first sample with one on (earlier ones get 0).
                    if start != 0 || !self.sample_starts.is_empty() {
                        self.sample_starts.resize(self.samples.len(), 0);
                        self.sample_starts.push(start);
                    }
                    self.samples.push(sample);
                    self.start_timestamps += u64::from(start != 0);
                }
                3 => {
                    expect("TimeSeries.histograms", wire, LEN)?;
                    if self.histograms.len() == MAX_HISTOGRAMS {
                        return Err(too_many("histograms", MAX_HISTOGRAMS));
                    }
                    let h = histogram::histogram(
                        r.len_delimited()?,
                        true,
                        DEPTH - 2,
                        &mut self.budget,
                    )?;
                    self.start_timestamps += u64::from(h.start_ts != 0);
                    self.histograms.push(h);
                }
                4 => {
                    expect("TimeSeries.exemplars", wire, LEN)?;
                    if self.exemplars.len() + exemplars.len() == MAX_EXEMPLARS {
                        return Err(too_many("exemplars", MAX_EXEMPLARS));
                    }
                    let a = exemplar_refs.len();
                    let (value, ts) = exemplar(r.len_delimited()?, &mut exemplar_refs)?;
                    exemplars.push(ParsedExemplar {
                        refs: (a, exemplar_refs.len()),
                        value,
                        ts,
                    });
                }
                5 => {
                    expect("TimeSeries.metadata", wire, LEN)?;
                    let m = s.metadata.get_or_insert_with(Metadata::default);
                    metadata(r.len_delimited()?, m)?;
                }
                _ => r.skip(tag, wire, DEPTH - 1)?,
            }
            if self.refs.len() + exemplar_refs.len() > MAX_REFS {
                return Err(too_many("label references", MAX_REFS));
            }
        }
        let base = self.refs.len();
        self.refs.extend_from_slice(&exemplar_refs);
        self.exemplars
            .extend(exemplars.into_iter().map(|e| ParsedExemplar {
                refs: (base + e.refs.0, base + e.refs.1),
                ..e
            }));
        s.refs = (r0, base);
        s.samples = (s0, self.samples.len());
        s.histograms = (h0, self.histograms.len());
        s.exemplars = (e0, self.exemplars.len());
        self.series.push(s);
        Ok(())
    }
}

/// A repeated `uint32`: packed (one length-delimited field) or one varint per field.
fn uint32s(
    field: &'static str,
    r: &mut Reader<'_>,
    wire: u8,
    out: &mut Vec<u32>,
    limit: usize,
) -> Result<(), WireError> {
    let full = |out: &Vec<u32>| {
        if out.len() >= limit {
            Err(WireError::TooMany {
                what: "label references",
                limit,
            })
        } else {
            Ok(())
        }
    };
    if wire == VARINT {
        full(out)?;
        out.push(r.varint()? as u32);
        return Ok(());
    }
    expect(field, wire, LEN)?;
    let mut packed = Reader {
        rest: r.len_delimited()?,
    };
    while !packed.is_empty() {
        full(out)?;
        out.push(packed.varint()? as u32);
    }
    Ok(())
}

/// A `Sample`: the sample, and its start timestamp.
fn sample(buf: &[u8]) -> Result<(Sample, i64), WireError> {
    let (mut s, mut start) = (Sample { ts: 0, value: 0.0 }, 0);
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
                s.ts = r.varint()? as i64;
            }
            3 => {
                expect("Sample.start_timestamp", wire, VARINT)?;
                start = r.varint()? as i64;
            }
            _ => r.skip(tag, wire, DEPTH - 2)?,
        }
    }
    Ok((s, start))
}

/// An `Exemplar`: its refs appended to `refs`, its value and timestamp.
fn exemplar(buf: &[u8], refs: &mut Vec<u32>) -> Result<(f64, i64), WireError> {
    let (mut value, mut ts) = (0.0, 0);
    let mut r = Reader { rest: buf };
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        match tag {
            1 => uint32s("Exemplar.labels_refs", &mut r, wire, refs, MAX_REFS)?,
            2 => {
                expect("Exemplar.value", wire, FIXED64)?;
                value = f64::from_bits(r.fixed64()?);
            }
            3 => {
                expect("Exemplar.timestamp", wire, VARINT)?;
                ts = r.varint()? as i64;
            }
            _ => r.skip(tag, wire, DEPTH - 2)?,
        }
    }
    Ok((value, ts))
}

/// A `Metadata` occurrence, merged into `m` (a message field met twice merges).
fn metadata(buf: &[u8], m: &mut Metadata) -> Result<(), WireError> {
    let mut r = Reader { rest: buf };
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        match tag {
            1 => {
                expect("Metadata.type", wire, VARINT)?;
                m.kind = r.varint()? as i32;
            }
            3 => {
                expect("Metadata.help_ref", wire, VARINT)?;
                m.help_ref = r.varint()? as u32;
            }
            4 => {
                expect("Metadata.unit_ref", wire, VARINT)?;
                m.unit_ref = r.varint()? as u32;
            }
            _ => r.skip(tag, wire, DEPTH - 2)?,
        }
    }
    Ok(())
}
