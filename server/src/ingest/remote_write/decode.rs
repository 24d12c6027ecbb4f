//! From a remote-write request body (snappy block format around a protobuf
//! `WriteRequest`) to engine series, refusing oversized and malformed input with a message.
//!
//! The server's path ([`decompress`], then [`Batch::parse`]) borrows every label name and
//! value from the decompressed buffer: no allocation per label or series. [`decode`] gives
//! the same result owned, for the fuzz harness and embedders.

use strata_engine::{
    Exemplar, ExemplarOutcome, ExemplarReject, KeyedSeries, KnownSeries, Sample, SeriesExemplars,
    SeriesSamples,
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
    /// Native histogram samples (not supported; rejected and counted).
    pub histograms: u64,
}

/// A decoded request whose labels borrow from the decompressed buffer.
#[derive(Debug, Default)]
pub struct Batch<'a> {
    /// Labels of the series whose labels were decoded (not the known ones).
    labels: Vec<(&'a str, &'a str)>,
    samples: Vec<Sample>,
    series: Vec<BatchSeries<'a>>,
    /// Native histogram samples (not supported; rejected and counted).
    pub histograms: u64,
    /// The exemplars of the request, by series (`TimeSeries.exemplars`).
    pub exemplars: Vec<SeriesExemplars>,
    /// Exemplars refused while decoding (labels that are not UTF-8), to report with the
    /// engine's refusals.
    pub exemplars_refused: ExemplarOutcome,
}

/// One series of a [`Batch`]: ranges into its vectors.
#[derive(Debug, Clone, Copy)]
struct BatchSeries<'a> {
    /// Empty for a known series.
    labels: (usize, usize),
    samples: (usize, usize),
    /// The raw bytes of its label fields (empty when they are not adjacent).
    key: &'a [u8],
    known: Option<KnownSeries>,
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
        for (ps, known) in parsed.series.iter().zip(found) {
            let l0 = labels.len();
            if known.is_none() {
                let n = ps.labels.1 - ps.labels.0;
                labels_utf8(ps, next.by_ref().take(n), &mut labels)?;
            }
            series.push(BatchSeries {
                labels: (l0, labels.len()),
                samples: ps.samples,
                key: ps.key,
                known,
            });
        }
        let (exemplars, exemplars_refused) = exemplars(&parsed.exemplars).map_err(invalid)?;
        Ok(Self {
            labels,
            samples: parsed.samples,
            series,
            histograms: parsed.histograms,
            exemplars,
            exemplars_refused,
        })
    }

    /// Exemplars in the request.
    pub fn exemplar_count(&self) -> u64 {
        let n: usize = self.exemplars.iter().map(|s| s.exemplars.len()).sum();
        n as u64 + self.exemplars_refused.rejected_total()
    }

    /// Float samples in the request.
    pub fn samples(&self) -> u64 {
        self.samples.len() as u64
    }

    /// The series with at least one float sample, for [`strata_engine::Engine::write_keyed`].
    pub fn series(&self) -> Vec<KeyedSeries<'_>> {
        self.series
            .iter()
            .map(|s| KeyedSeries {
                key: s.key,
                known: s.known,
                labels: &self.labels[s.labels.0..s.labels.1],
                samples: &self.samples[s.samples.0..s.samples.1],
                histograms: &[],
            })
            .collect()
    }

    /// The request, owned (for a batch from [`Batch::parse`], which decodes every label).
    pub fn to_decoded(&self) -> Decoded {
        Decoded {
            series: self
                .series()
                .iter()
                .map(|s| SeriesSamples {
                    labels: s
                        .labels
                        .iter()
                        .map(|&(n, v)| (n.to_owned(), v.to_owned()))
                        .collect(),
                    samples: s.samples.to_vec(),
                })
                .collect(),
            samples: self.samples(),
            histograms: self.histograms,
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
mod tests {
    use super::*;
    use crate::ingest::remote_write::proto::{
        Exemplar, Histogram, Label, Sample as PbSample, TimeSeries, WriteRequest,
    };
    use crate::ingest::test_rng::Rng;
    use prost::Message;

    fn label(n: &str, v: &str) -> Label {
        Label {
            name: n.into(),
            value: v.into(),
        }
    }

    #[test]
    fn decodes_a_hand_encoded_request() {
        // WriteRequest{timeseries: [{labels: [{__name__, up}], samples: [{1.5, 1000}]}]},
        // encoded by hand from remote.proto's field numbers.
        let label_parts: [&[u8]; 4] = [&[0x0A, 8], b"__name__", &[0x12, 2], b"up"];
        let label = label_parts.concat();
        let sample_parts: [&[u8]; 3] = [&[0x09], &1.5f64.to_le_bytes(), &[0x10, 0xE8, 0x07]];
        let sample = sample_parts.concat();
        let mut ts = vec![0x0A, label.len() as u8];
        ts.extend_from_slice(&label);
        ts.extend_from_slice(&[0x12, sample.len() as u8]);
        ts.extend_from_slice(&sample);
        let mut req = vec![0x0A, ts.len() as u8];
        req.extend_from_slice(&ts);
        let d = decode_protobuf(&req).unwrap();
        assert_eq!(d.samples, 1);
        assert_eq!(
            d.series[0].labels,
            vec![("__name__".to_owned(), "up".to_owned())]
        );
        assert_eq!(
            d.series[0].samples,
            vec![Sample {
                ts: 1000,
                value: 1.5
            }]
        );
    }

    #[test]
    fn known_series_are_not_decoded_and_keys_are_their_label_bytes() {
        // A sample within retention: a series whose samples all fall outside is not created.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let series = |job: &str| TimeSeries {
            labels: vec![label("__name__", "up"), label("job", job)],
            samples: vec![PbSample {
                value: 1.0,
                timestamp: now,
            }],
            ..Default::default()
        };
        let req = WriteRequest {
            timeseries: vec![series("a"), series("b")],
        }
        .encode_to_vec();
        let first = Batch::parse(&req).unwrap();
        let keys: Vec<Vec<u8>> = first.series().iter().map(|s| s.key.to_vec()).collect();
        // The key is exactly the series' encoded label fields.
        let mut want = Vec::new();
        for l in &series("a").labels {
            prost::encoding::message::encode(1, l, &mut want);
        }
        assert_eq!(keys[0], want);
        assert_ne!(keys[0], keys[1]);

        let dir = tempfile::tempdir().unwrap();
        let engine =
            strata_engine::Engine::open(dir.path(), strata_engine::EngineConfig::default())
                .unwrap();
        let t = strata_engine::TenantId::new("t").unwrap();
        // Learn series "a" only, then parse again against the engine.
        let learn = &first.series()[..1];
        engine.write_keyed(&t, learn).unwrap();
        let mut asked = Vec::new();
        let again = Batch::parse_known(&req, |k| {
            asked = k.iter().map(|k| k.to_vec()).collect();
            engine.known_series(&t, k).unwrap()
        })
        .unwrap();
        assert_eq!(asked, keys);
        let got = again.series();
        assert!(got[0].known.is_some() && got[0].labels.is_empty());
        assert!(got[1].known.is_none());
        assert_eq!(got[1].labels, &[("__name__", "up"), ("job", "b")]);
    }

    #[test]
    fn counts_histograms_and_refuses_bad_utf8() {
        let req = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![label("__name__", "h")],
                samples: vec![],
                histograms: vec![Histogram { timestamp: 1 }, Histogram { timestamp: 2 }],
                exemplars: vec![],
            }],
        };
        let d = decode_protobuf(&req.encode_to_vec()).unwrap();
        assert_eq!((d.samples, d.histograms, d.series.len()), (0, 2, 0));

        let bad = WriteRequest {
            timeseries: vec![TimeSeries {
                labels: vec![Label {
                    name: b"job".to_vec(),
                    value: vec![0xFF, 0xFE],
                }],
                samples: vec![PbSample {
                    value: 1.0,
                    timestamp: 1,
                }],
                histograms: vec![],
                exemplars: vec![],
            }],
        };
        let err = decode_protobuf(&bad.encode_to_vec()).unwrap_err();
        assert!(
            err.to_string().contains("\"job\" is not valid UTF-8"),
            "{err}"
        );
    }

    #[test]
    fn refuses_a_declared_length_over_the_limit_before_decompressing() {
        // A snappy header (varint) declaring 256 MiB, followed by nothing.
        let mut body = Vec::new();
        let mut n: u64 = 256 << 20;
        while n >= 0x80 {
            body.push((n as u8) | 0x80);
            n >>= 7;
        }
        body.push(n as u8);
        let err = decode(&body, 64 << 20).unwrap_err();
        assert!(matches!(err, ApiError::PayloadTooLarge(_)), "{err}");
        assert!(err.to_string().contains("268435456"), "{err}");
    }

    #[test]
    fn requests_past_the_series_sample_or_label_limits_are_413() {
        use super::wire::{MAX_LABELS, MAX_SAMPLES, MAX_SERIES};
        // TimeSeries { samples: [{}] }: a series of one empty sample, 4 bytes.
        let one_sample = [0x0a, 0x02, 0x12, 0x00];
        // TimeSeries { labels: [{}; labels], samples: [{}; samples] }.
        let series = |labels: usize, samples: usize| {
            let ts = [[0x0a, 0x00].repeat(labels), [0x12, 0x00].repeat(samples)].concat();
            let mut out = vec![0x0a];
            prost::encoding::encode_varint(ts.len() as u64, &mut out);
            [out, ts].concat()
        };
        for (raw, what) in [
            (one_sample.repeat(MAX_SERIES + 1), "series"),
            (series(0, MAX_SAMPLES + 1), "samples"),
            (series(MAX_LABELS + 1, 1), "labels"),
        ] {
            let err = Batch::parse(&raw).unwrap_err();
            assert!(matches!(err, ApiError::PayloadTooLarge(_)), "{what}: {err}");
            assert!(err.to_string().starts_with("more than "), "{err}");
            assert!(err.to_string().contains(what), "{err}");
        }
        // At the limits: read (and refused later for their missing names, not here).
        let raw = one_sample.repeat(MAX_SERIES);
        let at = Batch::parse(&raw).expect("at the series limit");
        assert_eq!(at.samples(), MAX_SERIES as u64);
    }

    #[test]
    fn malformed_input_is_a_bad_request() {
        let err = decode(b"\xff\xff\xff\xff\xff\xff", 1 << 20).unwrap_err();
        assert!(matches!(err, ApiError::BadRequest(_)), "{err}");
        let body = snap::raw::Encoder::new()
            .compress_vec(b"\x0a\xff\x01junk")
            .unwrap();
        let err = decode(&body, 1 << 20).unwrap_err();
        assert!(err.to_string().contains("WriteRequest"), "{err}");
    }

    /// What prost's generated decoder makes of `raw`, converted as the server did before
    /// the in-place reader: the reference the reader is held to.
    fn reference(raw: &[u8]) -> Result<Decoded, String> {
        let req = WriteRequest::decode(raw).map_err(|e| format!("protobuf: {e}"))?;
        let mut out = Decoded::default();
        for (i, ts) in req.timeseries.into_iter().enumerate() {
            out.histograms += ts.histograms.len() as u64;
            if ts.samples.is_empty() {
                continue;
            }
            let mut labels = Vec::new();
            for l in ts.labels {
                let name = String::from_utf8(l.name).map_err(|e| {
                    format!(
                        "timeseries[{i}]: label name is not valid UTF-8 (bytes {:?})",
                        e.as_bytes()
                    )
                })?;
                let value = String::from_utf8(l.value).map_err(|e| {
                    format!(
                        "timeseries[{i}]: value of label {name:?} is not valid UTF-8 (bytes {:?})",
                        e.as_bytes()
                    )
                })?;
                labels.push((name, value));
            }
            out.samples += ts.samples.len() as u64;
            out.series.push(SeriesSamples {
                labels,
                samples: ts
                    .samples
                    .into_iter()
                    .map(|s| Sample {
                        ts: s.timestamp,
                        value: s.value,
                    })
                    .collect(),
            });
        }
        Ok(out)
    }

    fn varint(mut n: u64, out: &mut Vec<u8>) {
        while n >= 0x80 {
            out.push((n as u8) | 0x80);
            n >>= 7;
        }
        out.push(n as u8);
    }

    /// A random request: labels in any order, empty, duplicated or not UTF-8 now and then,
    /// series without samples, histograms, and unknown fields of every wire type (an
    /// exemplar-like message, fixed32, a group with a nested group) at both levels.
    fn request(rng: &mut Rng) -> Vec<u8> {
        let names = [
            "__name__",
            "job",
            "instance",
            "",
            "le",
            "zone",
            "\u{e9}t\u{e9}",
        ];
        let values = ["up", "api", "host-1:9100", "", "0.5", "+Inf", "\u{2603}"];
        let mut out = Vec::new();
        for _ in 0..rng.below(5) {
            let ts = TimeSeries {
                labels: (0..rng.below(6))
                    .map(|_| {
                        let mut l = label(
                            names[rng.index(names.len())],
                            values[rng.index(values.len())],
                        );
                        if rng.below(40) == 0 {
                            l.value.push(0xFF);
                        }
                        l
                    })
                    .collect(),
                samples: (0..rng.below(4))
                    .map(|_| PbSample {
                        value: f64::from_bits(rng.next()),
                        timestamp: rng.next() as i64 >> rng.below(64),
                    })
                    .collect(),
                histograms: (0..rng.below(3) / 2)
                    .map(|_| Histogram {
                        timestamp: rng.next() as i64,
                    })
                    .collect(),
                exemplars: (0..rng.below(3) / 2)
                    .map(|_| Exemplar {
                        labels: vec![label("trace_id", values[rng.index(values.len())])],
                        value: f64::from_bits(rng.next()),
                        timestamp: rng.next() as i64,
                    })
                    .collect(),
            };
            let mut body = ts.encode_to_vec();
            if rng.below(3) == 0 {
                // An exemplar (field 3) with a timestamp only, then a fixed32 and a group,
                // unknown here.
                body.extend_from_slice(&[0x1A, 3, 0x18, 0x96, 0x01, 0x2D, 1, 2, 3, 4]);
                body.extend_from_slice(&[0x4B, 0x0B, 0x10, 0x01, 0x0C, 0x4C]);
            }
            out.push(0x0A);
            varint(body.len() as u64, &mut out);
            out.extend_from_slice(&body);
            if rng.below(4) == 0 {
                // WriteRequest.metadata (field 3) and a varint field 9, unknown here.
                out.extend_from_slice(&[0x1A, 2, 0x08, 0x01, 0x48, 0xFF, 0x01]);
            }
        }
        out
    }

    fn mutate(rng: &mut Rng, mut b: Vec<u8>) -> Vec<u8> {
        for _ in 0..1 + rng.below(3) {
            if b.is_empty() {
                b.push(rng.next() as u8);
                continue;
            }
            let i = rng.index(b.len());
            match rng.below(5) {
                0 => b[i] ^= 1 << rng.below(8),
                1 => b[i] = rng.next() as u8,
                2 => b.truncate(i),
                3 => b.insert(i, rng.next() as u8),
                _ => {
                    b.remove(i);
                }
            }
        }
        b
    }

    /// Bit-exact equality (NaN samples included).
    fn same(a: &Decoded, b: &Decoded) -> bool {
        a.samples == b.samples
            && a.histograms == b.histograms
            && a.series.len() == b.series.len()
            && a.series.iter().zip(&b.series).all(|(x, y)| {
                x.labels == y.labels
                    && x.samples.len() == y.samples.len()
                    && x.samples
                        .iter()
                        .zip(&y.samples)
                        .all(|(s, t)| s.ts == t.ts && s.value.to_bits() == t.value.to_bits())
            })
    }

    #[test]
    fn the_in_place_reader_agrees_with_prost() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (mut ok, mut err) = (0, 0);
        for round in 0..20_000 {
            let valid = request(&mut rng);
            let raw = if round % 2 == 0 {
                valid
            } else {
                mutate(&mut rng, valid)
            };
            let want = reference(&raw);
            let got = decode_protobuf(&raw);
            match (&want, &got) {
                (Ok(w), Ok(g)) => {
                    assert!(same(w, g), "{raw:?}: {w:?} != {g:?}");
                    ok += 1;
                }
                (Err(w), Err(g)) => {
                    if !w.starts_with("protobuf") {
                        assert_eq!(g.to_string(), *w, "{raw:?}");
                    }
                    err += 1;
                }
                _ => panic!("{raw:?}: prost {want:?}, reader {got:?}"),
            }
        }
        // Both outcomes were exercised in earnest.
        assert!(ok > 5_000 && err > 2_000, "ok {ok}, err {err}");
    }

    #[test]
    fn groups_and_depth() {
        // An unknown group (field 7) holding a group (field 8) and a varint: skipped.
        let raw = [0x3B, 0x43, 0x08, 0x01, 0x44, 0x3C];
        assert_eq!(decode_protobuf(&raw).unwrap(), Decoded::default());
        // An end-group for another field, and one without a start.
        assert!(decode_protobuf(&[0x3B, 0x44]).is_err());
        assert!(decode_protobuf(&[0x3C]).is_err());
        // 200 nested groups pass prost's recursion limit of 100.
        let mut deep = vec![0x3B; 200];
        deep.extend(std::iter::repeat_n(0x3C, 200));
        assert!(WriteRequest::decode(&deep[..]).is_err());
        assert!(decode_protobuf(&deep).is_err());
    }
}
