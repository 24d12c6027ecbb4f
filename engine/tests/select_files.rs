//! A select over many series and several file sets (read on several threads once there are
//! thousands of series-file pairs): every sample once, in time order, the first-written of
//! a timestamp, with overlapping file sets and the head merged in.

mod common;

use strata_engine::{Engine, MatchOp, Matcher, Sample, SeriesSamples, TenantId};

const MIN: i64 = 60_000;
const SERIES: usize = 5_000;

fn batch(points: impl Fn(usize) -> Vec<(i64, f64)>) -> Vec<SeriesSamples> {
    (0..SERIES)
        .map(|i| SeriesSamples {
            labels: vec![
                ("__name__".into(), "m".into()),
                ("i".into(), format!("{i:05}")),
                ("even".into(), i.is_multiple_of(2).to_string()),
            ],
            samples: points(i)
                .into_iter()
                .map(|(ts, value)| Sample { ts, value })
                .collect(),
        })
        .filter(|s| !s.samples.is_empty())
        .collect()
}

/// What series `i` holds once everything below is written.
fn expected(i: usize) -> Vec<(i64, f64)> {
    let x = i as f64;
    let mut v = vec![(0, x)];
    if i.is_multiple_of(2) {
        v.push((15 * MIN, -x));
    }
    v.extend([
        (30 * MIN, x + 0.5),
        (60 * MIN, 1.0),
        (90 * MIN, 2.0),
        (100 * MIN, 3.0),
    ]);
    v
}

#[test]
fn many_series_over_many_file_sets_come_back_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), common::config()).unwrap();
    let t = TenantId::new("acme").unwrap();
    let x = |i: usize| i as f64;
    // Hour 0 in two file sets that overlap in time: the second holds a sample between
    // two of the first's for the even series, and a conflicting re-send (refused while
    // the first is in memory, so written after the flush and stored again) for all.
    engine
        .write(&t, &batch(|i| vec![(0, x(i)), (30 * MIN, x(i) + 0.5)]))
        .unwrap();
    engine.flush().unwrap();
    let late = |i: usize| {
        let mut v = vec![(0, 99.0)];
        if i.is_multiple_of(2) {
            v.push((15 * MIN, -x(i)));
        }
        v
    };
    engine.write(&t, &batch(late)).unwrap();
    engine.flush().unwrap();
    // Hour 1 in a third set; then one sample per series left in memory.
    engine
        .write(&t, &batch(|_| vec![(60 * MIN, 1.0), (90 * MIN, 2.0)]))
        .unwrap();
    engine.flush().unwrap();
    engine
        .write(&t, &batch(|_| vec![(100 * MIN, 3.0)]))
        .unwrap();

    let got = engine.select(&t, &[], i64::MIN, i64::MAX).unwrap();
    assert_eq!(got.len(), SERIES);
    // Sorted by labels: `even="false"` first.
    let index = |s: &strata_engine::SeriesData| -> usize {
        let l = s.labels.iter().find(|l| l.name == "i").unwrap();
        l.value.parse().unwrap()
    };
    let order: Vec<usize> = got.iter().map(index).collect();
    let want: Vec<usize> = (1..SERIES)
        .step_by(2)
        .chain((0..SERIES).step_by(2))
        .collect();
    assert_eq!(order, want);
    for s in &got {
        let i = index(s);
        let points: Vec<(i64, f64)> = s.samples.iter().map(|p| (p.ts, p.value)).collect();
        assert_eq!(points, expected(i), "series {i}");
    }

    // Half the series over part of the range.
    let even = Matcher::new("even", MatchOp::Equal, "true").unwrap();
    let got = engine.select(&t, &[even], 10 * MIN, 95 * MIN).unwrap();
    assert_eq!(got.len(), SERIES / 2);
    for s in &got {
        let i = index(s);
        let want: Vec<(i64, f64)> = expected(i)
            .into_iter()
            .filter(|p| (10 * MIN..=95 * MIN).contains(&p.0))
            .collect();
        let points: Vec<(i64, f64)> = s.samples.iter().map(|p| (p.ts, p.value)).collect();
        assert_eq!(points, want, "series {i}");
    }
}
