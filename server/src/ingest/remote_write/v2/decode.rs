//! From a remote-write 2.0 `Request` read in place ([`super::wire`]) to the [`Batch`] the
//! 1.0 path stores: references resolved against the symbols table (borrowed, each symbol
//! checked for UTF-8 once by the reader). Series the engine knows are found by their
//! symbols ([`strata_engine::Engine::known_series_symbols`]: the table looked up once,
//! series compared as numbers), so they need no key and no label work. Only the others
//! get a key, built from their labels as 1.0 encodes `Label` fields, and looked up as 1.0
//! keys are (a series whose labels a relabel rule rewrote is remembered by that key).
//!
//! A series whose label references are odd in number or outside the table, or whose
//! metadata references are outside it, is refused with its samples (as Prometheus's
//! `appendV2` does, a 400 naming it, the other series stored); so is a series without samples
//! or histograms. An exemplar whose references are bad is refused alone. A series'
//! metadata is stored under its `__name__` (Prometheus's receiver keeps it per series);
//! one whose type is outside the enum is refused alone.

use std::collections::{BTreeMap, HashSet};

use strata_engine::{
    Exemplar, ExemplarOutcome, ExemplarReject, FamilyMetadata, KnownSeries, MetadataOutcome,
    MetadataReject, SeriesExemplars,
};

use super::super::decode::{
    Batch, BatchSeries, EMPTY_SERIES, INVALID_REFS, Refused, metric_type, take_histograms,
};
use super::wire::{self, Parsed, ParsedSeries, V2Error};
use crate::http::error::ApiError;
use crate::ingest::protobuf::WireError;

/// A parsed request: which series are valid, and after [`Request::resolve`] what the
/// engine knows of them and, for the others, their engine keys (built before the
/// [`Batch`] that borrows them).
#[derive(Debug)]
pub struct Request<'a> {
    parsed: Parsed<'a>,
    /// Per series: `Ok`, or why it is refused.
    resolved: Vec<Result<(), String>>,
    /// Per series, once resolved: the engine's series, or its key's range in `keys`.
    found: Vec<Found>,
    /// The keys of the series the engine did not know by their symbols, back to back.
    keys: Vec<u8>,
}

/// What [`Request::resolve`] found for a series.
#[derive(Debug, Clone, Copy)]
enum Found {
    Known(KnownSeries),
    /// Unknown: its key's range in [`Request::keys`].
    Key(usize, usize),
}

/// A lookup by symbols ([`strata_engine::Engine::known_series_symbols`]): the table, and
/// each series' label references.
pub(crate) type BySymbols<'f> = &'f dyn Fn(&[&str], &[&[u32]]) -> Vec<Option<KnownSeries>>;

/// A lookup by keys ([`strata_engine::Engine::known_series`]).
pub(crate) type ByKeys<'f> = &'f dyn Fn(&[&[u8]]) -> Vec<Option<KnownSeries>>;

impl<'a> Request<'a> {
    /// Reads an uncompressed `io.prometheus.write.v2.Request`: 400 for a malformed body or a
    /// symbols table that does not start with "", 413 past the per-request limits.
    pub fn parse(raw: &'a [u8]) -> Result<Self, ApiError> {
        let parsed = wire::parse(raw).map_err(|e| match e {
            V2Error::Wire(e @ WireError::TooMany { .. }) => ApiError::PayloadTooLarge(format!(
                "{e}: send smaller requests (Prometheus: queue_config.max_samples_per_send)"
            )),
            e => ApiError::BadRequest(format!(
                "body is not a valid io.prometheus.write.v2.Request protobuf: {e}"
            )),
        })?;
        if !parsed.series.is_empty() && parsed.symbols.first() != Some(&"") {
            return Err(ApiError::BadRequest(
                "io.prometheus.write.v2.Request: symbols[0] must be the empty string".into(),
            ));
        }
        let resolved = parsed
            .series
            .iter()
            .map(|s| check_series(&parsed, s))
            .collect();
        Ok(Self {
            parsed,
            resolved,
            found: Vec::new(),
            keys: Vec::new(),
        })
    }

    /// Finds the valid series the engine knows: by their symbols first, then the others
    /// by the keys built for them (which the engine remembers them by once stored, if it
    /// does not remember them by their symbols). Before [`Request::batch`]; without it,
    /// every series is decoded.
    pub fn resolve(&mut self, by_symbols: BySymbols<'_>, by_keys: ByKeys<'_>) {
        let p = &self.parsed;
        let valid: Vec<usize> = (0..p.series.len())
            .filter(|&i| self.resolved[i].is_ok())
            .collect();
        let refs: Vec<&[u32]> = valid
            .iter()
            .map(|&i| &p.refs[p.series[i].refs.0..p.series[i].refs.1])
            .collect();
        let mut found: Vec<Option<KnownSeries>> = vec![None; p.series.len()];
        for (&i, k) in valid.iter().zip(by_symbols(&p.symbols, &refs)) {
            found[i] = k;
        }
        // The others' keys, then a lookup by them.
        let mut keys = Vec::new();
        let mut key_of = vec![(0, 0); p.series.len()];
        let mut misses = Vec::new();
        for (&i, refs) in valid.iter().zip(&refs) {
            if found[i].is_none() {
                let start = keys.len();
                for c in refs.chunks_exact(2) {
                    label_key(
                        p.symbols[c[0] as usize],
                        p.symbols[c[1] as usize],
                        &mut keys,
                    );
                }
                key_of[i] = (start, keys.len());
                misses.push(i);
            }
        }
        if !misses.is_empty() {
            let by_key: Vec<&[u8]> = misses
                .iter()
                .map(|&i| &keys[key_of[i].0..key_of[i].1])
                .collect();
            for (&i, k) in misses.iter().zip(by_keys(&by_key)) {
                found[i] = k;
            }
        }
        self.found = found
            .iter()
            .zip(&key_of)
            .map(|(k, &(a, b))| k.map_or(Found::Key(a, b), Found::Known))
            .collect();
        self.keys = keys;
    }

    /// The batch to store: series [`Request::resolve`] found are not decoded.
    pub fn batch(&self) -> Batch<'_> {
        let p = &self.parsed;
        let mut refused: BTreeMap<&'static str, Refused> = BTreeMap::new();
        let (mut labels, mut sample_count) = (Vec::new(), 0);
        let (mut series, mut histograms) = (Vec::new(), Vec::new());
        let mut exemplars = Vec::new();
        let mut ex_refused = ExemplarOutcome::default();
        let mut metadata = RequestMetadata::default();
        let mut histogram_starts = Vec::new();
        for (k, (s, r)) in p.series.iter().zip(&self.resolved).enumerate() {
            let n = (s.samples.1 - s.samples.0 + s.histograms.1 - s.histograms.0) as u64;
            if let Err(why) = r {
                let reason = if n == 0 { EMPTY_SERIES } else { INVALID_REFS };
                refused
                    .entry(reason)
                    .or_default()
                    .add(n.max(1), || format!("timeseries[{}]: {why}", s.index));
                continue;
            }
            if let Some(m) = s.metadata {
                metadata.add(p, s.index, &p.refs[s.refs.0..s.refs.1], m);
            }
            let (known, key) = match self.found.get(k) {
                Some(Found::Known(known)) => (Some(*known), &[][..]),
                Some(Found::Key(a, b)) => (None, &self.keys[*a..*b]),
                None => (None, &[][..]),
            };
            let l0 = labels.len();
            let pairs = || p.refs[s.refs.0..s.refs.1].chunks_exact(2);
            if known.is_none() {
                labels
                    .extend(pairs().map(|c| (p.symbols[c[0] as usize], p.symbols[c[1] as usize])));
            }
            // The series' samples stay where the reader put them (no copy).
            sample_count += (s.samples.1 - s.samples.0) as u64;
            let h0 = histograms.len();
            let wire = &p.histograms[s.histograms.0..s.histograms.1];
            let starts = Some(&mut histogram_starts);
            take_histograms(wire, s.index, &mut histograms, starts, &mut refused);
            series.push(BatchSeries {
                labels: (l0, labels.len()),
                samples: s.samples,
                histograms: (h0, histograms.len()),
                key,
                by_symbols: true,
                known,
            });
            let mut ex = Vec::new();
            for e in &p.exemplars[s.exemplars.0..s.exemplars.1] {
                match resolve(p, e.refs) {
                    Ok(labels) => ex.push(Exemplar {
                        labels,
                        ts: e.ts,
                        value: e.value,
                    }),
                    Err(why) => ex_refused.reject(ExemplarReject::BadLabels, || {
                        format!("timeseries[{}]: exemplar {why}", s.index)
                    }),
                }
            }
            if !ex.is_empty() {
                let owned = pairs()
                    .map(|c| {
                        (
                            p.symbols[c[0] as usize].to_owned(),
                            p.symbols[c[1] as usize].to_owned(),
                        )
                    })
                    .collect();
                exemplars.push(SeriesExemplars {
                    series: owned,
                    exemplars: ex,
                });
            }
        }
        Batch::from_parts(
            labels,
            (&p.samples, sample_count),
            series,
            histograms,
            refused,
            (exemplars, ex_refused),
            (metadata.entries, metadata.refused),
            (p.start_timestamps, &p.sample_starts, histogram_starts),
        )
    }
}

/// A request's metadata: each distinct (family, type, help, unit) once, as the engine
/// keeps them.
#[derive(Default)]
struct RequestMetadata<'a> {
    seen: HashSet<(&'a str, i32, &'a str, &'a str)>,
    entries: Vec<FamilyMetadata>,
    refused: MetadataOutcome,
}

impl<'a> RequestMetadata<'a> {
    /// A series' metadata (its references checked already), under its `__name__`.
    /// Metadata that says nothing (type unspecified, no help, no unit: what a sender
    /// without metadata sends) is not an entry.
    fn add(&mut self, p: &Parsed<'a>, index: usize, refs: &[u32], m: wire::Metadata) {
        let (help, unit) = (
            p.symbols[m.help_ref as usize],
            p.symbols[m.unit_ref as usize],
        );
        if m.kind == 0 && help.is_empty() && unit.is_empty() {
            return;
        }
        let family = refs
            .chunks_exact(2)
            .find(|c| p.symbols[c[0] as usize] == strata_engine::METRIC_NAME)
            .map_or("", |c| p.symbols[c[1] as usize]);
        if !self.seen.insert((family, m.kind, help, unit)) {
            return;
        }
        match metric_type(m.kind) {
            Some(kind) => self.entries.push(FamilyMetadata {
                family: family.to_owned(),
                metadata: strata_engine::Metadata {
                    kind,
                    help: help.to_owned(),
                    unit: unit.to_owned(),
                },
            }),
            None => self.refused.reject(MetadataReject::Invalid, || {
                format!(
                    "timeseries[{index}]: metric {family:?}: unknown metric type {} (0 to 7)",
                    m.kind
                )
            }),
        }
    }
}

/// Checks a series' references.
fn check_series(p: &Parsed<'_>, s: &ParsedSeries) -> Result<(), String> {
    let refs = &p.refs[s.refs.0..s.refs.1];
    check_refs(p, refs)?;
    if let Some(m) = s.metadata {
        for (what, r) in [("help_ref", m.help_ref), ("unit_ref", m.unit_ref)] {
            if r as usize >= p.symbols.len() {
                return Err(format!(
                    "metadata {what} {r} outside of symbols table (size {})",
                    p.symbols.len()
                ));
            }
        }
    }
    if s.samples.0 == s.samples.1 && s.histograms.0 == s.histograms.1 {
        return Err("TimeSeries must contain at least one sample or histogram".into());
    }
    Ok(())
}

/// Prometheus's checks of a `labels_refs` list (`desymbolizeLabels`).
fn check_refs(p: &Parsed<'_>, refs: &[u32]) -> Result<(), String> {
    if !refs.len().is_multiple_of(2) {
        return Err(format!("invalid labels_refs length {}", refs.len()));
    }
    for c in refs.chunks_exact(2) {
        if c.iter().any(|&r| r as usize >= p.symbols.len()) {
            return Err(format!(
                "labels_refs {} (name) = {} (value) outside of symbols table (size {})",
                c[0],
                c[1],
                p.symbols.len()
            ));
        }
    }
    Ok(())
}

/// An exemplar's labels, owned.
fn resolve(p: &Parsed<'_>, (a, b): (usize, usize)) -> Result<Vec<(String, String)>, String> {
    let refs = &p.refs[a..b];
    check_refs(p, refs)?;
    Ok(refs
        .chunks_exact(2)
        .map(|c| {
            (
                p.symbols[c[0] as usize].to_owned(),
                p.symbols[c[1] as usize].to_owned(),
            )
        })
        .collect())
}

/// Appends the 1.0 encoding of a `Label` field (`TimeSeries.labels`, field 1), empty
/// strings left out as protobuf encoders do.
fn label_key(name: &str, value: &str, out: &mut Vec<u8>) {
    let len = |s: &str| match s.len() {
        0 => 0,
        n => 1 + prost::encoding::encoded_len_varint(n as u64) + n,
    };
    let inner = len(name) + len(value);
    out.reserve(inner + 6);
    out.push(0x0A);
    varint(inner, out);
    for (tag, s) in [(0x0A, name), (0x12, value)] {
        if !s.is_empty() {
            out.push(tag);
            varint(s.len(), out);
            out.extend_from_slice(s.as_bytes());
        }
    }
}

/// A protobuf varint; one byte for the lengths labels mostly have.
#[inline]
fn varint(n: usize, out: &mut Vec<u8>) {
    match u8::try_from(n) {
        Ok(b) if b < 0x80 => out.push(b),
        _ => prost::encoding::encode_varint(n as u64, out),
    }
}

#[cfg(test)]
#[path = "decode_tests.rs"]
mod tests;
