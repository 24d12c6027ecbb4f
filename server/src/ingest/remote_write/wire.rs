//! A protobuf reader for `prometheus.WriteRequest` that borrows label bytes from the
//! decompressed buffer instead of allocating a `Vec` per label name and value (prost's
//! generated decoder did: allocation was a third of the remote-write CPU, docs/benchmarks-history.md).
//!
//! It accepts and refuses what prost's decoder for `proto.rs` does (the reader,
//! [`crate::ingest::protobuf`], skips unknown fields and checks wire types and lengths as
//! prost does), and the last occurrence of a scalar field wins. The differential test in
//! `decode.rs` holds it to that.

use super::histogram::{self, Budget, WireHistogram};
use crate::ingest::protobuf::{DEPTH, FIXED64, LEN, Reader, VARINT, WireError, expect};

/// One `TimeSeries` with at least one float or histogram sample: ranges into [`Parsed`]'s
/// vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParsedSeries<'a> {
    /// Its position among the request's `timeseries`, for messages.
    pub(crate) index: usize,
    /// Its `Label` messages in [`Parsed::label_msgs`], not decoded yet ([`label`]).
    pub(crate) labels: (usize, usize),
    pub(crate) samples: (usize, usize),
    /// Its native histogram samples in [`Parsed::histograms`].
    pub(crate) histograms: (usize, usize),
    /// The bytes of its label fields when they are adjacent (as Prometheus encodes them:
    /// labels first), else empty. Equal bytes mean equal labels: the engine's key for the
    /// series. When they are all ASCII, every label name and value is ASCII, hence UTF-8.
    pub(crate) key: &'a [u8],
}

/// A `WriteRequest` read in place. Series without float or histogram samples are left out
/// (their labels too). The `Label` messages are
/// framed but not decoded: [`label`] decodes them, for the series that need it.
#[derive(Debug, Default)]
pub(crate) struct Parsed<'a> {
    /// The `Label` messages of every series in `series`, in order.
    pub(crate) label_msgs: Vec<&'a [u8]>,
    pub(crate) samples: Vec<strata_engine::Sample>,
    pub(crate) series: Vec<ParsedSeries<'a>>,
    /// Native histogram samples (`TimeSeries.histograms` entries).
    pub(crate) histograms: Vec<WireHistogram>,
    /// What the histograms hold, against [`crate::ingest::protobuf::MAX_BUCKETS`].
    budget: Budget,
    /// Series with exemplars (with or without samples: Prometheus sends a series' samples
    /// and its exemplars in separate `TimeSeries`).
    pub(crate) exemplars: Vec<ParsedExemplars<'a>>,
    /// Exemplar messages in `exemplars`, for the limit.
    exemplar_count: usize,
    /// `WriteRequest.metadata` entries, in order.
    pub(crate) metadata: Vec<WireMetadata<'a>>,
}

/// A `MetricMetadata` message: the type's number and the text fields' bytes (checked for
/// UTF-8 by the caller, entry by entry).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct WireMetadata<'a> {
    pub(crate) kind: i32,
    pub(crate) family: &'a [u8],
    pub(crate) help: &'a [u8],
    pub(crate) unit: &'a [u8],
}

/// One `TimeSeries` with exemplars: its `Label` and `Exemplar` messages, not decoded yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ParsedExemplars<'a> {
    /// Its position among the request's `timeseries`, for messages.
    pub(crate) index: usize,
    pub(crate) labels: Vec<&'a [u8]>,
    pub(crate) exemplars: Vec<&'a [u8]>,
}

/// `TimeSeries` one request may hold. A sample costs 16 bytes in memory and a series ~70
/// bytes before its labels, where the wire spends as few as 2 and 4 (snappy makes those
/// bytes smaller still): a 2.8 MB request of 15 M label-less samples once took the server
/// to 3.9 GB (`docs/benchmarks-history.md`, "Request bombs"). Prometheus sends at most
/// `max_samples_per_send` (default 2,000) samples per request, vmagent ~10,000.
pub(crate) const MAX_SERIES: usize = 500_000;
/// Float samples one request may hold.
pub(crate) const MAX_SAMPLES: usize = 2_000_000;
/// `Label` messages one request may hold, in series with samples.
pub(crate) const MAX_LABELS: usize = 10_000_000;
/// Exemplars one request may hold.
pub(crate) const MAX_EXEMPLARS: usize = 500_000;
/// Metadata entries one request may hold (Prometheus sends at most
/// `metadata_config.max_samples_per_send`, default 2,000).
pub(crate) const MAX_METADATA: usize = 500_000;
/// Native histogram samples one request may hold (their buckets are capped apart,
/// [`crate::ingest::protobuf::MAX_BUCKETS`]). A histogram costs ~150 bytes in memory, 2 on the wire.
pub(crate) const MAX_HISTOGRAMS: usize = 200_000;

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
        } else if tag == 3 {
            if out.metadata.len() == MAX_METADATA {
                return Err(WireError::TooMany {
                    what: "metadata entries",
                    limit: MAX_METADATA,
                });
            }
            expect("WriteRequest.metadata", wire, LEN)?;
            out.metadata.push(metric_metadata(r.len_delimited()?)?);
        } else {
            r.skip(tag, wire, DEPTH)?;
        }
    }
    Ok(out)
}

impl<'a> Parsed<'a> {
    fn timeseries(&mut self, buf: &'a [u8], index: usize) -> Result<(), WireError> {
        let (l0, s0, h0) = (
            self.label_msgs.len(),
            self.samples.len(),
            self.histograms.len(),
        );
        let mut exemplars = Vec::new();
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
                3 => {
                    expect("TimeSeries.exemplars", wire, LEN)?;
                    if self.exemplar_count == MAX_EXEMPLARS {
                        return Err(WireError::TooMany {
                            what: "exemplars",
                            limit: MAX_EXEMPLARS,
                        });
                    }
                    let msg = r.len_delimited()?;
                    exemplar(msg)?;
                    exemplars.push(msg);
                    self.exemplar_count += 1;
                }
                4 => {
                    expect("TimeSeries.histograms", wire, LEN)?;
                    if self.histograms.len() == MAX_HISTOGRAMS {
                        return Err(WireError::TooMany {
                            what: "histograms",
                            limit: MAX_HISTOGRAMS,
                        });
                    }
                    let h = histogram::histogram(
                        r.len_delimited()?,
                        false,
                        DEPTH - 2,
                        &mut self.budget,
                    )?;
                    self.histograms.push(h);
                }
                _ => r.skip(tag, wire, DEPTH - 1)?,
            }
        }
        if !exemplars.is_empty() {
            self.exemplars.push(ParsedExemplars {
                index,
                labels: self.label_msgs[l0..].to_vec(),
                exemplars,
            });
        }
        if self.samples.len() == s0 && self.histograms.len() == h0 {
            // Left out, but a malformed label still makes the body invalid (as for prost).
            for msg in self.label_msgs.drain(l0..) {
                label(msg)?;
            }
        } else {
            self.series.push(ParsedSeries {
                index,
                labels: (l0, self.label_msgs.len()),
                samples: (s0, self.samples.len()),
                histograms: (h0, self.histograms.len()),
                key: span.map_or(&[][..], |(a, b)| &buf[a..b]),
            });
        }
        Ok(())
    }
}

/// Decodes a `MetricMetadata` message (the last occurrence of a field wins, as prost's).
fn metric_metadata(buf: &[u8]) -> Result<WireMetadata<'_>, WireError> {
    let mut m = WireMetadata::default();
    let mut r = Reader { rest: buf };
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        match tag {
            1 => {
                expect("MetricMetadata.type", wire, VARINT)?;
                // int32 on the wire: prost keeps the low 32 bits.
                m.kind = r.varint()? as i32;
            }
            2 => {
                expect("MetricMetadata.metric_family_name", wire, LEN)?;
                m.family = r.len_delimited()?;
            }
            4 => {
                expect("MetricMetadata.help", wire, LEN)?;
                m.help = r.len_delimited()?;
            }
            5 => {
                expect("MetricMetadata.unit", wire, LEN)?;
                m.unit = r.len_delimited()?;
            }
            _ => r.skip(tag, wire, DEPTH - 1)?,
        }
    }
    Ok(m)
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

/// Decodes an `Exemplar` message: its `Label` messages (framed, not decoded), value and
/// timestamp (ms).
pub(crate) fn exemplar(buf: &[u8]) -> Result<(Vec<&[u8]>, f64, i64), WireError> {
    let (mut labels, mut value, mut ts) = (Vec::new(), 0.0, 0);
    let mut r = Reader { rest: buf };
    while !r.is_empty() {
        let (tag, wire) = r.key()?;
        match tag {
            1 => {
                expect("Exemplar.labels", wire, LEN)?;
                let msg = r.len_delimited()?;
                label(msg)?;
                labels.push(msg);
            }
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
    Ok((labels, value, ts))
}
