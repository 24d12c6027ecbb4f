//! `Engine::select_histogram_runs`: a series' native histograms in a file set come as a run
//! per stretch of one layout, and the runs with the remaining samples are exactly what
//! `select` reads, across layout changes, the head, floats, overlapping flushes and
//! compaction.

mod common;

use std::path::Path;
use std::sync::Arc;

use strata_engine::{
    Counts, Engine, Histogram, HistogramSample, MatchOp, Matcher, ResetHint, Sample,
    SeriesHistograms, SeriesSamples, Span, TenantId,
};

/// 2025-11-21T00:00:00Z
const DAY: i64 = 1_763_683_200_000;
const HOUR: i64 = 3_600_000;

fn t() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn open(dir: &Path) -> Engine {
    Engine::open(dir, common::config()).unwrap()
}

/// Custom buckets on `bounds`, integer counts rising with `k` over the first `filled`
/// buckets (the spans cover those only).
fn nhcb(k: u64, bounds: &[f64], filled: u32) -> Histogram {
    let deltas: Vec<i64> = (0..filled)
        .map(|b| if b == 0 { 1 + k as i64 } else { 1 })
        .collect();
    let count = deltas
        .iter()
        .scan(0i64, |c, d| {
            *c += d;
            Some(*c as u64)
        })
        .sum();
    Histogram {
        schema: -53,
        zero_threshold: 0.0,
        sum: 0.25 * k as f64,
        reset_hint: ResetHint::Unknown,
        positive_spans: vec![Span {
            offset: 0,
            length: filled,
        }],
        negative_spans: vec![],
        custom_values: bounds.to_vec(),
        counts: Counts::Int {
            count,
            zero_count: 0,
            positive_deltas: deltas,
            negative_deltas: vec![],
        },
    }
}

/// A float gauge histogram, schema 3, positive and negative buckets, a -0.0 count.
fn gauge(k: u64) -> Histogram {
    Histogram {
        schema: 3,
        zero_threshold: 0.001,
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
            count: 5.0 + k as f64,
            zero_count: 0.5,
            positive: vec![1.0, -0.0, 3.0 + k as f64],
            negative: vec![0.5],
        },
    }
}

fn write(engine: &Engine, name: &str, hs: Vec<(i64, Histogram)>) {
    let histograms = hs
        .into_iter()
        .map(|(ts, h)| HistogramSample { ts, h: Arc::new(h) })
        .collect();
    let s = SeriesHistograms {
        labels: vec![("__name__".into(), name.into())],
        histograms,
    };
    engine.write_histograms(&t(), &[s]).unwrap();
}

/// (ts, encoding) of every histogram in time order.
type Hists = Vec<(i64, Vec<u8>)>;

fn m(name: &str) -> Matcher {
    Matcher::new("__name__", MatchOp::Equal, name).unwrap()
}

/// Series `name` over `[start, end]` as `select` reads it (histograms, float bits), and as
/// `select_histogram_runs` does with its runs expanded, and how many runs that had.
fn both(engine: &Engine, name: &str, (start, end): (i64, i64)) -> [(Hists, Vec<u64>, usize); 2] {
    let plain = engine.select(&t(), &[m(name)], start, end).unwrap();
    let runs = engine
        .select_histogram_runs(&t(), &[m(name)], (start, end), Some(1 << 30))
        .unwrap();
    let flat = |v: Vec<strata_engine::SeriesData>| {
        assert!(v.len() <= 1, "{name}");
        v.into_iter().next().map_or((vec![], vec![], 0), |s| {
            let n = s.histogram_runs.len();
            let mut hs: Vec<HistogramSample> = s.histograms;
            hs.extend(s.histogram_runs.iter().flat_map(|r| r.samples()));
            hs.sort_by_key(|h| h.ts);
            let floats = s.samples.iter().map(|x| x.value.to_bits()).collect();
            (
                hs.iter().map(|h| (h.ts, h.h.to_bytes())).collect(),
                floats,
                n,
            )
        })
    };
    [flat(plain), flat(runs)]
}

/// Asserts both reads agree and returns the number of runs.
fn agree(engine: &Engine, name: &str, window: (i64, i64)) -> usize {
    let [(a, fa, none), (b, fb, runs)] = both(engine, name, window);
    assert_eq!(none, 0, "{name}: select hands out no run");
    assert!(!a.is_empty(), "{name}: read something");
    assert_eq!(a, b, "{name}");
    assert_eq!(fa, fb, "{name}");
    runs
}

#[test]
fn runs_expand_to_exactly_what_select_reads() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let bounds = [0.1, 0.5, 1.0, 5.0];
    let h1 = DAY + HOUR;
    let at = |i: i64| h1 + 15_000 * i;
    let rising = |r: std::ops::Range<i64>| -> Vec<(i64, Histogram)> {
        r.map(|i| (at(i), nhcb(i as u64, &bounds, 4))).collect()
    };
    // One layout through the hour.
    write(&engine, "nhcb", rising(0..240));
    write(&engine, "other", rising(0..240));
    // A bucket first fills mid-hour: a run for each layout.
    let grow = (0..200).map(|i| (at(i), nhcb(i as u64, &bounds, if i < 90 { 3 } else { 5 })));
    write(&engine, "grow", grow.collect());
    write(
        &engine,
        "gauge",
        (0..100).map(|i| (at(i), gauge(i as u64))).collect(),
    );
    // Histograms, and a float at the end of the hour: no runs.
    write(&engine, "mixed", rising(0..100));
    let float = SeriesSamples {
        labels: vec![("__name__".into(), "mixed".into())],
        samples: vec![Sample {
            ts: at(200),
            value: 2.5,
        }],
    };
    engine.write(&t(), &[float]).unwrap();
    engine.flush().unwrap();
    let all = (i64::MIN, i64::MAX);
    assert_eq!(agree(&engine, "nhcb", all), 1);
    assert_eq!(agree(&engine, "grow", all), 2, "two layouts in one set");
    assert_eq!(agree(&engine, "grow", (at(80), at(85))), 1);
    assert_eq!(agree(&engine, "gauge", all), 1);
    assert_eq!(agree(&engine, "mixed", all), 0, "a float in the series");
    // Part of a set: the run holds the samples in the range only.
    assert_eq!(agree(&engine, "nhcb", (at(10), at(20))), 1);

    // A second flush into the hour, between the first's samples (the first keeps the
    // timestamps both hold): the sets meet in time, so no run.
    let late = (0..20).map(|i| (at(i) + 7_000 * (i % 2), nhcb(1_000 + i as u64, &bounds, 4)));
    write(&engine, "nhcb", late.collect());
    engine.flush().unwrap();
    assert_eq!(engine.tenant_stats(&t()).rejected.values().sum::<u64>(), 0);
    assert_eq!(agree(&engine, "nhcb", all), 0, "sets that meet");
    assert_eq!(
        agree(&engine, "nhcb", (at(100), at(200))),
        1,
        "past the second set"
    );

    // The next hour flushed, and the one after in the head: runs and samples side by side.
    write(&engine, "other", rising(240..480));
    engine.flush().unwrap();
    write(&engine, "other", rising(480..500));
    assert_eq!(agree(&engine, "other", all), 2);
    let [(.., plain_runs), (hs, ..)] = both(&engine, "other", all);
    assert_eq!((plain_runs, hs.len()), (0, 500));

    // Compaction joins the hour's two sets: one run again, the same samples.
    let before = both(&engine, "nhcb", all)[0].clone();
    engine.compact_all().unwrap();
    assert_eq!(agree(&engine, "nhcb", all), 1);
    assert_eq!(both(&engine, "nhcb", all)[1].0, before.0);
    drop(engine);
    let engine = open(dir.path());
    assert_eq!(agree(&engine, "gauge", all), 1, "after a reopen");
}

/// A read wide enough to be split over threads (400 series of 12 buckets in two hours'
/// sets) hands over every sample as written, in runs and one by one, and a read limit
/// still stops it.
#[test]
fn a_wide_read_over_threads_reads_every_series_whole() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let bounds: Vec<f64> = (1..12).map(|b| b as f64 * 0.1).collect();
    let at = |i: i64| DAY + HOUR + 60_000 * i;
    let series = |i: usize, from: i64, to: i64| SeriesHistograms {
        labels: vec![
            ("__name__".into(), "wide".into()),
            ("i".into(), format!("{i:03}")),
        ],
        histograms: (from..to)
            .map(|k| HistogramSample {
                ts: at(k),
                h: Arc::new(nhcb(k as u64 + i as u64, &bounds, 12)),
            })
            .collect(),
    };
    for (from, to) in [(0, 60), (60, 100)] {
        let batch: Vec<_> = (0..400).map(|i| series(i, from, to)).collect();
        engine.write_histograms(&t(), &batch).unwrap();
        engine.flush().unwrap();
    }
    let want: Vec<Hists> = (0..400)
        .map(|i| {
            let s = series(i, 0, 100);
            s.histograms
                .iter()
                .map(|h| (h.ts, h.h.to_bytes()))
                .collect()
        })
        .collect();
    let by_series = |v: Vec<strata_engine::SeriesData>| -> Vec<Hists> {
        let mut v: Vec<_> = v
            .into_iter()
            .map(|s| {
                let mut hs = s.histograms;
                hs.extend(s.histogram_runs.iter().flat_map(|r| r.samples()));
                let hs: Hists = hs.iter().map(|h| (h.ts, h.h.to_bytes())).collect();
                (s.labels, hs)
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v.into_iter().map(|(_, h)| h).collect()
    };
    let plain = engine
        .select(&t(), &[m("wide")], i64::MIN, i64::MAX)
        .unwrap();
    assert_eq!(by_series(plain), want);
    let runs = engine
        .select_histogram_runs(&t(), &[m("wide")], (i64::MIN, i64::MAX), Some(1 << 30))
        .unwrap();
    assert!(
        runs.iter().all(|s| s.histogram_runs.len() == 2),
        "a run per set"
    );
    assert_eq!(by_series(runs), want);
    let limited =
        engine.select_histogram_runs(&t(), &[m("wide")], (i64::MIN, i64::MAX), Some(1 << 16));
    assert!(
        matches!(limited, Err(strata_engine::Error::ReadLimit { .. })),
        "{limited:?}"
    );
}
