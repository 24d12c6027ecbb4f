//! Downsampled tiers: a day older than a tier's `after` is summarised per series and
//! interval, read back as its last samples and its intervals, exactly what the raw data
//! gives; its raw partitions go once the tier is committed; a coarser tier is made from
//! the finer one; a late write to a downsampled day is joined in; tiers survive a restart
//! and leave with the metrics retention.

use std::sync::Arc;
use std::time::Duration;

use strata_engine::{
    Downsampling, Engine, EngineConfig, Interval, Limits, ManualClock, MatchOp, Matcher, Sample,
    SeriesData, SeriesSamples, TenantId,
};

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const D: i64 = 86_400_000;
/// 2025-11-21T00:00:00Z
const DAY0: i64 = 1_763_683_200_000;

fn config(tiers: bool) -> EngineConfig {
    let downsampling = if tiers {
        vec![
            Downsampling {
                matchers: Vec::new(),
                after: Duration::from_secs(2 * 86_400),
                resolution: Duration::from_secs(300),
            },
            Downsampling {
                matchers: Vec::new(),
                after: Duration::from_secs(4 * 86_400),
                resolution: Duration::from_secs(3_600),
            },
        ]
    } else {
        Vec::new()
    };
    EngineConfig {
        limits: Limits {
            ingest_rate: 1e9,
            ingest_burst: 1e9,
            metrics_retention: Duration::from_secs(20 * 86_400),
            cold_after: Duration::from_secs(100 * 365 * 86_400),
            downsampling,
            ..Limits::default()
        },
        ..EngineConfig::default()
    }
}

/// Series `s` over hours `[from, to)` of day 0 on: a counter every 15 s (offset `s` s, so
/// series 0 has samples on every interval boundary) that resets every 997 samples, and a
/// gauge.
fn hours(from: i64, to: i64) -> Vec<SeriesSamples> {
    let mut out = Vec::new();
    for s in 0..4i64 {
        let (lo, hi) = (DAY0 + from * HOUR, DAY0 + to * HOUR);
        let ts = (0..).map(|k| DAY0 + s * 1000 + k * 15_000);
        let ts: Vec<i64> = ts.skip_while(|&t| t < lo).take_while(|&t| t < hi).collect();
        let k = |t: i64| (t - DAY0) / 15_000;
        out.push(SeriesSamples {
            labels: vec![
                ("__name__".into(), "req_total".into()),
                ("s".into(), s.to_string()),
            ],
            samples: ts
                .iter()
                .map(|&t| Sample {
                    ts: t,
                    value: ((k(t) % 997) * (s + 1) + (k(t) * 7919 % 5)) as f64,
                })
                .collect(),
        });
        out.push(SeriesSamples {
            labels: vec![
                ("__name__".into(), "temp".into()),
                ("s".into(), s.to_string()),
            ],
            samples: ts
                .iter()
                .map(|&t| Sample {
                    ts: t,
                    value: 20.0 + ((k(t) * 31 + s) % 17) as f64 / 4.0,
                })
                .collect(),
        });
    }
    out
}

fn all(engine: &Engine, t: &TenantId, start: i64, end: i64) -> Vec<SeriesData> {
    let m = Matcher::new("__name__", MatchOp::Regex, ".+").unwrap();
    engine.select(t, &[m], start, end).unwrap()
}

/// The intervals of `samples` at `res`, ending in `(lo, hi]`, as the engine summarises.
fn summarise(samples: &[Sample], res: i64, lo: i64, hi: i64) -> Vec<Interval> {
    let mut out: Vec<Interval> = Vec::new();
    let end_of = |t: i64| t.div_euclid(res) * res + if t.rem_euclid(res) == 0 { 0 } else { res };
    for s in samples.iter().filter(|s| s.ts > lo && s.ts <= hi) {
        let end = end_of(s.ts);
        match out.last_mut() {
            Some(i) if i.end == end => {
                i.correction += if s.value < i.last { i.last } else { 0.0 };
                i.last_ts = s.ts;
                i.last = s.value;
                i.min = i.min.min(s.value);
                i.max = i.max.max(s.value);
                i.sum += s.value;
                i.count += 1;
            }
            _ => out.push(Interval {
                end,
                resolution: res,
                first_ts: s.ts,
                first: s.value,
                last_ts: s.ts,
                last: s.value,
                min: s.value,
                max: s.value,
                sum: s.value,
                count: 1,
                correction: 0.0,
            }),
        }
    }
    out
}

fn close(a: &[Interval], b: &[Interval]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            let near = |p: f64, q: f64| (p - q).abs() <= 1e-9 * p.abs().max(1.0);
            (x.end, x.resolution, x.first_ts, x.last_ts, x.count)
                == (y.end, y.resolution, y.first_ts, y.last_ts, y.count)
                && (x.first, x.last, x.min, x.max) == (y.first, y.last, y.min, y.max)
                && near(x.sum, y.sum)
                && x.correction == y.correction
        })
}

/// Checks that `tiered` holds each series of `raw` as the intervals of `segments` (a
/// resolution and the `(lo, hi]` their ends fall in, in time order), and their last samples.
fn check_tiers(tiered: &[SeriesData], raw: &[SeriesData], segments: &[(i64, i64, i64)]) {
    assert_eq!(tiered.len(), raw.len());
    let hi = segments.last().map_or(0, |s| s.2);
    for (t, r) in tiered.iter().zip(raw) {
        assert_eq!(t.labels, r.labels);
        let want: Vec<Interval> = segments
            .iter()
            .flat_map(|&(res, lo, hi)| summarise(&r.samples, res, lo, hi))
            .collect();
        if !close(&t.intervals, &want) {
            let bad = t
                .intervals
                .iter()
                .zip(&want)
                .position(|(a, b)| !close(&[*a], &[*b]));
            let k = bad.unwrap_or(t.intervals.len().min(want.len()));
            panic!(
                "{}: intervals differ at {k} ({} against {}): {:?} against {:?}",
                r.labels,
                t.intervals.len(),
                want.len(),
                t.intervals.get(k),
                want.get(k)
            );
        }
        // The samples there are each interval's last one (and, where an interval ends at
        // midnight, the last of each day's part of it): raw samples all.
        let in_tier: Vec<Sample> = t.samples.iter().copied().filter(|s| s.ts <= hi).collect();
        let is_raw = |s: &Sample| {
            r.samples
                .binary_search_by_key(&s.ts, |x| x.ts)
                .is_ok_and(|k| r.samples[k] == *s)
        };
        assert!(
            in_tier.iter().all(is_raw),
            "{}: samples not in the raw data",
            r.labels
        );
        let missing = want
            .iter()
            .filter(|i| !in_tier.iter().any(|s| s.ts == i.last_ts))
            .count();
        assert_eq!(
            missing, 0,
            "{}: intervals without their last sample",
            r.labels
        );
        assert!(
            in_tier.len() <= want.len() + 4,
            "{}: {} samples for {} intervals",
            r.labels,
            in_tier.len(),
            want.len()
        );
    }
}

/// A delete reaches the tiers: the intervals of the series that hold a sample in range,
/// and those only.
fn delete_reaches_the_tiers(engine: &Engine, t: &TenantId) {
    let m = Matcher::new("__name__", MatchOp::Equal, "temp").unwrap();
    let s1 = Matcher::new("s", MatchOp::Equal, "1").unwrap();
    let before = engine
        .select(t, &[m.clone(), s1.clone()], DAY0 - D, DAY0 + 4 * D)
        .unwrap();
    let all_before = engine
        .select(t, std::slice::from_ref(&m), DAY0 - D, DAY0 + 4 * D)
        .unwrap();
    let (from, to) = (DAY0 + D + 2 * HOUR + 1, DAY0 + D + 4 * HOUR);
    let stats = engine
        .delete_series(t, &[m.clone(), s1.clone()], from, to)
        .unwrap();
    let gone: u64 = before[0]
        .intervals
        .iter()
        .filter(|i| i.first_ts <= to && i.last_ts >= from)
        .map(|i| i.count)
        .sum();
    assert_eq!(stats.rows_deleted, gone, "{stats:?}");
    assert_eq!(gone, 2 * 240, "the two 1h intervals (2h, 4h]");
    let after = engine
        .select(t, &[m.clone(), s1], DAY0 - D, DAY0 + 4 * D)
        .unwrap();
    assert_eq!(after[0].intervals.len(), before[0].intervals.len() - 2);
    assert!(
        after[0]
            .intervals
            .iter()
            .all(|i| i.last_ts < from || i.first_ts > to)
    );
    let all_after = engine.select(t, &[m], DAY0 - D, DAY0 + 4 * D).unwrap();
    for (a, b) in all_after.iter().zip(&all_before) {
        if a.labels != after[0].labels {
            assert_eq!(a, b, "other series untouched");
        }
    }
}

#[test]
fn days_move_through_the_tiers_and_read_back_as_the_raw_data_summarised() {
    let (dir, refdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let t = TenantId::new("acme").unwrap();
    let clock = Arc::new(ManualClock::new(DAY0 + 3 * D));
    let engine = Engine::open_with_clock(dir.path(), config(true), clock.clone()).unwrap();
    let reference = Engine::open_with_clock(refdir.path(), config(false), clock.clone()).unwrap();
    for day in 0..3 {
        let batch = hours(day * 24, day * 24 + 24);
        for e in [&engine, &reference] {
            e.write(&t, &batch).unwrap();
            e.flush().unwrap();
        }
    }
    engine.compact().unwrap();
    let raw = all(&reference, &t, DAY0 - D, DAY0 + 4 * D);
    assert_eq!(raw.len(), 8);
    assert!(
        raw.iter().all(|s| s.intervals.is_empty()),
        "raw data has no intervals"
    );

    // Not old enough: nothing moves.
    clock.set(DAY0 + 2 * D - 1);
    assert_eq!(engine.downsample().unwrap().days, 0);
    // Days 0 and 1 ended 2 days ago: into 5m; day 2 stays raw.
    clock.set(DAY0 + 2 * D + 2 * D);
    let stats = engine.downsample().unwrap();
    assert_eq!(stats.days, 2, "{stats:?}");
    assert_eq!(
        stats.dropped, 48,
        "the raw hours of days 0 and 1: {stats:?}"
    );
    assert!(
        !dir.path()
            .join("metrics/tenant=acme/date=2025-11-21")
            .exists()
    );
    assert!(
        dir.path()
            .join("metrics_5m/tenant=acme/date=2025-11-21/manifest.json")
            .exists()
    );
    // Each tier is counted in the disk usage as a signal of its own.
    let disk = engine.telemetry().disk;
    let tier = disk[&(t.clone(), "metrics_5m")];
    assert_eq!((tier.partitions, tier.file_sets), (2, 2));
    let on_disk: u64 = ["2025-11-21", "2025-11-22"]
        .iter()
        .flat_map(|d| {
            std::fs::read_dir(dir.path().join(format!("metrics_5m/tenant=acme/date={d}"))).unwrap()
        })
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    assert_eq!(tier.bytes, on_disk);
    assert!(!disk.contains_key(&(t.clone(), "metrics_1h")));
    let got = all(&engine, &t, DAY0 - D, DAY0 + 4 * D);
    // The sample at day 0's very start ends the interval (-5m, 0]: its row is in day 0's
    // partition.
    check_tiers(&got, &raw, &[(5 * MIN, DAY0 - D, DAY0 + 2 * D)]);
    // Day 2 is still raw: every sample.
    for (g, r) in got.iter().zip(&raw) {
        let day2 = |v: &[Sample]| {
            v.iter()
                .copied()
                .filter(|s| s.ts > DAY0 + 2 * D)
                .collect::<Vec<_>>()
        };
        assert_eq!(day2(&g.samples), day2(&r.samples));
    }
    // A second pass has nothing to do.
    assert_eq!(engine.downsample().unwrap(), Default::default());

    // Reopened: the same. A checkpoint holds the tiers too.
    let copy = tempfile::tempdir().unwrap();
    engine.checkpoint(&copy.path().join("c")).unwrap();
    let copied =
        Engine::open_with_clock(copy.path().join("c"), config(true), clock.clone()).unwrap();
    assert_eq!(all(&copied, &t, DAY0 - D, DAY0 + 4 * D), got);
    drop(copied);
    drop(engine);
    let engine = Engine::open_with_clock(dir.path(), config(true), clock.clone()).unwrap();
    assert_eq!(all(&engine, &t, DAY0 - D, DAY0 + 4 * D), got);

    // Days 0 and 1 four days old: into 1h; day 2 into 5m.
    clock.set(DAY0 + 2 * D + 4 * D);
    let stats = engine.downsample().unwrap();
    assert_eq!(stats.days, 3, "{stats:?}");
    assert!(
        !dir.path()
            .join("metrics_5m/tenant=acme/date=2025-11-21")
            .exists()
    );
    let got = all(&engine, &t, DAY0 - D, DAY0 + 4 * D);
    let segments = [
        (HOUR, DAY0 - D, DAY0 + 2 * D),
        (5 * MIN, DAY0 + 2 * D, DAY0 + 3 * D),
    ];
    check_tiers(&got, &raw, &segments);

    // A late sample into day 1, long downsampled, is joined into its hour.
    let late_ts = DAY0 + D + 5 * HOUR + 7;
    let late = SeriesSamples {
        labels: vec![("__name__".into(), "temp".into()), ("s".into(), "0".into())],
        samples: vec![Sample {
            ts: late_ts,
            value: 99.0,
        }],
    };
    engine.write(&t, &[late]).unwrap();
    engine.flush().unwrap();
    engine.downsample().unwrap();
    let m = Matcher::new("__name__", MatchOp::Equal, "temp").unwrap();
    let s0 = Matcher::new("s", MatchOp::Equal, "0").unwrap();
    let got = engine.select(&t, &[m, s0], DAY0 + D, DAY0 + 2 * D).unwrap();
    let hour = got[0]
        .intervals
        .iter()
        .find(|i| i.end == DAY0 + D + 6 * HOUR)
        .unwrap();
    assert_eq!(
        (hour.count, hour.max),
        (241, 99.0),
        "the late sample counted once"
    );
    assert!(
        !dir.path()
            .join("metrics/tenant=acme/date=2025-11-22")
            .exists()
    );

    delete_reaches_the_tiers(&engine, &t);

    // Past the metrics retention (20 days), the tiers go too.
    clock.set(DAY0 + 3 * D + 20 * D);
    let stats = engine.downsample().unwrap();
    assert_eq!(stats.expired, 3, "{stats:?}");
    assert!(
        all(&engine, &t, DAY0 - D, DAY0 + 4 * D)
            .iter()
            .all(|s| s.intervals.is_empty())
    );
}

#[test]
fn a_bad_tier_ladder_is_refused() {
    let bad = |tiers: Vec<(u64, u64)>| {
        let c = EngineConfig {
            limits: Limits {
                downsampling: tiers
                    .into_iter()
                    .map(|(after, res)| Downsampling {
                        matchers: Vec::new(),
                        after: Duration::from_secs(after),
                        resolution: Duration::from_secs(res),
                    })
                    .collect(),
                ..Limits::default()
            },
            ..EngineConfig::default()
        };
        c.validate().is_err()
    };
    assert!(!bad(vec![(86_400, 300), (7 * 86_400, 3_600)]));
    assert!(bad(vec![(86_400, 7)]), "7 s does not divide a day");
    assert!(
        bad(vec![(86_400, 300), (7 * 86_400, 420)]),
        "7m is not a multiple of 5m"
    );
    assert!(bad(vec![(86_400, 300), (86_400, 3_600)]), "after must grow");
    assert!(
        bad(vec![(86_400, 3_600), (7 * 86_400, 300)]),
        "finest first"
    );
}

#[test]
fn a_tier_with_a_selector_takes_its_series_and_leaves_the_others_raw() {
    let dir = tempfile::tempdir().unwrap();
    let t = TenantId::new("acme").unwrap();
    let clock = Arc::new(ManualClock::new(DAY0 + 2 * D));
    let mut config = config(false);
    config.limits.downsampling = vec![Downsampling {
        after: Duration::from_secs(86_400),
        resolution: Duration::from_secs(300),
        matchers: vec![strata_engine::TierMatch {
            name: "__name__".into(),
            op: "=".into(),
            value: "temp".into(),
        }],
    }];
    let engine = Engine::open_with_clock(dir.path(), config.clone(), clock.clone()).unwrap();
    engine.write(&t, &hours(0, 24)).unwrap();
    engine.flush().unwrap();
    let raw = all(&engine, &t, DAY0 - D, DAY0 + 2 * D);
    let stats = engine.downsample().unwrap();
    assert_eq!(
        (stats.days, stats.dropped, stats.trimmed),
        (1, 0, 24),
        "{stats:?}"
    );
    let check = |engine: &Engine| {
        let got = all(engine, &t, DAY0 - D, DAY0 + 2 * D);
        assert_eq!(got.len(), raw.len());
        for (g, r) in got.iter().zip(&raw) {
            if r.labels.get("__name__") == Some("temp") {
                let want = summarise(&r.samples, 5 * MIN, DAY0 - D, DAY0 + D);
                assert!(close(&g.intervals, &want), "{}: in the tier", r.labels);
            } else {
                assert!(g.intervals.is_empty(), "{}: not in the tier", r.labels);
                assert_eq!(g.samples, r.samples, "{}: every raw sample", r.labels);
            }
        }
    };
    check(&engine);
    // Nothing is taken twice, and the rest stays raw through a restart.
    assert_eq!(engine.downsample().unwrap(), Default::default());
    drop(engine);
    let engine = Engine::open_with_clock(dir.path(), config, clock.clone()).unwrap();
    check(&engine);
    assert_eq!(engine.downsample().unwrap(), Default::default());
}

/// An integer histogram whose total count is `n` (buckets (1,2] and (2,4]).
fn histogram(n: u64) -> strata_engine::Histogram {
    use strata_engine::{Counts, Histogram, ResetHint, Span};
    Histogram {
        schema: 0,
        zero_threshold: 0.001,
        sum: n as f64 * 1.5,
        reset_hint: ResetHint::Unknown,
        positive_spans: vec![Span {
            offset: 1,
            length: 2,
        }],
        negative_spans: vec![],
        custom_values: vec![],
        counts: Counts::Int {
            count: n,
            zero_count: 0,
            positive_deltas: vec![(n / 2) as i64, (n - 2 * (n / 2)) as i64],
            negative_deltas: vec![],
        },
    }
}

#[test]
fn native_histograms_keep_their_last_sample_of_each_interval() {
    use strata_engine::{HistogramSample, SeriesHistograms};
    let dir = tempfile::tempdir().unwrap();
    let t = TenantId::new("acme").unwrap();
    let clock = Arc::new(ManualClock::new(DAY0 + 2 * D));
    let engine = Engine::open_with_clock(dir.path(), config(true), clock.clone()).unwrap();
    // A histogram every minute of day 0 (a count growing by 3), beside the floats.
    let lat = SeriesHistograms {
        labels: vec![("__name__".into(), "lat".into())],
        histograms: (1..1440)
            .map(|k| HistogramSample {
                ts: DAY0 + k * MIN,
                h: Arc::new(histogram(3 * k as u64)),
            })
            .collect(),
    };
    engine.write_histograms(&t, &[lat]).unwrap();
    engine.write(&t, &hours(0, 24)).unwrap();
    engine.flush().unwrap();
    clock.set(DAY0 + 3 * D);
    let stats = engine.downsample().unwrap();
    assert_eq!((stats.days, stats.dropped), (1, 24), "{stats:?}");
    assert!(
        !dir.path()
            .join("metrics/tenant=acme/date=2025-11-21")
            .exists(),
        "the raw day dropped whole"
    );
    let m = Matcher::new("__name__", MatchOp::Equal, "lat").unwrap();
    let got = engine
        .select(&t, std::slice::from_ref(&m), DAY0, DAY0 + D)
        .unwrap();
    let ts: Vec<i64> = got[0].histograms.iter().map(|h| h.ts).collect();
    // The last of each 5 minutes: minutes 5, 10, ..., 1435, then 1439.
    let want: Vec<i64> = (1..1440)
        .filter(|k| k % 5 == 0 || *k == 1439)
        .map(|k| DAY0 + k * MIN)
        .collect();
    assert_eq!(ts, want);
    for h in &got[0].histograms {
        assert_eq!(*h.h, histogram(3 * ((h.ts - DAY0) / MIN) as u64));
    }
    // Into 1h: the last of each hour, from the 5m tier.
    clock.set(DAY0 + 5 * D);
    engine.downsample().unwrap();
    let got = engine.select(&t, &[m], DAY0, DAY0 + D).unwrap();
    let ts: Vec<i64> = got[0].histograms.iter().map(|h| h.ts).collect();
    let want: Vec<i64> = (1..1440)
        .filter(|k| k % 60 == 0 || *k == 1439)
        .map(|k| DAY0 + k * MIN)
        .collect();
    assert_eq!(ts, want);
}

#[test]
fn tiers_are_listed_with_the_disk_and_counted_in_the_budget_oldest_day_first() {
    let dir = tempfile::tempdir().unwrap();
    let t = TenantId::new("acme").unwrap();
    let clock = Arc::new(ManualClock::new(DAY0 + 4 * D));
    let engine = Engine::open_with_clock(dir.path(), config(true), clock.clone()).unwrap();
    engine.write(&t, &hours(0, 96)).unwrap();
    engine.flush().unwrap();
    // Days 0 and 1 are two days old: into 5m. Days 2 and 3 stay raw.
    assert_eq!(engine.downsample().unwrap().days, 2);
    let disk = engine.disk_partitions(&t);
    let tier = disk
        .iter()
        .find(|s| s.signal == "metrics_5m")
        .expect("5m listed");
    let starts: Vec<i64> = tier.partitions.iter().map(|p| p.start).collect();
    assert_eq!(starts, [DAY0, DAY0 + D], "one partition per day");
    assert!(
        tier.partitions
            .iter()
            .all(|p| p.end == p.start + D && p.bytes > 0)
    );
    assert_eq!(
        tier.bytes,
        tier.partitions.iter().map(|p| p.bytes).sum::<u64>()
    );
    let raw = disk.iter().find(|s| s.signal == "metrics").unwrap();
    assert_eq!(raw.partitions.len(), 48, "days 2 and 3 raw, by hour");
    let total: u64 = disk.iter().map(|s| s.bytes).sum();
    let oldest = tier.partitions[0].bytes;
    drop(engine);

    // A budget one byte short of the total (applied by the open's retention pass): the
    // oldest data goes, which is the tier's first day, and nothing else.
    let mut config = config(true);
    config.limits.disk_budget = Some(total - 1);
    let engine = Engine::open_with_clock(dir.path(), config.clone(), clock.clone()).unwrap();
    let check = |engine: &Engine| {
        let disk = engine.disk_partitions(&t);
        assert_eq!(disk.iter().map(|s| s.bytes).sum::<u64>(), total - oldest);
        let tier = disk.iter().find(|s| s.signal == "metrics_5m").unwrap();
        assert_eq!(tier.partitions.len(), 1);
        assert_eq!(tier.partitions[0].start, DAY0 + D);
        let raw = disk.iter().find(|s| s.signal == "metrics").unwrap();
        assert_eq!(raw.partitions.len(), 48);
        let got = all(engine, &t, DAY0 - D, DAY0 + 5 * D);
        for s in &got {
            let first = s.intervals.first().map(|r| r.end).unwrap();
            // Day 1's partition holds the samples from its midnight on (the interval
            // ending at that midnight in part).
            assert!(first >= DAY0 + D, "{}: day 0 is gone ({first})", s.labels);
            assert!(s.samples.iter().all(|p| p.ts >= DAY0 + D));
            assert_eq!(s.samples.last().map(|p| p.ts > DAY0 + 3 * D), Some(true));
        }
    };
    check(&engine);
    // Under the budget now: the next pass drops nothing; a restart keeps the drop.
    assert_eq!(engine.apply_retention().unwrap().over_budget, 0);
    drop(engine);
    let engine = Engine::open_with_clock(dir.path(), config, clock).unwrap();
    check(&engine);
}
