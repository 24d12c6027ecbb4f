//! Tests of the remote-write 1.0 decoder, and the differential test of the in-place reader
//! against prost's.

use super::*;
use crate::ingest::remote_write::proto::{
    BucketSpan, Exemplar, Histogram, Label, MetricMetadata, Sample as PbSample, TimeSeries,
    WriteRequest,
    histogram::{Count, ZeroCount},
};
use crate::ingest::test_rng::Rng;
use prost::Message;
use strata_engine::{Counts, ResetHint, Span};

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
        metadata: Vec::new(),
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
        strata_engine::Engine::open(dir.path(), strata_engine::EngineConfig::default()).unwrap();
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
fn decodes_histograms_and_refuses_bad_utf8() {
    // An integer histogram as Prometheus's codec_test.go / the spec would send it:
    // schema 0, buckets (0.5, 1] = 2, (1, 2] = 1, (4, 8] = 1 (deltas 2, -1, 0).
    let int = Histogram {
        count: Some(Count::CountInt(5)),
        sum: 18.4,
        schema: 0,
        zero_threshold: 0.001,
        zero_count: Some(ZeroCount::ZeroCountInt(1)),
        positive_spans: vec![
            BucketSpan {
                offset: 0,
                length: 2,
            },
            BucketSpan {
                offset: 1,
                length: 1,
            },
        ],
        positive_deltas: vec![2, -1, 0],
        reset_hint: 2,
        timestamp: 1000,
        ..Default::default()
    };
    let float = Histogram {
        count: Some(Count::CountFloat(2.5)),
        schema: -53,
        positive_spans: vec![BucketSpan {
            offset: 0,
            length: 2,
        }],
        positive_counts: vec![1.5, 1.0],
        custom_values: vec![10.0],
        reset_hint: 3,
        timestamp: 2000,
        ..Default::default()
    };
    let bad_hint = Histogram {
        reset_hint: 4,
        timestamp: 3000,
        ..Default::default()
    };
    let req = WriteRequest {
        metadata: Vec::new(),
        timeseries: vec![TimeSeries {
            labels: vec![label("__name__", "h")],
            samples: vec![],
            histograms: vec![int, float, bad_hint],
            exemplars: vec![],
        }],
    };
    let d = decode_protobuf(&req.encode_to_vec()).unwrap();
    assert_eq!((d.samples, d.series.len()), (0, 0));
    assert_eq!(d.histograms_refused, 1);
    assert_eq!(d.histograms.len(), 1);
    let got = &d.histograms[0];
    assert_eq!(got.labels, vec![("__name__".to_owned(), "h".to_owned())]);
    let hs: Vec<_> = got
        .histograms
        .iter()
        .map(|s| (s.ts, (*s.h).clone()))
        .collect();
    assert_eq!(
        hs,
        vec![
            (
                1000,
                strata_engine::Histogram {
                    schema: 0,
                    zero_threshold: 0.001,
                    sum: 18.4,
                    reset_hint: ResetHint::NotReset,
                    positive_spans: vec![
                        Span {
                            offset: 0,
                            length: 2
                        },
                        Span {
                            offset: 1,
                            length: 1
                        }
                    ],
                    negative_spans: vec![],
                    custom_values: vec![],
                    counts: Counts::Int {
                        count: 5,
                        zero_count: 1,
                        positive_deltas: vec![2, -1, 0],
                        negative_deltas: vec![],
                    },
                }
            ),
            (
                2000,
                strata_engine::Histogram {
                    schema: -53,
                    zero_threshold: 0.0,
                    sum: 0.0,
                    reset_hint: ResetHint::Gauge,
                    positive_spans: vec![Span {
                        offset: 0,
                        length: 2
                    }],
                    negative_spans: vec![],
                    custom_values: vec![10.0],
                    counts: Counts::Float {
                        count: 2.5,
                        zero_count: 0.0,
                        positive: vec![1.5, 1.0],
                        negative: vec![],
                    },
                }
            ),
        ]
    );
    let raw = req.encode_to_vec();
    let b = Batch::parse(&raw).unwrap();
    let why = b.refused[INVALID_HISTOGRAM].first.clone().unwrap();
    assert!(
        why.starts_with("timeseries[0]: histogram has reset_hint 4"),
        "{why}"
    );

    let bad = WriteRequest {
        metadata: Vec::new(),
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
fn requests_past_the_series_sample_label_or_histogram_limits_are_413() {
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
    // Histograms: too many (empty ones, 2 bytes each), and one whose packed deltas (one
    // byte each) pass the per-request bucket cap.
    use super::wire::MAX_HISTOGRAMS;
    use crate::ingest::protobuf::MAX_BUCKETS;
    let with = |ts: Vec<u8>| {
        let mut out = vec![0x0a];
        prost::encoding::encode_varint(ts.len() as u64, &mut out);
        [out, ts].concat()
    };
    let hist = |body: Vec<u8>| {
        let mut out = vec![0x22];
        prost::encoding::encode_varint(body.len() as u64, &mut out);
        [out, body].concat()
    };
    let mut deltas = vec![0x62];
    prost::encoding::encode_varint(MAX_BUCKETS as u64 + 1, &mut deltas);
    deltas.resize(deltas.len() + MAX_BUCKETS + 1, 0);
    for (raw, what) in [
        (with([0x22, 0x00].repeat(MAX_HISTOGRAMS + 1)), "histograms"),
        (with(hist(deltas)), "histogram buckets"),
    ] {
        let err = Batch::parse(&raw).unwrap_err();
        assert!(matches!(err, ApiError::PayloadTooLarge(_)), "{what}: {err}");
        assert!(err.to_string().contains(what), "{err}");
    }
    let raw = with([0x22, 0x00].repeat(MAX_HISTOGRAMS));
    let at = Batch::parse(&raw).expect("at the limit");
    assert_eq!(at.histogram_count(), MAX_HISTOGRAMS as u64);
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
    for m in &req.metadata {
        // Prometheus's MetricMetadata.MetricType numbers; text must be UTF-8.
        let kind = match m.r#type {
            0 => Some(MetricType::Unknown),
            1 => Some(MetricType::Counter),
            2 => Some(MetricType::Gauge),
            3 => Some(MetricType::Histogram),
            4 => Some(MetricType::GaugeHistogram),
            5 => Some(MetricType::Summary),
            6 => Some(MetricType::Info),
            7 => Some(MetricType::StateSet),
            _ => None,
        };
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).ok();
        match (
            kind,
            text(&m.metric_family_name),
            text(&m.help),
            text(&m.unit),
        ) {
            (Some(kind), Some(family), Some(help), Some(unit)) => {
                out.metadata.push(FamilyMetadata {
                    family,
                    metadata: Metadata { kind, help, unit },
                })
            }
            _ => out.metadata_refused += 1,
        }
    }
    for (i, ts) in req.timeseries.into_iter().enumerate() {
        if ts.samples.is_empty() && ts.histograms.is_empty() {
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
        let mut hs = Vec::new();
        for h in ts.histograms {
            match reference_histogram(&h) {
                Some(v) => hs.push(HistogramSample {
                    ts: h.timestamp,
                    h: Arc::new(v),
                }),
                None => out.histograms_refused += 1,
            }
        }
        if !hs.is_empty() {
            out.histograms.push(SeriesHistograms {
                labels: labels.clone(),
                histograms: hs,
            });
        }
        if ts.samples.is_empty() {
            continue;
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

/// Prometheus's `ToIntHistogram`/`ToFloatHistogram` (prompb/codec.go) over prost's
/// message; None for a reset hint outside the enum.
pub(crate) fn reference_histogram(h: &Histogram) -> Option<strata_engine::Histogram> {
    let spans = |s: &[BucketSpan]| {
        s.iter()
            .map(|s| Span {
                offset: s.offset,
                length: s.length,
            })
            .collect()
    };
    let counts = match h.count {
        Some(Count::CountFloat(count)) => Counts::Float {
            count,
            zero_count: match h.zero_count {
                Some(ZeroCount::ZeroCountFloat(z)) => z,
                _ => 0.0,
            },
            positive: h.positive_counts.clone(),
            negative: h.negative_counts.clone(),
        },
        _ => Counts::Int {
            count: match h.count {
                Some(Count::CountInt(c)) => c,
                _ => 0,
            },
            zero_count: match h.zero_count {
                Some(ZeroCount::ZeroCountInt(z)) => z,
                _ => 0,
            },
            positive_deltas: h.positive_deltas.clone(),
            negative_deltas: h.negative_deltas.clone(),
        },
    };
    let reset_hint = match h.reset_hint {
        0 => ResetHint::Unknown,
        1 => ResetHint::Reset,
        2 => ResetHint::NotReset,
        3 => ResetHint::Gauge,
        _ => return None,
    };
    Some(strata_engine::Histogram {
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        sum: h.sum,
        reset_hint,
        positive_spans: spans(&h.positive_spans),
        negative_spans: spans(&h.negative_spans),
        custom_values: h.custom_values.clone(),
        counts,
    })
}

/// A random histogram: either kind of count, both kinds of buckets now and then (the
/// other kind is ignored), odd schemas and reset hints.
pub(crate) fn random_histogram(rng: &mut Rng) -> Histogram {
    let spans = |rng: &mut Rng| {
        (0..rng.below(3))
            .map(|_| BucketSpan {
                offset: rng.next() as i32 >> rng.below(32),
                length: rng.below(4) as u32,
            })
            .collect()
    };
    let deltas = |rng: &mut Rng| {
        (0..rng.below(4))
            .map(|_| rng.next() as i64 >> rng.below(64))
            .collect()
    };
    let floats = |rng: &mut Rng| {
        (0..rng.below(4))
            .map(|_| f64::from_bits(rng.next()))
            .collect()
    };
    Histogram {
        count: match rng.below(3) {
            0 => None,
            1 => Some(Count::CountInt(rng.next() >> rng.below(64))),
            _ => Some(Count::CountFloat(f64::from_bits(rng.next()))),
        },
        sum: f64::from_bits(rng.next()),
        schema: rng.next() as i32 >> rng.below(32),
        zero_threshold: f64::from_bits(rng.next()),
        zero_count: match rng.below(3) {
            0 => None,
            1 => Some(ZeroCount::ZeroCountInt(rng.next() >> rng.below(64))),
            _ => Some(ZeroCount::ZeroCountFloat(f64::from_bits(rng.next()))),
        },
        negative_spans: spans(rng),
        negative_deltas: deltas(rng),
        negative_counts: floats(rng),
        positive_spans: spans(rng),
        positive_deltas: deltas(rng),
        positive_counts: floats(rng),
        reset_hint: if rng.below(8) == 0 {
            rng.next() as i32
        } else {
            rng.below(4) as i32
        },
        timestamp: rng.next() as i64 >> rng.below(64),
        custom_values: floats(rng),
    }
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
            histograms: (0..rng.below(4) / 2)
                .map(|_| random_histogram(rng))
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
            // WriteRequest.metadata (field 3, a counter without text) and a varint field
            // 9, unknown here.
            out.extend_from_slice(&[0x1A, 2, 0x08, 0x01, 0x48, 0xFF, 0x01]);
        }
        if rng.below(3) == 0 {
            let text = [
                "",
                "http_requests_total",
                "Requests served.",
                "seconds",
                "\u{2603}",
            ];
            let mut m = MetricMetadata {
                r#type: [0, 1, 2, 5, 7, 8, -1][rng.index(7)],
                metric_family_name: text[rng.index(text.len())].into(),
                help: text[rng.index(text.len())].into(),
                unit: text[rng.index(text.len())].into(),
            };
            if rng.below(20) == 0 {
                m.help.push(0xFF);
            }
            let mut body = m.encode_to_vec();
            if rng.below(4) == 0 {
                // An unknown field 3 (a string, as in the reserved slot) and a fixed64.
                body.extend_from_slice(&[0x1A, 1, b'x', 0x31, 1, 2, 3, 4, 5, 6, 7, 8]);
            }
            out.push(0x1A);
            varint(body.len() as u64, &mut out);
            out.extend_from_slice(&body);
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

/// Bit-exact equality (NaN samples and NaN histogram fields included: histograms are
/// compared by their engine encoding, which keeps every bit).
fn same(a: &Decoded, b: &Decoded) -> bool {
    let bits = |d: &Decoded| {
        d.histograms
            .iter()
            .map(|s| {
                let hs: Vec<_> = s
                    .histograms
                    .iter()
                    .map(|h| (h.ts, strata_engine::Histogram::to_bytes(&h.h)))
                    .collect();
                (s.labels.clone(), hs)
            })
            .collect::<Vec<_>>()
    };
    a.samples == b.samples
        && a.metadata == b.metadata
        && a.metadata_refused == b.metadata_refused
        && a.histograms_refused == b.histograms_refused
        && bits(a) == bits(b)
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
fn decodes_metadata_entries_and_refuses_bad_ones_alone() {
    let m = |t: i32, family: &str, help: &str, unit: &str| MetricMetadata {
        r#type: t,
        metric_family_name: family.into(),
        help: help.into(),
        unit: unit.into(),
    };
    let mut bad_utf8 = m(1, "x_total", "", "");
    bad_utf8.help = vec![b'a', 0xFF];
    let req = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: vec![label("__name__", "up")],
            samples: vec![PbSample {
                value: 1.0,
                timestamp: 5,
            }],
            exemplars: vec![],
            histograms: vec![],
        }],
        metadata: vec![
            m(1, "http_requests_total", "Requests served.", ""),
            m(4, "queue", "", "bytes"),
            m(7, "feature", "A stateset.", ""),
            m(9, "future_type", "", ""),
            bad_utf8,
        ],
    };
    let raw = req.encode_to_vec();
    let batch = Batch::parse(&raw).unwrap();
    let e = |family: &str, kind, help: &str, unit: &str| FamilyMetadata {
        family: family.into(),
        metadata: Metadata {
            kind,
            help: help.into(),
            unit: unit.into(),
        },
    };
    assert_eq!(
        batch.metadata,
        vec![
            e(
                "http_requests_total",
                MetricType::Counter,
                "Requests served.",
                ""
            ),
            e("queue", MetricType::GaugeHistogram, "", "bytes"),
            e("feature", MetricType::StateSet, "A stateset.", ""),
        ]
    );
    assert_eq!(batch.metadata_refused.rejected[&MetadataReject::Invalid], 2);
    let msg = batch.metadata_refused.message().unwrap();
    assert!(
        msg.contains("metadata[3]: metric \"future_type\": unknown metric type 9"),
        "{msg}"
    );
    // The series is decoded as before.
    assert_eq!(batch.samples(), 1);
}

#[test]
fn the_in_place_reader_agrees_with_prost() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut ok, mut err, mut meta, mut meta_refused) = (0, 0, 0, 0);
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
                meta += w.metadata.len();
                meta_refused += w.metadata_refused;
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
    assert!(
        meta > 2_000 && meta_refused > 500,
        "metadata {meta}, refused {meta_refused}"
    );
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
