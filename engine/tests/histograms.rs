//! Native histograms through the engine: written, placed in the head beside the floats,
//! read back bit-exact by `select`; validation, reduction and the limits on the write path.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;

use strata_engine::{
    Counts, Engine, EngineConfig, Histogram, HistogramSample, KeyedSeries, Limits, MatchOp,
    Matcher, RejectReason, ResetHint, Sample, SeriesData, SeriesHistograms, SeriesSamples, Span,
    TenantId,
};

/// Prometheus's staleness marker (a NaN with this payload).
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

fn t() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn open(dir: &std::path::Path, limits: Limits) -> Engine {
    let config = EngineConfig {
        limits,
        ..common::config()
    };
    Engine::open(dir, config).unwrap()
}

/// An integer histogram, schema 0: buckets (1,2] = 1 and (2,4] = 2, zero bucket 1.
fn int_h() -> Histogram {
    Histogram {
        schema: 0,
        zero_threshold: 0.001,
        sum: 7.5,
        reset_hint: ResetHint::NotReset,
        positive_spans: vec![Span {
            offset: 1,
            length: 2,
        }],
        negative_spans: vec![Span {
            offset: 0,
            length: 1,
        }],
        custom_values: vec![],
        counts: Counts::Int {
            count: 5,
            zero_count: 1,
            positive_deltas: vec![1, 1],
            negative_deltas: vec![1],
        },
    }
}

/// A float gauge histogram, schema 3.
fn float_h() -> Histogram {
    Histogram {
        schema: 3,
        zero_threshold: 0.0,
        sum: -2.25,
        reset_hint: ResetHint::Gauge,
        positive_spans: vec![
            Span {
                offset: -2,
                length: 1,
            },
            Span {
                offset: 3,
                length: 2,
            },
        ],
        negative_spans: vec![],
        custom_values: vec![],
        counts: Counts::Float {
            count: 4.5,
            zero_count: 0.5,
            positive: vec![0.25, 1.75, 2.0],
            negative: vec![],
        },
    }
}

/// A custom-bucket (schema -53) histogram with bounds 0.1, 1, 10 and `n` buckets from 0.
fn custom_h(n: u32) -> Histogram {
    Histogram {
        schema: -53,
        zero_threshold: 0.0,
        sum: 12.0,
        reset_hint: ResetHint::Unknown,
        positive_spans: vec![Span {
            offset: 0,
            length: n,
        }],
        negative_spans: vec![],
        custom_values: (0..n.saturating_sub(1))
            .map(|i| 0.1 * 10f64.powi(i as i32))
            .collect(),
        counts: Counts::Int {
            count: u64::from(n),
            zero_count: 0,
            positive_deltas: (0..n).map(|i| i64::from(i == 0)).collect(),
            negative_deltas: vec![],
        },
    }
}

/// A stale marker: an empty integer histogram whose sum is the staleness NaN.
fn stale_h() -> Histogram {
    Histogram {
        sum: f64::from_bits(STALE_NAN),
        ..Histogram {
            schema: 0,
            zero_threshold: 0.0,
            sum: 0.0,
            reset_hint: ResetHint::Unknown,
            positive_spans: vec![],
            negative_spans: vec![],
            custom_values: vec![],
            counts: Counts::Int {
                count: 0,
                zero_count: 0,
                positive_deltas: vec![],
                negative_deltas: vec![],
            },
        }
    }
}

fn hs(ts: i64, h: Histogram) -> HistogramSample {
    HistogramSample { ts, h: Arc::new(h) }
}

fn series(name: &str, histograms: Vec<HistogramSample>) -> SeriesHistograms {
    SeriesHistograms {
        labels: vec![("__name__".into(), name.into())],
        histograms,
    }
}

fn select(engine: &Engine, name: &str) -> Vec<SeriesData> {
    let m = Matcher::new("__name__", MatchOp::Equal, name).unwrap();
    engine.select(&t(), &[m], i64::MIN, i64::MAX).unwrap()
}

/// The histograms of series `name` as (ts, encoding): equal encodings are bit-exact.
fn read_bytes(engine: &Engine, name: &str) -> Vec<(i64, Vec<u8>)> {
    let found = select(engine, name);
    assert_eq!(found.len(), 1, "{name}: {found:?}");
    found[0]
        .histograms
        .iter()
        .map(|s| (s.ts, s.h.to_bytes()))
        .collect()
}

fn bytes_of(v: &[HistogramSample]) -> Vec<(i64, Vec<u8>)> {
    v.iter().map(|s| (s.ts, s.h.to_bytes())).collect()
}

#[test]
fn histograms_round_trip_bit_exact_through_the_head() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), common::limits());
    // Out of time order on purpose: select returns them sorted.
    let written = vec![
        hs(3_000, custom_h(4)),
        hs(1_000, int_h()),
        hs(2_000, float_h()),
        hs(4_000, stale_h()),
    ];
    let out = engine
        .write_histograms(&t(), &[series("lat", written.clone())])
        .unwrap();
    assert_eq!(out.accepted, 4);
    assert_eq!(out.accepted_histograms, 4);
    assert_eq!(out.rejected_total(), 0, "{:?}", out.messages);

    let found = select(&engine, "lat");
    assert_eq!(found.len(), 1);
    assert!(found[0].samples.is_empty());
    let got = &found[0].histograms;
    let ts: Vec<i64> = got.iter().map(|s| s.ts).collect();
    assert_eq!(ts, [1_000, 2_000, 3_000, 4_000]);
    assert_eq!(*got[0].h, int_h());
    assert_eq!(*got[1].h, float_h());
    assert_eq!(*got[2].h, custom_h(4));
    assert_eq!(got[3].h.sum.to_bits(), STALE_NAN, "the stale marker's bits");
    let mut sorted = written;
    sorted.sort_by_key(|s| s.ts);
    assert_eq!(bytes_of(got), bytes_of(&sorted));

    // The time range applies to histograms too, and a series with only histograms in it
    // is returned.
    let m = Matcher::new("__name__", MatchOp::Equal, "lat").unwrap();
    let part = engine
        .select(&t(), std::slice::from_ref(&m), 1_500, 3_000)
        .unwrap();
    assert_eq!(part[0].histograms.len(), 2);
    assert!(engine.select(&t(), &[m], 5_000, 9_000).unwrap().is_empty());
    assert!(
        engine
            .label_values(&t(), "__name__", 0, 10_000)
            .unwrap()
            .contains(&"lat".to_owned())
    );
}

#[test]
fn floats_and_histograms_share_a_series_one_sample_per_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), common::limits());
    let labels = [("__name__", "mixed")];
    let floats = [Sample {
        ts: 1_000,
        value: 1.0,
    }];
    let hists = [hs(2_000, int_h())];
    // One keyed write carrying both kinds.
    let both = KeyedSeries {
        key: b"mixed",
        by_symbols: false,
        known: None,
        labels: &labels,
        samples: &floats,
        histograms: &hists,
        sample_starts: &[],
        histogram_starts: &[],
    };
    let out = engine.write_keyed(&t(), &[both]).unwrap();
    assert_eq!((out.accepted, out.accepted_histograms), (2, 1));

    // Same histogram again: a duplicate; another histogram at its ts: a conflict; a float
    // at its ts: a conflict; a histogram at the float's ts: a conflict.
    let out = engine
        .write_histograms(&t(), &[series("mixed", vec![hs(2_000, int_h())])])
        .unwrap();
    assert_eq!((out.accepted, out.duplicates), (0, 1));
    let out = engine
        .write_histograms(
            &t(),
            &[series(
                "mixed",
                vec![hs(2_000, float_h()), hs(1_000, int_h())],
            )],
        )
        .unwrap();
    assert_eq!(out.accepted, 0);
    assert_eq!(
        out.rejected,
        BTreeMap::from([(RejectReason::ConflictingValue, 2)])
    );
    let float_there = SeriesSamples {
        labels: vec![("__name__".into(), "mixed".into())],
        samples: vec![Sample {
            ts: 2_000,
            value: 1.0,
        }],
    };
    let out = engine.write(&t(), &[float_there]).unwrap();
    assert_eq!(
        out.rejected,
        BTreeMap::from([(RejectReason::ConflictingValue, 1)])
    );

    let found = select(&engine, "mixed");
    assert_eq!(found[0].samples, floats);
    assert_eq!(bytes_of(&found[0].histograms), bytes_of(&hists));
}

#[test]
fn a_schema_12_histogram_is_stored_at_schema_8() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), common::limits());
    // Schema 12 buckets 1..=16 (each count 1) span (1, 2^(16/4096)] = (1, 2^(1/256)]: the
    // single bucket 1 of schema 8.
    let fine = Histogram {
        schema: 12,
        zero_threshold: 0.0,
        sum: 16.0,
        reset_hint: ResetHint::Unknown,
        positive_spans: vec![Span {
            offset: 1,
            length: 16,
        }],
        negative_spans: vec![],
        custom_values: vec![],
        counts: Counts::Int {
            count: 16,
            zero_count: 0,
            positive_deltas: (0..16).map(|i| i64::from(i == 0)).collect(),
            negative_deltas: vec![],
        },
    };
    let out = engine
        .write_histograms(&t(), &[series("fine", vec![hs(1, fine.clone())])])
        .unwrap();
    assert_eq!(out.accepted, 1, "{:?}", out.messages);
    let coarse = Histogram {
        schema: 8,
        positive_spans: vec![Span {
            offset: 1,
            length: 1,
        }],
        counts: Counts::Int {
            count: 16,
            zero_count: 0,
            positive_deltas: vec![16],
            negative_deltas: vec![],
        },
        ..fine
    };
    assert_eq!(*select(&engine, "fine")[0].histograms[0].h, coarse);
}

#[test]
fn invalid_histograms_are_rejected_and_the_rest_of_the_batch_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path(), common::limits());
    let mismatch = Histogram {
        positive_spans: vec![Span {
            offset: 1,
            length: 3,
        }],
        ..int_h()
    };
    let negative = Histogram {
        counts: Counts::Float {
            count: -1.0,
            zero_count: 0.0,
            positive: vec![0.25, 1.75, 2.0],
            negative: vec![],
        },
        ..float_h()
    };
    let schema_99 = Histogram {
        schema: 99,
        ..int_h()
    };
    let batch = [
        series(
            "bad",
            vec![
                hs(1, mismatch),
                hs(2, int_h()),
                hs(3, negative),
                hs(4, schema_99),
            ],
        ),
        series("good", vec![hs(1, float_h())]),
    ];
    let out = engine.write_histograms(&t(), &batch).unwrap();
    assert_eq!(out.accepted, 2);
    assert_eq!(out.accepted_histograms, 2);
    assert_eq!(
        out.rejected,
        BTreeMap::from([(RejectReason::InvalidHistogram, 3)])
    );
    let msg = &out.messages[&RejectReason::InvalidHistogram];
    assert!(msg.contains("bad"), "names the series: {msg}");
    assert!(msg.contains("spans need 3 buckets, have 2"), "{msg}");
    assert_eq!(RejectReason::InvalidHistogram.as_str(), "invalid_histogram");
    assert_eq!(read_bytes(&engine, "bad"), vec![(2, int_h().to_bytes())]);
    assert_eq!(read_bytes(&engine, "good"), vec![(1, float_h().to_bytes())]);
    let stats = engine.tenant_stats(&t());
    assert_eq!(stats.rejected[&RejectReason::InvalidHistogram], 3);
}

#[test]
fn the_bucket_limit_reduces_resolution_or_rejects() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_native_histogram_buckets: 4,
        ..common::limits()
    };
    let engine = open(dir.path(), limits);
    // Schema 0 buckets 1..=8 with counts 1..=8; at schema -1 bucket j covers schema 0's
    // 2j-1 and 2j: counts 3, 7, 11, 15 (4 buckets, within the limit).
    let wide = Histogram {
        schema: 0,
        zero_threshold: 0.0,
        sum: 100.0,
        reset_hint: ResetHint::Unknown,
        positive_spans: vec![Span {
            offset: 1,
            length: 8,
        }],
        negative_spans: vec![],
        custom_values: vec![],
        counts: Counts::Int {
            count: 36,
            zero_count: 0,
            positive_deltas: vec![1; 8],
            negative_deltas: vec![],
        },
    };
    let batch = [
        series("wide", vec![hs(1, wide.clone())]),
        series("custom", vec![hs(1, custom_h(5)), hs(2, custom_h(4))]),
    ];
    let out = engine.write_histograms(&t(), &batch).unwrap();
    assert_eq!(out.accepted, 2);
    assert_eq!(
        out.rejected,
        BTreeMap::from([(RejectReason::TooManyBuckets, 1)])
    );
    assert_eq!(RejectReason::TooManyBuckets.as_str(), "too_many_buckets");
    let reduced = Histogram {
        schema: -1,
        positive_spans: vec![Span {
            offset: 1,
            length: 4,
        }],
        counts: Counts::Int {
            count: 36,
            zero_count: 0,
            positive_deltas: vec![3, 4, 4, 4],
            negative_deltas: vec![],
        },
        ..wide
    };
    assert_eq!(*select(&engine, "wide")[0].histograms[0].h, reduced);
    assert_eq!(
        read_bytes(&engine, "custom"),
        vec![(2, custom_h(4).to_bytes())]
    );
}

#[test]
fn a_histogram_counts_as_one_sample_against_the_rate_and_series_limits() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        ingest_rate: 0.001,
        ingest_burst: 3.0,
        max_active_series: 2,
        ..common::limits()
    };
    let engine = open(dir.path(), limits);
    let floats = [Sample { ts: 1, value: 1.0 }, Sample { ts: 2, value: 2.0 }];
    let hists = [hs(3, int_h()), hs(4, int_h()), hs(5, int_h())];
    let labels = [("__name__", "a")];
    let a = KeyedSeries {
        key: &[],
        by_symbols: false,
        known: None,
        labels: &labels,
        samples: &floats,
        histograms: &hists,
        sample_starts: &[],
        histogram_starts: &[],
    };
    let out = engine.write_keyed(&t(), &[a]).unwrap();
    // Three tokens: the two floats, then one histogram.
    assert_eq!((out.accepted, out.accepted_histograms), (3, 1));
    assert_eq!(
        out.rejected,
        BTreeMap::from([(RejectReason::RateLimited, 2)])
    );
    let found = select(&engine, "a");
    assert_eq!(found[0].samples.len(), 2);
    assert_eq!(found[0].histograms.len(), 1);

    // The series limit: one series' two histograms are rejected as two samples.
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_active_series: 2,
        ..common::limits()
    };
    let engine = open(dir.path(), limits);
    let two = || vec![hs(1, int_h()), hs(2, int_h())];
    let batch = [
        series("s1", two()),
        series("s2", two()),
        series("s3", two()),
    ];
    let out = engine.write_histograms(&t(), &batch).unwrap();
    assert_eq!(out.accepted, 4);
    assert_eq!(
        out.rejected,
        BTreeMap::from([(RejectReason::SeriesLimit, 2)])
    );
}

#[test]
fn histograms_survive_a_reopen_through_the_wal_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let written = vec![
        hs(1_000, int_h()),
        hs(2_000, float_h()),
        hs(3_000, custom_h(4)),
        hs(4_000, stale_h()),
    ];
    let floats = vec![Sample {
        ts: 500,
        value: 0.5,
    }];
    {
        let engine = open(dir.path(), common::limits());
        engine
            .write_histograms(&t(), &[series("lat", written[..2].to_vec())])
            .unwrap();
        // A second record: floats and histograms together, in a series defined before.
        let labels = [("__name__", "lat")];
        let both = KeyedSeries {
            key: &[],
            by_symbols: false,
            known: None,
            labels: &labels,
            samples: &floats,
            histograms: &written[2..],
            sample_starts: &[],
            histogram_starts: &[],
        };
        let out = engine.write_keyed(&t(), &[both]).unwrap();
        assert_eq!((out.accepted, out.accepted_histograms), (3, 2));
        assert!(engine.tenant_stats(&t()).memory.histograms > 0);
        // Dropped without closing: what it holds is only in the WAL.
    }
    let engine = open(dir.path(), common::limits());
    let found = select(&engine, "lat");
    assert_eq!(found[0].samples, floats);
    assert_eq!(bytes_of(&found[0].histograms), bytes_of(&written));
    assert_eq!(found[0].histograms[3].h.sum.to_bits(), STALE_NAN);
    let memory = engine.tenant_stats(&t()).memory.histograms;
    let encoded: usize = written.iter().map(|s| s.h.to_bytes().len()).sum();
    assert!(
        memory >= encoded as u64,
        "{memory} bytes counted for {encoded} encoded"
    );
    // The replayed head still detects duplicates and conflicts.
    let out = engine
        .write_histograms(
            &t(),
            &[series("lat", vec![hs(1_000, int_h()), hs(2_000, int_h())])],
        )
        .unwrap();
    assert_eq!(out.duplicates, 1);
    assert_eq!(
        out.rejected,
        BTreeMap::from([(RejectReason::ConflictingValue, 1)])
    );
}

/// Flushes write histograms to Parquet with the floats: a restart after the flush (a
/// crash, or a clean close) reads them back from the files.
#[test]
fn histograms_stay_readable_across_flushes_and_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let floats = vec![Sample {
        ts: 500,
        value: 0.5,
    }];
    let written = vec![hs(1_000, int_h()), hs(2_000, stale_h())];
    let later = vec![hs(3_000, float_h())];
    let float_series = |samples: Vec<Sample>| SeriesSamples {
        labels: vec![("__name__".into(), "lat".into())],
        samples,
    };
    {
        let engine = open(dir.path(), common::limits());
        engine.write(&t(), &[float_series(floats.clone())]).unwrap();
        engine
            .write_histograms(&t(), &[series("lat", written.clone())])
            .unwrap();
        let stats = engine.flush().unwrap();
        assert_eq!(stats.samples, 1, "the float is flushed");
        assert_eq!(stats.histograms, 2, "and the histograms");
        let found = select(&engine, "lat");
        assert_eq!(found[0].samples, floats, "the float, from Parquet");
        assert_eq!(bytes_of(&found[0].histograms), bytes_of(&written));
        // A crash after the flush: dropped without closing.
    }
    let engine = open(dir.path(), common::limits());
    assert_eq!(
        bytes_of(&select(&engine, "lat")[0].histograms),
        bytes_of(&written)
    );
    engine
        .write_histograms(&t(), &[series("lat", later.clone())])
        .unwrap();
    engine
        .write(
            &t(),
            &[float_series(vec![Sample {
                ts: 600,
                value: 1.0,
            }])],
        )
        .unwrap();
    engine.close().unwrap(); // flushes the float, then closes
    let engine = open(dir.path(), common::limits());
    let found = select(&engine, "lat");
    assert_eq!(found[0].samples.len(), 2);
    let all: Vec<_> = written.iter().chain(&later).cloned().collect();
    assert_eq!(bytes_of(&found[0].histograms), bytes_of(&all));
}
