//! Start (created) timestamps on the keyed write path (remote-write 2.0's
//! `start_timestamp`): a sample that becomes its series' newest gets a zero sample at its
//! start timestamp first when that lies before it and after everything the series holds
//! (Prometheus's start-timestamp zero ingestion); otherwise the start timestamp is dropped
//! without an error. Histograms get an empty histogram with their schema and a reset hint.
//! The zero samples survive a crash (WAL) and a flush.

mod common;

use std::path::Path;
use std::sync::Arc;

use strata_engine::{
    Counts, Engine, Histogram, HistogramSample, KeyedSeries, MatchOp, Matcher, ResetHint, Sample,
    SeriesData, Span, TenantId,
};

/// 2025-11-21T00:00:00Z
const T0: i64 = 1_763_683_200_000;
const S: i64 = 1_000;

fn t() -> TenantId {
    TenantId::new("acme").unwrap()
}

fn open(dir: &Path) -> Engine {
    Engine::open(dir, common::config()).unwrap()
}

/// Writes `samples` (ts, value, start) and `hists` (ts, histogram, start) to one series.
fn write(
    engine: &Engine,
    name: &str,
    samples: &[(i64, f64, i64)],
    hists: &[(i64, Histogram, i64)],
) -> strata_engine::WriteOutcome {
    let labels = [("__name__", name), ("job", "j")];
    let ss: Vec<Sample> = samples
        .iter()
        .map(|&(ts, value, _)| Sample { ts, value })
        .collect();
    let starts: Vec<i64> = samples.iter().map(|s| s.2).collect();
    let hs: Vec<HistogramSample> = hists
        .iter()
        .map(|(ts, h, _)| HistogramSample {
            ts: *ts,
            h: Arc::new(h.clone()),
        })
        .collect();
    let hstarts: Vec<i64> = hists.iter().map(|h| h.2).collect();
    let batch = [KeyedSeries {
        key: &[],
        by_symbols: false,
        known: None,
        labels: &labels,
        samples: &ss,
        histograms: &hs,
        sample_starts: &starts,
        histogram_starts: &hstarts,
    }];
    engine.write_keyed(&t(), &batch).unwrap()
}

fn select(engine: &Engine, name: &str) -> SeriesData {
    let m = Matcher::new("__name__", MatchOp::Equal, name).unwrap();
    let mut got = engine.select(&t(), &[m], 0, i64::MAX).unwrap();
    assert_eq!(got.len(), 1, "{name}");
    got.remove(0)
}

fn floats(engine: &Engine, name: &str) -> Vec<(i64, f64)> {
    select(engine, name)
        .samples
        .iter()
        .map(|s| (s.ts, s.value))
        .collect()
}

fn int_h(k: u64) -> Histogram {
    Histogram {
        schema: 3,
        zero_threshold: 0.001,
        sum: 2.5 * k as f64,
        reset_hint: ResetHint::Unknown,
        positive_spans: vec![Span {
            offset: 4,
            length: 2,
        }],
        negative_spans: vec![],
        custom_values: vec![],
        counts: Counts::Int {
            count: 3 * k,
            zero_count: k,
            positive_deltas: vec![k as i64, 0],
            negative_deltas: vec![],
        },
    }
}

#[test]
fn a_start_before_a_new_newest_sample_stores_a_zero_there_and_the_others_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    // A new series whose first sample started counting 30 s earlier.
    let o = write(&engine, "c", &[(T0 + 60 * S, 5.0, T0 + 30 * S)], &[]);
    assert_eq!((o.accepted, o.start_zero_samples), (1, 1));
    assert_eq!(
        floats(&engine, "c"),
        vec![(T0 + 30 * S, 0.0), (T0 + 60 * S, 5.0)]
    );
    // The same start on later samples: not after the series' newest, dropped.
    let o = write(
        &engine,
        "c",
        &[
            (T0 + 75 * S, 7.0, T0 + 30 * S),
            (T0 + 90 * S, 9.0, T0 + 30 * S),
        ],
        &[],
    );
    assert_eq!((o.accepted, o.start_zero_samples), (2, 0));
    // A counter restart: its new start lies after the newest sample.
    let o = write(&engine, "c", &[(T0 + 120 * S, 1.0, T0 + 100 * S)], &[]);
    assert_eq!((o.accepted, o.start_zero_samples), (1, 1));
    // A start at or after its sample, and a start of 0 (none): dropped.
    let o = write(
        &engine,
        "c",
        &[
            (T0 + 135 * S, 2.0, T0 + 135 * S),
            (T0 + 150 * S, 3.0, T0 + 160 * S),
            (T0 + 165 * S, 4.0, 0),
        ],
        &[],
    );
    assert_eq!((o.accepted, o.start_zero_samples), (3, 0));
    // An out-of-order sample (inside the window) never brings a zero sample, even with a
    // start after everything before it.
    let o = write(&engine, "c", &[(T0 + 140 * S, 2.5, T0 + 137 * S)], &[]);
    assert_eq!((o.accepted, o.start_zero_samples), (1, 0));
    let want = vec![
        (T0 + 30 * S, 0.0),
        (T0 + 60 * S, 5.0),
        (T0 + 75 * S, 7.0),
        (T0 + 90 * S, 9.0),
        (T0 + 100 * S, 0.0),
        (T0 + 120 * S, 1.0),
        (T0 + 135 * S, 2.0),
        (T0 + 140 * S, 2.5),
        (T0 + 150 * S, 3.0),
        (T0 + 165 * S, 4.0),
    ];
    assert_eq!(floats(&engine, "c"), want);
    // A crash (dropped, not closed): the WAL brings the zero samples back; then a flush
    // writes them to Parquet like any sample.
    drop(engine);
    let engine = open(dir.path());
    assert_eq!(floats(&engine, "c"), want, "after the WAL replay");
    engine.flush().unwrap();
    assert_eq!(floats(&engine, "c"), want, "after a flush");
    drop(engine);
    assert_eq!(floats(&open(dir.path()), "c"), want, "from Parquet");
}

#[test]
fn a_refused_sample_brings_no_zero_sample() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    write(&engine, "c", &[(T0 + 60 * S, 5.0, 0)], &[]);
    // A different value at a stored timestamp is refused: its start is not stored either.
    let o = write(&engine, "c", &[(T0 + 60 * S, 6.0, T0 + 50 * S)], &[]);
    assert_eq!(
        (o.accepted, o.rejected_total(), o.start_zero_samples),
        (0, 1, 0)
    );
    assert_eq!(floats(&engine, "c"), vec![(T0 + 60 * S, 5.0)]);
}

#[test]
fn a_histogram_start_stores_an_empty_histogram_with_its_schema_and_a_reset_hint() {
    let dir = tempfile::tempdir().unwrap();
    let engine = open(dir.path());
    let o = write(
        &engine,
        "h",
        &[],
        &[
            (T0 + 60 * S, int_h(2), T0 + 45 * S),
            (T0 + 75 * S, int_h(3), T0 + 45 * S),
        ],
    );
    assert_eq!(
        (o.accepted, o.accepted_histograms, o.start_zero_samples),
        (2, 2, 1)
    );
    let check = |engine: &Engine, when: &str| {
        let got = select(engine, "h").histograms;
        let ts: Vec<i64> = got.iter().map(|h| h.ts).collect();
        assert_eq!(ts, vec![T0 + 45 * S, T0 + 60 * S, T0 + 75 * S], "{when}");
        let zero = &got[0].h;
        assert_eq!(zero.schema, 3, "{when}");
        assert_eq!(zero.zero_threshold, 0.001, "{when}");
        assert_eq!(zero.reset_hint, ResetHint::Reset, "{when}");
        assert_eq!(zero.sum, 0.0, "{when}");
        assert!(
            zero.positive_spans.is_empty() && zero.negative_spans.is_empty(),
            "{when}"
        );
        assert!(
            matches!(
                zero.counts,
                Counts::Int {
                    count: 0,
                    zero_count: 0,
                    ..
                }
            ),
            "{when}: {:?}",
            zero.counts
        );
        assert_eq!(*got[1].h, int_h(2), "{when}");
    };
    check(&engine, "in the head");
    drop(engine);
    let engine = open(dir.path());
    check(&engine, "after the WAL replay");
    engine.flush().unwrap();
    check(&engine, "after a flush");
}
