//! From a remote-write request body (snappy block format around a protobuf
//! `WriteRequest`) to engine series, refusing oversized and malformed input with a message.
//!
//! The server's path ([`decompress`], then [`Batch::parse`]) borrows every label name and
//! value from the decompressed buffer: no allocation per label or series. [`decode`] gives
//! the same result owned, for the fuzz harness and embedders.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use strata_engine::{
    Exemplar, ExemplarOutcome, ExemplarReject, FamilyMetadata, HistogramSample, KeyedSeries,
    KnownSeries, Metadata, MetadataOutcome, MetadataReject, MetricType, Sample, SeriesExemplars,
    SeriesHistograms, SeriesSamples,
};

use super::wire::{self, ParsedSeries};
use crate::http::error::ApiError;
use crate::ingest::protobuf::WireError;

/// A decoded request: the series to store, and the native histogram samples refused.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    /// Series with at least one float sample.
    pub series: Vec<SeriesSamples>,
    /// Total float samples in `series`.
    pub samples: u64,
    /// Series with at least one native histogram sample (that decoded).
    pub histograms: Vec<SeriesHistograms>,
    /// Native histogram samples refused while decoding ([`Refused`]).
    pub histograms_refused: u64,
    /// Metric metadata entries that decoded.
    pub metadata: Vec<FamilyMetadata>,
    /// Metadata entries refused while decoding (a type outside the enum, text that is not
    /// UTF-8).
    pub metadata_refused: u64,
}

/// Samples refused while decoding, for one reason, to report with the engine's refusals:
/// how many, and the first one's reason.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Refused {
    /// How many.
    pub count: u64,
    /// The first one's reason, naming its series.
    pub first: Option<String>,
}

/// A decoded request whose labels borrow from the decompressed buffer.
#[derive(Debug, Default)]
pub struct Batch<'a> {
    /// Labels of the series whose labels were decoded (not the known ones).
    labels: Vec<(&'a str, &'a str)>,
    /// The samples the series' ranges point into: 1.0's own, or a 2.0 request's (borrowed,
    /// refused series' samples left in place and unreferenced).
    samples: Cow<'a, [Sample]>,
    /// Samples referenced by a series (what [`Batch::samples`] counts).
    sample_count: u64,
    series: Vec<BatchSeries<'a>>,
    /// The native histogram samples that decoded, by series ([`BatchSeries::histograms`]).
    histograms: Vec<HistogramSample>,
    /// Samples (float or histogram) refused while decoding, by self-metrics reason:
    /// [`INVALID_HISTOGRAM`] in both versions, and for 2.0 [`INVALID_REFS`] and
    /// [`EMPTY_SERIES`].
    pub refused: BTreeMap<&'static str, Refused>,
    /// Metric metadata: 1.0's `WriteRequest.metadata`, 2.0's per-series `metadata` (by
    /// the series' `__name__`, each distinct entry once).
    pub metadata: Vec<FamilyMetadata>,
    /// Metadata entries refused while decoding, to count and report with the engine's
    /// refusals.
    pub metadata_refused: MetadataOutcome,
    /// Remote-write 2.0: samples and histograms with a start timestamp.
    pub start_timestamps: u64,
    /// Remote-write 2.0: the start timestamp of each of `samples` (0: none), or empty when
    /// the request has none; the engine stores a zero sample at one where it fits
    /// ([`KeyedSeries::sample_starts`]).
    sample_starts: Cow<'a, [i64]>,
    /// The same for `histograms`.
    histogram_starts: Vec<i64>,
    /// The exemplars of the request, by series (`TimeSeries.exemplars`).
    pub exemplars: Vec<SeriesExemplars>,
    /// Exemplars refused while decoding (labels that are not UTF-8), to report with the
    /// engine's refusals.
    pub exemplars_refused: ExemplarOutcome,
}

/// Self-metrics reason of a histogram refused while decoding (the engine's
/// `invalid_histogram`).
pub(crate) const INVALID_HISTOGRAM: &str = "invalid_histogram";
/// Self-metrics reason of the samples of a remote-write 2.0 series whose label or metadata
/// references are odd in number or outside the symbols table.
pub(crate) const INVALID_REFS: &str = "invalid_symbol_refs";
/// Self-metrics reason of a remote-write 2.0 series without samples or histograms (counted
/// as one).
pub(crate) const EMPTY_SERIES: &str = "empty_series";

impl Refused {
    /// Adds `n` refusals; `why` gives the first one's reason.
    pub(crate) fn add(&mut self, n: u64, why: impl FnOnce() -> String) {
        self.count += n;
        if self.first.is_none() {
            self.first = Some(why());
        }
    }
}

/// One series of a [`Batch`]: ranges into its vectors.
#[derive(Debug, Clone, Copy)]
pub(super) struct BatchSeries<'a> {
    /// Empty for a known series.
    pub(super) labels: (usize, usize),
    pub(super) samples: (usize, usize),
    pub(super) histograms: (usize, usize),
    /// The raw bytes of its label fields (empty when they are not adjacent, or not needed:
    /// a known series of a 2.0 request).
    pub(super) key: &'a [u8],
    /// Remembered by its labels, not `key` (2.0: see [`strata_engine::Engine::known_series_symbols`]).
    pub(super) by_symbols: bool,
    pub(super) known: Option<KnownSeries>,
}

impl<'a> Batch<'a> {
    /// Decodes an uncompressed `WriteRequest`, checking that every label name and value of
    /// a series with samples is UTF-8 (after the whole body has decoded, so a protobuf
    /// error is reported first wherever it is).
    pub fn parse(raw: &'a [u8]) -> Result<Self, ApiError> {
        Self::parse_known(raw, |keys| vec![None; keys.len()])
    }

    /// [`Batch::parse`], decoding labels only for the series `known` (given every series'
    /// raw label bytes) does not resolve: equal bytes decoded and passed the checks before.
    pub fn parse_known(
        raw: &'a [u8],
        known: impl FnOnce(&[&[u8]]) -> Vec<Option<KnownSeries>>,
    ) -> Result<Self, ApiError> {
        let invalid = |e: WireError| match e {
            WireError::TooMany { .. } => ApiError::PayloadTooLarge(format!(
                "{e}: send smaller requests (Prometheus: queue_config.max_samples_per_send)"
            )),
            _ => ApiError::BadRequest(format!(
                "body is not a valid prometheus.WriteRequest protobuf: {e}"
            )),
        };
        let parsed = wire::parse(raw).map_err(invalid)?;
        let keys: Vec<&[u8]> = parsed.series.iter().map(|ps| ps.key).collect();
        let mut found = known(&keys);
        found.resize(keys.len(), None);
        // Protobuf errors first, wherever they are; then UTF-8.
        let mut pairs = Vec::with_capacity(parsed.label_msgs.len());
        for (ps, k) in parsed.series.iter().zip(&found) {
            if k.is_none() {
                for msg in &parsed.label_msgs[ps.labels.0..ps.labels.1] {
                    pairs.push(wire::label(msg).map_err(invalid)?);
                }
            }
        }
        let mut labels = Vec::with_capacity(pairs.len());
        let mut series = Vec::with_capacity(parsed.series.len());
        let mut next = pairs.iter();
        let mut histograms = Vec::with_capacity(parsed.histograms.len());
        let mut refused = BTreeMap::new();
        for (ps, known) in parsed.series.iter().zip(found) {
            let l0 = labels.len();
            if known.is_none() {
                let n = ps.labels.1 - ps.labels.0;
                labels_utf8(ps, next.by_ref().take(n), &mut labels)?;
            }
            let h0 = histograms.len();
            let wire = &parsed.histograms[ps.histograms.0..ps.histograms.1];
            take_histograms(wire, ps.index, &mut histograms, None, &mut refused);
            series.push(BatchSeries {
                labels: (l0, labels.len()),
                samples: ps.samples,
                histograms: (h0, histograms.len()),
                key: ps.key,
                by_symbols: false,
                known,
            });
        }
        let (exemplars, exemplars_refused) = exemplars(&parsed.exemplars).map_err(invalid)?;
        let mut metadata = Vec::with_capacity(parsed.metadata.len());
        let mut metadata_refused = MetadataOutcome::default();
        for (i, m) in parsed.metadata.iter().enumerate() {
            match metadata_v1(m) {
                Ok(m) => metadata.push(m),
                Err(why) => metadata_refused
                    .reject(MetadataReject::Invalid, || format!("metadata[{i}]: {why}")),
            }
        }
        Ok(Self {
            labels,
            sample_count: parsed.samples.len() as u64,
            samples: Cow::Owned(parsed.samples),
            series,
            histograms,
            refused,
            metadata,
            metadata_refused,
            start_timestamps: 0,
            sample_starts: Cow::Borrowed(&[]),
            histogram_starts: Vec::new(),
            exemplars,
            exemplars_refused,
        })
    }

    /// A batch of parts already decoded (remote-write 2.0's).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn from_parts(
        labels: Vec<(&'a str, &'a str)>,
        samples: (&'a [Sample], u64),
        series: Vec<BatchSeries<'a>>,
        histograms: Vec<HistogramSample>,
        refused: BTreeMap<&'static str, Refused>,
        exemplars: (Vec<SeriesExemplars>, ExemplarOutcome),
        metadata: (Vec<FamilyMetadata>, MetadataOutcome),
        starts: (u64, &'a [i64], Vec<i64>),
    ) -> Self {
        let (start_timestamps, sample_starts, histogram_starts) = starts;
        Self {
            labels,
            samples: Cow::Borrowed(samples.0),
            sample_count: samples.1,
            series,
            histograms,
            refused,
            metadata: metadata.0,
            metadata_refused: metadata.1,
            start_timestamps,
            sample_starts: Cow::Borrowed(sample_starts),
            histogram_starts,
            exemplars: exemplars.0,
            exemplars_refused: exemplars.1,
        }
    }

    /// Samples and histograms refused while decoding, all reasons.
    pub fn refused_total(&self) -> u64 {
        self.refused.values().map(|r| r.count).sum()
    }

    /// Exemplars in the request.
    pub fn exemplar_count(&self) -> u64 {
        let n: usize = self.exemplars.iter().map(|s| s.exemplars.len()).sum();
        n as u64 + self.exemplars_refused.rejected_total()
    }

    /// Float samples in the request.
    pub fn samples(&self) -> u64 {
        self.sample_count
    }

    /// Native histogram samples in the request that decoded.
    pub fn histogram_count(&self) -> u64 {
        self.histograms.len() as u64
    }

    /// The series with at least one float or histogram sample, for
    /// [`strata_engine::Engine::write_keyed`].
    pub fn series(&self) -> Vec<KeyedSeries<'_>> {
        self.series
            .iter()
            .map(|s| KeyedSeries {
                key: s.key,
                by_symbols: s.by_symbols,
                known: s.known,
                labels: &self.labels[s.labels.0..s.labels.1],
                samples: &self.samples[s.samples.0..s.samples.1],
                histograms: &self.histograms[s.histograms.0..s.histograms.1],
                sample_starts: self
                    .sample_starts
                    .get(s.samples.0..s.samples.1)
                    .unwrap_or(&[]),
                histogram_starts: self
                    .histogram_starts
                    .get(s.histograms.0..s.histograms.1)
                    .unwrap_or(&[]),
            })
            .collect()
    }

    /// The series with at least one native histogram sample: labels (empty for a known
    /// series), and histograms.
    pub fn histogram_series(
        &self,
    ) -> impl Iterator<Item = (&[(&'a str, &'a str)], &[HistogramSample])> {
        self.series
            .iter()
            .filter(|s| s.histograms.0 < s.histograms.1)
            .map(|s| {
                (
                    &self.labels[s.labels.0..s.labels.1],
                    &self.histograms[s.histograms.0..s.histograms.1],
                )
            })
    }

    /// The request, owned (for a batch from [`Batch::parse`], which decodes every label).
    pub fn to_decoded(&self) -> Decoded {
        let owned = |labels: &[(&str, &str)]| {
            labels
                .iter()
                .map(|&(n, v)| (n.to_owned(), v.to_owned()))
                .collect()
        };
        Decoded {
            series: self
                .series()
                .iter()
                .filter(|s| !s.samples.is_empty())
                .map(|s| SeriesSamples {
                    labels: owned(s.labels),
                    samples: s.samples.to_vec(),
                })
                .collect(),
            samples: self.samples(),
            histograms: self
                .histogram_series()
                .map(|(labels, h)| SeriesHistograms {
                    labels: owned(labels),
                    histograms: h.to_vec(),
                })
                .collect(),
            histograms_refused: self.refused.get(INVALID_HISTOGRAM).map_or(0, |r| r.count),
            metadata: self.metadata.clone(),
            metadata_refused: self.metadata_refused.rejected_total(),
        }
    }
}

/// A 1.0 `MetricMetadata` entry, or why it is refused: a type number outside the enum
/// (0 to 7), or text that is not UTF-8.
fn metadata_v1(m: &wire::WireMetadata<'_>) -> Result<FamilyMetadata, String> {
    let text = |what: &str, b: &[u8]| {
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| format!("{what} is not valid UTF-8 (bytes {b:?})"))
    };
    let family = text("metric_family_name", m.family)?;
    let kind = metric_type(m.kind)
        .ok_or_else(|| format!("metric {family:?}: unknown metric type {} (0 to 7)", m.kind))?;
    Ok(FamilyMetadata {
        metadata: Metadata {
            kind,
            help: text("help", m.help)?,
            unit: text("unit", m.unit)?,
        },
        family,
    })
}

/// Remote-write's metric type number (the same in 1.0 and 2.0).
pub(super) fn metric_type(n: i32) -> Option<MetricType> {
    MetricType::from_number(i64::from(n))
}

/// Appends the histograms that decoded to `out`, and counts the others in `refused` (the
/// series at `index` named in the message).
pub(super) fn take_histograms(
    wire: &[super::histogram::WireHistogram],
    index: usize,
    out: &mut Vec<HistogramSample>,
    mut starts: Option<&mut Vec<i64>>,
    refused: &mut BTreeMap<&'static str, Refused>,
) {
    for wh in wire {
        match &wh.h {
            Ok(h) => {
                out.push(HistogramSample {
                    ts: wh.ts,
                    h: Arc::new(h.clone()),
                });
                if let Some(starts) = starts.as_deref_mut() {
                    starts.push(wh.start_ts);
                }
            }
            Err(why) => refused
                .entry(INVALID_HISTOGRAM)
                .or_default()
                .add(1, || format!("timeseries[{index}]: {why}")),
        }
    }
}

/// The exemplars of the series that have some, owned; those whose series or own labels are
/// not UTF-8 are refused (counted, with a message), not the request.
fn exemplars(
    parsed: &[wire::ParsedExemplars<'_>],
) -> Result<(Vec<SeriesExemplars>, ExemplarOutcome), WireError> {
    fn owned(msgs: &[&[u8]]) -> Result<Option<Vec<(String, String)>>, WireError> {
        let mut out = Vec::with_capacity(msgs.len());
        for msg in msgs {
            let (n, v) = wire::label(msg)?;
            match (std::str::from_utf8(n), std::str::from_utf8(v)) {
                (Ok(n), Ok(v)) => out.push((n.to_owned(), v.to_owned())),
                _ => return Ok(None),
            }
        }
        Ok(Some(out))
    }
    let mut refused = ExemplarOutcome::default();
    let mut out = Vec::with_capacity(parsed.len());
    for p in parsed {
        let series = owned(&p.labels)?;
        let mut exemplars = Vec::with_capacity(p.exemplars.len());
        for msg in &p.exemplars {
            let (labels, value, ts) = wire::exemplar(msg)?;
            match (&series, owned(&labels)?) {
                (Some(_), Some(labels)) => exemplars.push(Exemplar { labels, ts, value }),
                _ => refused.reject(ExemplarReject::BadLabels, || {
                    format!(
                        "timeseries[{}]: an exemplar's series or own label is not valid UTF-8",
                        p.index
                    )
                }),
            }
        }
        if let Some(series) = series
            && !exemplars.is_empty()
        {
            out.push(SeriesExemplars { series, exemplars });
        }
    }
    Ok((out, refused))
}

/// Appends a series' decoded labels as `str`s: one `is_ascii` over its adjacent label
/// fields when they are all ASCII, else a UTF-8 check per name and value.
fn labels_utf8<'a, 'p>(
    ps: &ParsedSeries<'a>,
    pairs: impl Iterator<Item = &'p (&'a [u8], &'a [u8])>,
    out: &mut Vec<(&'a str, &'a str)>,
) -> Result<(), ApiError>
where
    'a: 'p,
{
    if !ps.key.is_empty() && ps.key.is_ascii() {
        out.extend(pairs.map(|&(n, v)| (ascii_str(n), ascii_str(v))));
        return Ok(());
    }
    let i = ps.index;
    for &(name, value) in pairs {
        let name = std::str::from_utf8(name).map_err(|_| {
            ApiError::BadRequest(format!(
                "timeseries[{i}]: label name is not valid UTF-8 (bytes {name:?})"
            ))
        })?;
        let value = std::str::from_utf8(value).map_err(|_| {
            ApiError::BadRequest(format!(
                "timeseries[{i}]: value of label {name:?} is not valid UTF-8 (bytes {value:?})"
            ))
        })?;
        out.push((name, value));
    }
    Ok(())
}

/// `bytes` as a `str`, for bytes inside a span found to be ASCII.
fn ascii_str(bytes: &[u8]) -> &str {
    debug_assert!(bytes.is_ascii());
    #[allow(unsafe_code)]
    // Safety: the caller checked that the span holding `bytes` is ASCII (`ParsedSeries::
    // key`), and ASCII is valid UTF-8.
    unsafe {
        std::str::from_utf8_unchecked(bytes)
    }
}

/// What remote-write's refusal of a body that is not snappy says it needs.
const NEEDS_SNAPPY: &str = "remote-write 1.0 requires Content-Encoding: snappy, block format";

/// Decompresses a snappy block-format `body` of at most `max_len` bytes once decompressed:
/// the length the snappy header declares is checked ([`declared_len`]) before anything is
/// allocated, and the output allocated at that length (the block format holds exactly it).
pub fn decompress(body: &[u8], max_len: u64) -> Result<Vec<u8>, ApiError> {
    snappy_block(body, max_len, NEEDS_SNAPPY)
}

/// [`decompress`] for any endpoint that takes snappy block-format bodies (Loki's push too):
/// `needs` says, in the 400 for a body that is not snappy, what the endpoint requires.
pub(crate) fn snappy_block(body: &[u8], max_len: u64, needs: &str) -> Result<Vec<u8>, ApiError> {
    snappy_len(body, max_len, needs)?;
    snap::raw::Decoder::new()
        .decompress_vec(body)
        .map_err(|e| ApiError::BadRequest(format!("snappy decompression failed: {e}")))
}

/// The length a snappy block-format `body` declares it decompresses to: 400 for a
/// malformed header, 413 over `max_len`.
pub fn declared_len(body: &[u8], max_len: u64) -> Result<usize, ApiError> {
    snappy_len(body, max_len, NEEDS_SNAPPY)
}

/// [`declared_len`] for any endpoint that takes snappy block-format bodies, `needs` as in
/// [`snappy_block`]. Nothing is allocated: a header that claims a gigabyte is refused here.
pub(crate) fn snappy_len(body: &[u8], max_len: u64, needs: &str) -> Result<usize, ApiError> {
    let declared = snap::raw::decompress_len(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "body is not snappy block-format data ({needs}): {e}"
        ))
    })?;
    if declared as u64 > max_len {
        return Err(ApiError::PayloadTooLarge(format!(
            "snappy header declares {declared} decompressed bytes, over the limit of {max_len} bytes (server.max_body_bytes)"
        )));
    }
    Ok(declared)
}

/// Decompresses `body` (see [`decompress`]) and decodes it, owned.
pub fn decode(body: &[u8], max_len: u64) -> Result<Decoded, ApiError> {
    let raw = decompress(body, max_len)?;
    decode_protobuf(&raw)
}

/// Decodes an uncompressed `WriteRequest`, owned.
pub fn decode_protobuf(raw: &[u8]) -> Result<Decoded, ApiError> {
    Batch::parse(raw).map(|b| b.to_decoded())
}

#[cfg(test)]
#[path = "decode_tests.rs"]
pub(super) mod tests;
