//! Tests of the remote-write 2.0 decoder: hand-built requests, and the differential test of
//! the in-place reader against prost's decoder of `proto.rs` with Prometheus's reference
//! rules (`desymbolizeLabels`, `ToMetadata`, `appendV2`) written out again here.

use std::collections::BTreeMap;

use prost::Message;
use strata_engine::{Counts, ResetHint};

use super::super::proto::{
    BucketSpan, Count, Exemplar, Histogram, Metadata, Request as PbRequest, Sample, TimeSeries,
};
use super::*;
use crate::ingest::remote_write::decode::INVALID_HISTOGRAM;
use crate::ingest::test_rng::Rng;

/// The 1.0 encoding of a series' labels (prost's, as a 1.0 sender's).
fn v1_key(labels: &[(&str, &str)]) -> Vec<u8> {
    use crate::ingest::remote_write::proto::{Label, TimeSeries};
    TimeSeries {
        labels: labels
            .iter()
            .map(|(n, v)| Label {
                name: n.as_bytes().to_vec(),
                value: v.as_bytes().to_vec(),
            })
            .collect(),
        ..Default::default()
    }
    .encode_to_vec()
}

/// Resolves `r` against an engine that knows nothing: every series is decoded.
fn none_known(r: &mut Request<'_>) {
    r.resolve(&|_, series| vec![None; series.len()], &|keys| {
        vec![None; keys.len()]
    });
}

fn symbols(s: &[&str]) -> Vec<String> {
    s.iter().map(|s| (*s).to_owned()).collect()
}

fn sample(value: f64, timestamp: i64) -> Sample {
    Sample {
        value,
        timestamp,
        start_timestamp: 0,
    }
}

/// What the test compares: the batch's series (labels, samples, histogram encodings), its
/// refusals by reason (count only), its exemplars, its metadata entries (family, type
/// number, help, unit) and refusals, and the start timestamp count.
type View = (
    Vec<(Vec<(String, String)>, Vec<(i64, u64)>, Vec<(i64, Vec<u8>)>)>,
    BTreeMap<&'static str, u64>,
    Vec<(
        Vec<(String, String)>,
        Vec<(Vec<(String, String)>, i64, u64)>,
    )>,
    u64,
    (MetaView, u64),
);

type MetaView = (Vec<(String, u8, String, String)>, u64);

fn view(b: &Batch<'_>) -> View {
    let d = b.to_decoded();
    let mut series: Vec<_> = d
        .series
        .iter()
        .map(|s| {
            let samples = s
                .samples
                .iter()
                .map(|x| (x.ts, x.value.to_bits()))
                .collect();
            (s.labels.clone(), samples, Vec::new())
        })
        .collect();
    for h in &d.histograms {
        let hs: Vec<_> = h
            .histograms
            .iter()
            .map(|x| (x.ts, x.h.to_bytes()))
            .collect();
        series.push((h.labels.clone(), Vec::new(), hs));
    }
    series.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    let refused = b.refused.iter().map(|(k, v)| (*k, v.count)).collect();
    let exemplars = b
        .exemplars
        .iter()
        .map(|s| {
            let e = s
                .exemplars
                .iter()
                .map(|e| (e.labels.clone(), e.ts, e.value.to_bits()))
                .collect();
            (s.series.clone(), e)
        })
        .collect();
    (
        series,
        refused,
        exemplars,
        b.exemplars_refused.rejected_total(),
        (
            (
                b.metadata
                    .iter()
                    .map(|e| {
                        let m = &e.metadata;
                        (
                            e.family.clone(),
                            m.kind.number(),
                            m.help.clone(),
                            m.unit.clone(),
                        )
                    })
                    .collect(),
                b.metadata_refused.rejected_total(),
            ),
            b.start_timestamps,
        ),
    )
}

#[test]
fn resolves_symbols_and_refuses_bad_series_alone() {
    let req = PbRequest {
        symbols: symbols(&[
            "", "__name__", "up", "job", "api", "trace_id", "abc", "help", "s",
        ]),
        timeseries: vec![
            TimeSeries {
                labels_refs: vec![1, 2, 3, 4],
                samples: vec![Sample {
                    value: 1.0,
                    timestamp: 10,
                    start_timestamp: 5,
                }],
                exemplars: vec![
                    Exemplar {
                        labels_refs: vec![5, 6],
                        value: 1.0,
                        timestamp: 10,
                    },
                    Exemplar {
                        labels_refs: vec![5, 60],
                        value: 2.0,
                        timestamp: 11,
                    },
                ],
                metadata: Some(Metadata {
                    r#type: 1,
                    help_ref: 7,
                    unit_ref: 8,
                }),
                ..Default::default()
            },
            // A value reference outside the table: refused with its two samples.
            TimeSeries {
                labels_refs: vec![1, 99],
                samples: vec![sample(1.0, 1), sample(2.0, 2)],
                ..Default::default()
            },
            // Odd references, and a series with nothing to store.
            TimeSeries {
                labels_refs: vec![1],
                samples: vec![sample(1.0, 1)],
                ..Default::default()
            },
            TimeSeries {
                labels_refs: vec![1, 2],
                ..Default::default()
            },
            // A histogram with start timestamp and a bad metadata ref (refused).
            TimeSeries {
                labels_refs: vec![1, 2],
                histograms: vec![Histogram {
                    count: Some(Count::CountInt(1)),
                    positive_spans: vec![BucketSpan {
                        offset: 0,
                        length: 1,
                    }],
                    positive_deltas: vec![1],
                    timestamp: 20,
                    start_timestamp: 15,
                    ..Default::default()
                }],
                metadata: Some(Metadata {
                    r#type: 3,
                    help_ref: 100,
                    unit_ref: 0,
                }),
                ..Default::default()
            },
            // A histogram with a reset hint outside the enum.
            TimeSeries {
                labels_refs: vec![1, 2],
                histograms: vec![Histogram {
                    reset_hint: 9,
                    timestamp: 30,
                    ..Default::default()
                }],
                ..Default::default()
            },
        ],
    };
    let raw = req.encode_to_vec();
    let mut r = Request::parse(&raw).unwrap();
    none_known(&mut r);
    let b = r.batch();
    let got = b.to_decoded();
    assert_eq!(got.series.len(), 1);
    assert_eq!(
        got.series[0].labels,
        vec![
            ("__name__".to_owned(), "up".to_owned()),
            ("job".to_owned(), "api".to_owned())
        ]
    );
    assert_eq!(got.series[0].samples[0].ts, 10);
    // The key is the 1.0 encoding of the same labels.
    let v1 = v1_key(&[("__name__", "up"), ("job", "api")]);
    assert_eq!(b.series()[0].key, &v1[..]);
    let refused: Vec<_> = b.refused.iter().map(|(k, v)| (*k, v.count)).collect();
    assert_eq!(
        refused,
        vec![(EMPTY_SERIES, 1), (INVALID_HISTOGRAM, 1), (INVALID_REFS, 4)]
    );
    let first = b.refused[INVALID_REFS].first.clone().unwrap();
    assert_eq!(
        first,
        "timeseries[1]: labels_refs 1 (name) = 99 (value) outside of symbols table (size 9)"
    );
    assert_eq!(b.exemplars.len(), 1);
    assert_eq!(
        b.exemplars[0].exemplars[0].labels,
        vec![("trace_id".to_owned(), "abc".to_owned())]
    );
    assert_eq!(b.exemplars_refused.rejected_total(), 1);
    // Metadata of the stored series, under its `__name__`; start timestamps of the whole
    // request.
    assert_eq!(
        b.metadata,
        vec![strata_engine::FamilyMetadata {
            family: "up".into(),
            metadata: strata_engine::Metadata {
                kind: strata_engine::MetricType::Counter,
                help: "help".into(),
                unit: "s".into(),
            },
        }]
    );
    assert_eq!(b.start_timestamps, 2);
    assert!(got.histograms.is_empty());
}

#[test]
fn refuses_a_bad_symbols_table() {
    for (syms, want) in [
        (symbols(&["x", "a"]), "symbols[0] must be the empty string"),
        (Vec::new(), "symbols[0] must be the empty string"),
    ] {
        let req = PbRequest {
            symbols: syms,
            timeseries: vec![TimeSeries {
                labels_refs: vec![0, 0],
                samples: vec![sample(1.0, 1)],
                ..Default::default()
            }],
        };
        let err = Request::parse(&req.encode_to_vec()).unwrap_err();
        assert!(err.to_string().contains(want), "{err}");
    }
    // A symbol that is not UTF-8: [4, 1, 0xFF].
    let err = Request::parse(&[0x22, 1, 0xFF]).unwrap_err();
    assert!(
        err.to_string().contains("symbols[0] is not valid UTF-8"),
        "{err}"
    );
}

#[test]
fn float_histograms_decode_with_their_counts() {
    let req = PbRequest {
        symbols: symbols(&["", "__name__", "h"]),
        timeseries: vec![TimeSeries {
            labels_refs: vec![1, 2],
            histograms: vec![Histogram {
                count: Some(Count::CountFloat(3.5)),
                sum: 7.0,
                schema: 3,
                positive_spans: vec![BucketSpan {
                    offset: -2,
                    length: 2,
                }],
                positive_counts: vec![1.5, 2.0],
                reset_hint: 1,
                timestamp: 40,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    let raw = req.encode_to_vec();
    let mut r = Request::parse(&raw).unwrap();
    none_known(&mut r);
    let d = r.batch().to_decoded();
    let h = &d.histograms[0].histograms[0];
    assert_eq!(h.ts, 40);
    assert_eq!(
        (h.h.schema, h.h.sum, h.h.reset_hint),
        (3, 7.0, ResetHint::Reset)
    );
    assert_eq!(
        h.h.counts,
        Counts::Float {
            count: 3.5,
            zero_count: 0.0,
            positive: vec![1.5, 2.0],
            negative: vec![]
        }
    );
}

/// Prometheus's rules over prost's message (the reference).
fn reference(raw: &[u8]) -> Result<View, String> {
    let req = PbRequest::decode(raw).map_err(|e| format!("protobuf: {e}"))?;
    if !req.timeseries.is_empty() && req.symbols.first().map(String::as_str) != Some("") {
        return Err("symbols".into());
    }
    let syms = &req.symbols;
    let labels = |refs: &[u32]| -> Option<Vec<(String, String)>> {
        if !refs.len().is_multiple_of(2) {
            return None;
        }
        refs.chunks(2)
            .map(|c| {
                Some((
                    syms.get(c[0] as usize)?.clone(),
                    syms.get(c[1] as usize)?.clone(),
                ))
            })
            .collect()
    };
    let mut series = Vec::new();
    let mut refused: BTreeMap<&'static str, u64> = BTreeMap::new();
    let (mut exemplars, mut ex_refused, mut starts) = (Vec::new(), 0, 0);
    let (mut metadata, mut meta_refused) = (Vec::new(), 0);
    let mut meta_seen = std::collections::HashSet::new();
    for ts in &req.timeseries {
        starts += ts.samples.iter().filter(|s| s.start_timestamp != 0).count() as u64;
        starts += ts
            .histograms
            .iter()
            .filter(|h| h.start_timestamp != 0)
            .count() as u64;
        let n = (ts.samples.len() + ts.histograms.len()) as u64;
        let meta_ok = ts.metadata.is_none_or(|m| {
            (m.help_ref as usize) < syms.len() && (m.unit_ref as usize) < syms.len()
        });
        let Some(ls) = labels(&ts.labels_refs).filter(|_| meta_ok) else {
            if n == 0 {
                *refused.entry(EMPTY_SERIES).or_default() += 1;
            } else {
                *refused.entry(INVALID_REFS).or_default() += n;
            }
            continue;
        };
        if n == 0 {
            *refused.entry(EMPTY_SERIES).or_default() += 1;
            continue;
        }
        if let Some(m) = ts.metadata {
            // Prometheus's `ToMetadata`, and what Strata keeps: under `__name__`, nothing
            // for metadata that says nothing, each distinct entry once, a type outside
            // the enum (0 to 7) refused.
            let (help, unit) = (&syms[m.help_ref as usize], &syms[m.unit_ref as usize]);
            let family = ls
                .iter()
                .find(|(n, _)| n == "__name__")
                .map_or(String::new(), |(_, v)| v.clone());
            let says_something = m.r#type != 0 || !help.is_empty() || !unit.is_empty();
            if says_something && meta_seen.insert((family.clone(), m.r#type, help, unit)) {
                if (0..=7).contains(&m.r#type) {
                    metadata.push((family, m.r#type as u8, help.clone(), unit.clone()));
                } else {
                    meta_refused += 1;
                }
            }
        }
        let samples: Vec<_> = ts
            .samples
            .iter()
            .map(|s| (s.timestamp, s.value.to_bits()))
            .collect();
        let mut hs = Vec::new();
        for h in &ts.histograms {
            let v1 = crate::ingest::remote_write::proto::Histogram {
                count: h.count,
                sum: h.sum,
                schema: h.schema,
                zero_threshold: h.zero_threshold,
                zero_count: h.zero_count,
                negative_spans: h.negative_spans.clone(),
                negative_deltas: h.negative_deltas.clone(),
                negative_counts: h.negative_counts.clone(),
                positive_spans: h.positive_spans.clone(),
                positive_deltas: h.positive_deltas.clone(),
                positive_counts: h.positive_counts.clone(),
                reset_hint: h.reset_hint,
                timestamp: h.timestamp,
                custom_values: h.custom_values.clone(),
            };
            match crate::ingest::remote_write::decode::tests::reference_histogram(&v1) {
                Some(x) => hs.push((h.timestamp, x.to_bytes())),
                None => *refused.entry(INVALID_HISTOGRAM).or_default() += 1,
            }
        }
        let mut ex = Vec::new();
        for e in &ts.exemplars {
            match labels(&e.labels_refs) {
                Some(l) => ex.push((l, e.timestamp, e.value.to_bits())),
                None => ex_refused += 1,
            }
        }
        if !ex.is_empty() {
            exemplars.push((ls.clone(), ex));
        }
        let floats = if samples.is_empty() {
            None
        } else {
            Some((ls.clone(), samples, Vec::new()))
        };
        let hists = if hs.is_empty() {
            None
        } else {
            Some((ls, Vec::new(), hs))
        };
        series.extend(floats);
        series.extend(hists);
    }
    series.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
    Ok((
        series,
        refused,
        exemplars,
        ex_refused,
        ((metadata, meta_refused), starts),
    ))
}

/// A random request: refs in and out of the table, odd ones now and then, empty series,
/// metadata, exemplars and histograms, unknown fields at the top and series levels.
fn request(rng: &mut Rng) -> Vec<u8> {
    let table = [
        "",
        "__name__",
        "up",
        "job",
        "api",
        "\u{e9}t\u{e9}",
        "le",
        "0.5",
    ];
    let n = rng.below(table.len() as u64 + 1) as usize;
    let syms: Vec<String> = if rng.below(10) == 0 {
        symbols(&["x", "y"])
    } else {
        table[..n].iter().map(|s| (*s).to_owned()).collect()
    };
    let refs = |rng: &mut Rng| -> Vec<u32> {
        (0..rng.below(5) * 2 + u64::from(rng.below(12) == 0))
            .map(|_| rng.below(table.len() as u64 + 1) as u32)
            .collect()
    };
    let mut out = Vec::new();
    for _ in 0..rng.below(4) {
        let ts = TimeSeries {
            labels_refs: refs(rng),
            samples: (0..rng.below(3))
                .map(|_| Sample {
                    value: f64::from_bits(rng.next()),
                    timestamp: rng.next() as i64 >> rng.below(64),
                    start_timestamp: if rng.below(2) == 0 {
                        0
                    } else {
                        rng.next() as i64
                    },
                })
                .collect(),
            histograms: (0..rng.below(4) / 2)
                .map(|_| {
                    let h = crate::ingest::remote_write::decode::tests::random_histogram(rng);
                    Histogram {
                        count: h.count,
                        sum: h.sum,
                        schema: h.schema,
                        zero_threshold: h.zero_threshold,
                        zero_count: h.zero_count,
                        negative_spans: h.negative_spans,
                        negative_deltas: h.negative_deltas,
                        negative_counts: h.negative_counts,
                        positive_spans: h.positive_spans,
                        positive_deltas: h.positive_deltas,
                        positive_counts: h.positive_counts,
                        reset_hint: h.reset_hint,
                        timestamp: h.timestamp,
                        custom_values: h.custom_values,
                        start_timestamp: if rng.below(2) == 0 {
                            0
                        } else {
                            rng.next() as i64
                        },
                    }
                })
                .collect(),
            exemplars: (0..rng.below(3) / 2)
                .map(|_| Exemplar {
                    labels_refs: refs(rng),
                    value: f64::from_bits(rng.next()),
                    timestamp: rng.next() as i64,
                })
                .collect(),
            metadata: (rng.below(3) == 0).then(|| Metadata {
                r#type: rng.below(9) as i32,
                help_ref: rng.below(table.len() as u64 + 1) as u32,
                unit_ref: rng.below(table.len() as u64 + 1) as u32,
            }),
        };
        let mut body = ts.encode_to_vec();
        if rng.below(4) == 0 {
            // Reserved field 6 (a varint) and a fixed32 field 9: unknown, skipped.
            body.extend_from_slice(&[0x30, 0x01, 0x4D, 1, 2, 3, 4]);
        }
        out.push(0x2A);
        prost::encoding::encode_varint(body.len() as u64, &mut out);
        out.extend_from_slice(&body);
    }
    let mut head = Vec::new();
    for s in &syms {
        prost::encoding::string::encode(4, s, &mut head);
    }
    if rng.below(5) == 0 {
        // Reserved field 1 as a length-delimited field: skipped.
        head.extend_from_slice(&[0x0A, 1, 0x00]);
    }
    // Symbols before or after the series: both are one table.
    if rng.below(2) == 0 {
        [head, out].concat()
    } else {
        [out, head].concat()
    }
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

#[test]
fn the_in_place_reader_agrees_with_prost() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let (mut ok, mut err, mut meta, mut meta_refused) = (0, 0, 0, 0);
    for round in 0..20_000 {
        let valid = request(&mut rng);
        let raw = if round % 2 == 0 {
            valid
        } else {
            mutate(&mut rng, valid)
        };
        let want = reference(&raw);
        let got = Request::parse(&raw).map(|mut r| {
            none_known(&mut r);
            view(&r.batch())
        });
        match (&want, &got) {
            (Ok(w), Ok(g)) => {
                assert_eq!(w, g, "{raw:?}");
                ok += 1;
                meta += w.4.0.0.len();
                meta_refused += w.4.0.1;
            }
            (Err(_), Err(_)) => err += 1,
            _ => panic!("{raw:?}: prost {want:?}, reader {got:?}"),
        }
    }
    assert!(ok > 5_000 && err > 2_000, "ok {ok}, err {err}");
    assert!(
        meta > 200 && meta_refused > 20,
        "metadata {meta}, refused {meta_refused}"
    );
}

#[test]
fn start_timestamps_stay_with_their_samples_and_histograms() {
    let with = |timestamp, start_timestamp| Sample {
        value: 1.0,
        timestamp,
        start_timestamp,
    };
    let hist = |timestamp, start_timestamp| Histogram {
        count: Some(Count::CountInt(0)),
        timestamp,
        start_timestamp,
        ..Default::default()
    };
    let req = PbRequest {
        symbols: symbols(&["", "__name__", "a", "b", "c", "d"]),
        timeseries: vec![
            // No start on the request's first samples, one on the third.
            TimeSeries {
                labels_refs: vec![1, 2],
                samples: vec![with(10, 0), with(20, 0)],
                ..Default::default()
            },
            // Refused (bad reference): its samples' starts must not shift the others'.
            TimeSeries {
                labels_refs: vec![1, 99],
                samples: vec![with(10, 7)],
                ..Default::default()
            },
            TimeSeries {
                labels_refs: vec![1, 3],
                samples: vec![with(30, 5), with(40, 0), with(50, 45)],
                histograms: vec![hist(30, 0), hist(60, 55)],
                ..Default::default()
            },
            TimeSeries {
                labels_refs: vec![1, 4],
                samples: vec![with(70, 0)],
                ..Default::default()
            },
        ],
    };
    let raw = req.encode_to_vec();
    let mut r = Request::parse(&raw).unwrap();
    none_known(&mut r);
    let b = r.batch();
    assert_eq!(b.start_timestamps, 4);
    let got: Vec<(Vec<i64>, Vec<i64>, Vec<i64>)> = b
        .series()
        .iter()
        .map(|s| {
            let ts = s.samples.iter().map(|x| x.ts).collect();
            let starts: Vec<i64> = (0..s.samples.len())
                .map(|i| s.sample_starts.get(i).copied().unwrap_or(0))
                .collect();
            let hstarts = (0..s.histograms.len())
                .map(|i| s.histogram_starts.get(i).copied().unwrap_or(0))
                .collect();
            assert!(s.sample_starts.is_empty() || s.sample_starts.len() == s.samples.len());
            (ts, starts, hstarts)
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (vec![10, 20], vec![0, 0], vec![]),
            (vec![30, 40, 50], vec![5, 0, 45], vec![0, 55]),
            (vec![70], vec![0], vec![]),
        ]
    );
    // A request without start timestamps carries none.
    let plain = PbRequest {
        symbols: symbols(&["", "__name__", "a"]),
        timeseries: vec![TimeSeries {
            labels_refs: vec![1, 2],
            samples: vec![with(10, 0)],
            ..Default::default()
        }],
    };
    let raw = plain.encode_to_vec();
    let mut r = Request::parse(&raw).unwrap();
    none_known(&mut r);
    let b = r.batch();
    assert!(b.series()[0].sample_starts.is_empty() && b.start_timestamps == 0);
}

#[test]
fn known_series_are_found_by_their_symbols_without_a_key() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    // Series {__name__="up", job=J} with the symbols in the order given.
    let request = |syms: &[&str], series: &[[u32; 4]]| {
        PbRequest {
            symbols: symbols(syms),
            timeseries: series
                .iter()
                .map(|refs| TimeSeries {
                    labels_refs: refs.to_vec(),
                    samples: vec![sample(1.0, now)],
                    ..Default::default()
                })
                .collect(),
        }
        .encode_to_vec()
    };
    let dir = tempfile::tempdir().unwrap();
    let engine =
        strata_engine::Engine::open(dir.path(), strata_engine::EngineConfig::default()).unwrap();
    let t = strata_engine::TenantId::new("t").unwrap();
    let by_symbols = |strings: &[&str], series: &[&[u32]]| {
        engine.known_series_symbols(&t, strings, series).unwrap()
    };
    let by_keys = |keys: &[&[u8]]| engine.known_series(&t, keys).unwrap();
    // First request: both unknown, keys built (1.0's encoding), stored and remembered.
    let raw = request(
        &["", "__name__", "up", "job", "a", "b"],
        &[[1, 2, 3, 4], [1, 2, 3, 5]],
    );
    let mut r = Request::parse(&raw).unwrap();
    r.resolve(&by_symbols, &by_keys);
    let b = r.batch();
    let first = b.series();
    assert!(
        first
            .iter()
            .all(|s| s.known.is_none() && !s.key.is_empty() && s.by_symbols)
    );
    assert_eq!(engine.write_keyed(&t, &first).unwrap().accepted, 2);
    // Another request, other symbol order: "a" is found (no labels, no key), "c" is new.
    let raw = request(
        &["", "job", "c", "a", "up", "__name__"],
        &[[5, 4, 1, 3], [5, 4, 1, 2]],
    );
    let mut r = Request::parse(&raw).unwrap();
    r.resolve(&by_symbols, &by_keys);
    let b = r.batch();
    let got = b.series();
    assert!(got[0].known.is_some() && got[0].labels.is_empty() && got[0].key.is_empty());
    assert!(got[1].known.is_none());
    assert_eq!(got[1].labels, &[("__name__", "up"), ("job", "c")]);
    // The engine resolves the found series to the one stored first: one series, two samples.
    let next = [strata_engine::Sample {
        ts: now + 1,
        value: 2.0,
    }];
    let later: Vec<_> = got
        .iter()
        .map(|s| strata_engine::KeyedSeries {
            samples: &next,
            ..*s
        })
        .collect();
    assert_eq!(engine.write_keyed(&t, &later).unwrap().accepted, 2);
    let m = strata_engine::Matcher::new("job", strata_engine::MatchOp::Equal, "a").unwrap();
    let sel = engine.select(&t, &[m], now - 10, now + 10).unwrap();
    assert_eq!(sel.len(), 1);
    assert_eq!(sel[0].samples.len(), 2);
    // Remembered by its symbols, not by the key it was sent with: a 1.0 writer's key for
    // the same series is not known (it is learnt on its first 1.0 write).
    let v1 = v1_key(&[("__name__", "up"), ("job", "a")]);
    assert_eq!(first[0].key, &v1[..]);
    assert!(engine.known_series(&t, &[&v1]).unwrap()[0].is_none());
    // A series remembered by its key (as a relabeled one is) is found by that key.
    let key = v1_key(&[("__name__", "up"), ("job", "d")]);
    let by_key = strata_engine::KeyedSeries {
        key: &key,
        by_symbols: false,
        known: None,
        labels: &[("__name__", "up"), ("job", "d")],
        samples: &next,
        histograms: &[],
        sample_starts: &[],
        histogram_starts: &[],
    };
    assert_eq!(engine.write_keyed(&t, &[by_key]).unwrap().accepted, 1);
    let raw = request(&["", "__name__", "up", "job", "d"], &[[1, 2, 3, 4]]);
    let mut r = Request::parse(&raw).unwrap();
    r.resolve(&by_symbols, &by_keys);
    let b = r.batch();
    assert!(b.series()[0].known.is_some() && b.series()[0].labels.is_empty());
}
