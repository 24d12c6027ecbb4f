//! Native histograms through flushes: written to the sets' histograms files, read back
//! bit-exact (also while a flush runs and after a reopen), merged by compaction (the
//! oldest flush's sample wins, whichever kind), deleted, dropped by retention; a
//! histogram-only workload flushes.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strata_engine::{
    Counts, Engine, EngineConfig, FlushStop, Histogram, HistogramSample, Limits, ManualClock,
    MatchOp, Matcher, ResetHint, Sample, SeriesData, SeriesHistograms, SeriesSamples, Span,
    TenantId,
};

/// Prometheus's staleness marker (a NaN with this payload).
const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;
/// 2025-11-21T00:00:00Z
const DAY: i64 = 1_763_683_200_000;
const HOUR: i64 = 3_600_000;

fn t() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn open(dir: &Path) -> Engine {
    Engine::open(dir, common::config()).unwrap()
}

/// An integer histogram, schema 0, with positive and negative buckets and a zero bucket.
fn int_h(k: u64) -> Histogram {
    Histogram {
        schema: 0,
        zero_threshold: 0.001,
        sum: 7.5 + k as f64,
        reset_hint: ResetHint::NotReset,
        positive_spans: vec![Span {
            offset: 1,
            length: 2,
        }],
        negative_spans: vec![Span {
            offset: -1,
            length: 1,
        }],
        custom_values: vec![],
        counts: Counts::Int {
            count: 5 + 2 * k,
            zero_count: 1,
            positive_deltas: vec![1 + k as i64, 1],
            negative_deltas: vec![1],
        },
    }
}

/// A float gauge histogram, schema 3, with a NaN-free -0.0 sum.
fn float_h() -> Histogram {
    Histogram {
        schema: 3,
        zero_threshold: 0.0,
        sum: -0.0,
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
        negative_spans: vec![Span {
            offset: 0,
            length: 1,
        }],
        custom_values: vec![],
        counts: Counts::Float {
            count: 5.0,
            zero_count: 0.5,
            positive: vec![0.25, 1.75, 2.0],
            negative: vec![0.5],
        },
    }
}

/// Custom buckets (schema -53), 3 buckets.
fn custom_h() -> Histogram {
    Histogram {
        schema: -53,
        zero_threshold: 0.0,
        sum: 12.0,
        reset_hint: ResetHint::Unknown,
        positive_spans: vec![Span {
            offset: 0,
            length: 3,
        }],
        negative_spans: vec![],
        custom_values: vec![0.1, 1.0],
        counts: Counts::Int {
            count: 3,
            zero_count: 0,
            positive_deltas: vec![1, 0, 0],
            negative_deltas: vec![],
        },
    }
}

/// A stale marker: an empty integer histogram whose sum is the staleness NaN.
fn stale_h() -> Histogram {
    Histogram {
        schema: 0,
        zero_threshold: 0.0,
        sum: f64::from_bits(STALE_NAN),
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

fn hs(ts: i64, h: Histogram) -> HistogramSample {
    HistogramSample { ts, h: Arc::new(h) }
}

fn series(name: &str, histograms: Vec<HistogramSample>) -> SeriesHistograms {
    SeriesHistograms {
        labels: vec![("__name__".into(), name.into())],
        histograms,
    }
}

fn floats(name: &str, samples: Vec<Sample>) -> SeriesSamples {
    SeriesSamples {
        labels: vec![("__name__".into(), name.into())],
        samples,
    }
}

fn select(engine: &Engine, name: &str) -> Vec<SeriesData> {
    let m = Matcher::new("__name__", MatchOp::Equal, name).unwrap();
    engine.select(&t(), &[m], i64::MIN, i64::MAX).unwrap()
}

fn bytes_of(v: &[HistogramSample]) -> Vec<(i64, Vec<u8>)> {
    v.iter().map(|s| (s.ts, s.h.to_bytes())).collect()
}

/// (ts, encoding) of series `name`'s histograms, and its floats as (ts, bits).
fn read(engine: &Engine, name: &str) -> (Vec<(i64, Vec<u8>)>, Vec<(i64, u64)>) {
    let found = select(engine, name);
    assert!(found.len() <= 1, "{name}: {found:?}");
    found.first().map_or((vec![], vec![]), |s| {
        (
            bytes_of(&s.histograms),
            s.samples.iter().map(|x| (x.ts, x.value.to_bits())).collect(),
        )
    })
}

/// Files in the tree under `dir` whose name starts with `prefix`.
fn files_named(dir: &Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if e.file_name().to_string_lossy().starts_with(prefix) {
                out.push(p);
            }
        }
    }
    out
}

fn mixed() -> Vec<HistogramSample> {
    let h = DAY + 5 * HOUR;
    vec![
        hs(h + 1_000, int_h(0)),
        hs(h + 2_000, float_h()),
        hs(h + 3_000, custom_h()),
        hs(h + 4_000, stale_h()),
        // The next hour: a second partition.
        hs(h + HOUR + 5_000, int_h(3)),
    ]
}

#[test]
fn a_flush_writes_histograms_to_parquet_and_a_reopen_reads_them_bit_exact() {
    let dir = tempfile::tempdir().unwrap();
    let written = mixed();
    {
        let engine = open(dir.path());
        engine
            .write_histograms(&t(), &[series("lat", written.clone())])
            .unwrap();
        let before = engine.tenant_stats(&t()).memory.histograms;
        let stats = engine.flush().unwrap();
        assert_eq!(stats.histograms, 5);
        assert_eq!(stats.samples, 0);
        // Positive 2 + negative 1 per int_h, 3 + 1 for float_h, 3 for custom_h.
        assert_eq!(stats.histogram_buckets, 3 + 4 + 3 + 3);
        assert_eq!(files_named(dir.path(), "histograms-").len(), 2, "two hours");
        assert_eq!(files_named(dir.path(), "histogram_buckets-").len(), 2);
        let after = engine.tenant_stats(&t()).memory.histograms;
        assert!(after < before / 4, "head histogram bytes {before} -> {after}");
        assert_eq!(read(&engine, "lat").0, bytes_of(&written), "from Parquet");
        // A crash after the flush: dropped without closing.
    }
    let engine = open(dir.path());
    assert_eq!(
        engine.tenant_stats(&t()).memory.histograms,
        0,
        "the WAL replays no histogram: they are not logged again above the boundary"
    );
    assert_eq!(read(&engine, "lat").0, bytes_of(&written));
    // A range inside the first hour reads only it.
    let m = Matcher::new("__name__", MatchOp::Equal, "lat").unwrap();
    let part = engine
        .select(&t(), &[m], DAY + 5 * HOUR + 1_500, DAY + 5 * HOUR + 3_000)
        .unwrap();
    assert_eq!(bytes_of(&part[0].histograms), bytes_of(&written[1..3]));
}

#[test]
fn histograms_are_readable_while_a_flush_runs_and_an_uncommitted_flush_loses_none() {
    let dir = tempfile::tempdir().unwrap();
    let written = mixed();
    {
        let engine = open(dir.path());
        engine
            .write_histograms(&t(), &[series("lat", written.clone())])
            .unwrap();
        // Files written, not committed: the cut's histograms are in the flushing map.
        engine.flush_until(FlushStop::BeforeCommit).unwrap();
        assert_eq!(read(&engine, "lat").0, bytes_of(&written), "mid-flush");
    }
    let engine = open(dir.path());
    assert_eq!(read(&engine, "lat").0, bytes_of(&written), "from the WAL");
    assert!(
        files_named(dir.path(), "histograms-").is_empty(),
        "the uncommitted flush's files are gone"
    );
    engine.flush().unwrap();
    assert_eq!(read(&engine, "lat").0, bytes_of(&written));
}

#[test]
fn the_oldest_flush_wins_a_timestamp_across_sets_and_kinds_before_and_after_compaction() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let ts = DAY + 3 * HOUR;
    let f = |v: f64| Sample { ts, value: v };
    // dup: a histogram twice at one timestamp; fh: float first; hf: histogram first.
    engine
        .write_histograms(
            &t(),
            &[series("dup", vec![hs(ts, int_h(0))]), series("hf", vec![hs(ts, int_h(1))])],
        )
        .unwrap();
    engine.write(&t(), &[floats("fh", vec![f(1.5)])]).unwrap();
    engine.flush().unwrap();
    engine
        .write_histograms(
            &t(),
            &[series("dup", vec![hs(ts, int_h(7))]), series("fh", vec![hs(ts, float_h())])],
        )
        .unwrap();
    engine.write(&t(), &[floats("hf", vec![f(2.5)])]).unwrap();
    engine.flush().unwrap();
    let expect = |engine: &Engine| {
        assert_eq!(read(engine, "dup"), (bytes_of(&[hs(ts, int_h(0))]), vec![]));
        assert_eq!(read(engine, "hf"), (bytes_of(&[hs(ts, int_h(1))]), vec![]));
        assert_eq!(read(engine, "fh"), (vec![], vec![(ts, 1.5f64.to_bits())]));
    };
    expect(&engine);
    let stats = engine.compact_all().unwrap();
    assert_eq!(stats.partitions, 1);
    assert_eq!(stats.histogram_rows_in, 4);
    assert_eq!(stats.histogram_rows_out, 2, "dup's copy and fh's histogram go");
    assert_eq!(stats.rows_out, 1, "hf's float goes");
    assert_eq!(files_named(dir.path(), "histograms-").len(), 1);
    expect(&engine);
    drop(engine);
    expect(&open(dir.path()));
}

#[test]
fn deleting_a_series_removes_its_histograms_and_keeps_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let written = mixed();
    engine
        .write_histograms(
            &t(),
            &[series("gone", written.clone()), series("kept", written.clone())],
        )
        .unwrap();
    engine.flush().unwrap();
    let m = Matcher::new("__name__", MatchOp::Equal, "gone").unwrap();
    let stats = engine.delete_series(&t(), &[m], i64::MIN, i64::MAX).unwrap();
    assert_eq!(stats.rows_deleted, 5);
    assert_eq!(read(&engine, "gone").0, vec![]);
    assert_eq!(read(&engine, "kept").0, bytes_of(&written));
    drop(engine);
    let engine = open(dir.path());
    assert_eq!(read(&engine, "gone").0, vec![]);
    assert_eq!(read(&engine, "kept").0, bytes_of(&written));
}

#[test]
fn retention_drops_histograms_with_their_partition() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(DAY + 6 * HOUR));
    let limits = Limits {
        metrics_retention: Duration::from_secs(86_400),
        ..Limits::default()
    };
    let config = EngineConfig {
        limits,
        ..EngineConfig::default()
    };
    let engine = Engine::open_with_clock(dir.path(), config, clock.clone()).unwrap();
    let written = mixed(); // hours 5 and 6
    engine
        .write_histograms(&t(), &[series("lat", written.clone())])
        .unwrap();
    engine.flush().unwrap();
    // Hour 5 ends a day before this; hour 6 does not.
    clock.set(DAY + 6 * HOUR + 86_400_000);
    assert_eq!(engine.apply_retention().unwrap().expired, 1);
    assert_eq!(read(&engine, "lat").0, bytes_of(&written[4..]));
    assert_eq!(files_named(dir.path(), "histograms-").len(), 1);
    assert_eq!(files_named(dir.path(), "histogram_buckets-").len(), 1);
}

#[test]
fn a_histogram_only_workload_triggers_flushes() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        flush_head_samples: 10, // 160 bytes of histograms
        flush_interval: Duration::from_secs(3600),
        ..common::config()
    };
    let engine = Engine::open(dir.path(), config).unwrap();
    let written: Vec<_> = (0..50).map(|i| hs(DAY + i * 1_000, int_h(i as u64))).collect();
    engine
        .write_histograms(&t(), &[series("lat", written.clone())])
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while files_named(dir.path(), "histograms-").is_empty() {
        assert!(Instant::now() < deadline, "no flush was triggered");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(read(&engine, "lat").0, bytes_of(&written));
}
