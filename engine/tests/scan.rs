//! The scan path over flushed partitions: matchers go through each file set's inverted
//! index, and only the pages that can hold a wanted series in the range are fetched.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use strata_engine::{
    Engine, EngineConfig, Limits, MatchOp, Matcher, Sample, SeriesSamples, TenantId,
};

const HOUR: i64 = 3_600_000;
/// 2025-11-21T00:00:00Z
const DAY: i64 = 1_763_683_200_000;

fn config() -> EngineConfig {
    let limits = Limits {
        ingest_rate: 1e9,
        ingest_burst: 1e9,
        ..common::limits()
    };
    EngineConfig {
        limits,
        ..common::config()
    }
}

fn series(name: &str, labels: &[(&str, String)], samples: Vec<Sample>) -> SeriesSamples {
    let mut l = vec![("__name__".to_owned(), name.to_owned())];
    l.extend(labels.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
    SeriesSamples { labels: l, samples }
}

/// Sizes of the samples files under `dir`.
fn samples_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("samples-"))
            {
                total += std::fs::metadata(&p).unwrap().len();
            }
        }
    }
    total
}

fn m(name: &str, op: MatchOp, value: &str) -> Matcher {
    Matcher::new(name, op, value).unwrap()
}

#[test]
fn one_series_out_of_ten_thousand_reads_only_its_pages() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), config()).unwrap();
    let t = TenantId::new("acme").unwrap();
    let value = |i: u64, k: i64| (i as f64) * 1000.0 + k as f64 * 0.25;
    let batch: Vec<SeriesSamples> = (0..10_000u64)
        .map(|i| {
            let samples = (0..30)
                .map(|k| Sample {
                    ts: DAY + k * 120_000,
                    value: value(i, k),
                })
                .collect();
            series(
                "node_cpu_seconds_total",
                &[("host", format!("h{i:05}")), ("mode", "idle".into())],
                samples,
            )
        })
        .collect();
    assert_eq!(engine.write(&t, &batch).unwrap().accepted, 300_000);
    engine.flush().unwrap();
    let file_bytes = samples_bytes(dir.path());

    let want = m("host", MatchOp::Equal, "h04242");
    let (got, stats) = engine
        .select_with_stats(&t, &[want], DAY, DAY + HOUR)
        .unwrap();
    assert_eq!(got.len(), 1);
    let expected: Vec<(i64, f64)> = (0..30)
        .map(|k| (DAY + k * 120_000, value(4242, k)))
        .collect();
    let samples: Vec<(i64, f64)> = got[0].samples.iter().map(|s| (s.ts, s.value)).collect();
    assert_eq!(samples, expected);
    assert_eq!(stats.samples, 30);
    // One page per column (two where the series straddles a page boundary), the footer and
    // the page index: a small fraction of the file.
    assert!(
        stats.bytes_read * 15 < file_bytes,
        "read {} of {file_bytes} bytes for one series",
        stats.bytes_read
    );
    assert!(stats.rows_decoded <= 2 * 8192, "{stats:?}");

    // Every series, for comparison: the whole file's pages.
    let (all, stats_all) = engine.select_with_stats(&t, &[], DAY, DAY + HOUR).unwrap();
    assert_eq!(all.len(), 10_000);
    assert_eq!(stats_all.samples, 300_000);
    assert!(
        stats_all.bytes_read > 10 * stats.bytes_read,
        "{stats_all:?}"
    );

    // A time range inside the partition but past its samples reads no data page.
    let late = m("host", MatchOp::Equal, "h00001");
    let (none, _) = engine
        .select_with_stats(&t, &[late], DAY + 59 * 60_000 + 1, DAY + HOUR)
        .unwrap();
    assert!(none.is_empty());
}

#[test]
fn decoded_pages_are_kept_for_the_next_read_within_the_budget() {
    for budget in [0u64, 64 << 20] {
        let dir = tempfile::tempdir().unwrap();
        let engine = Engine::open(
            dir.path(),
            EngineConfig {
                page_cache_bytes: budget,
                ..config()
            },
        )
        .unwrap();
        let t = TenantId::new("acme").unwrap();
        let batch: Vec<SeriesSamples> = (0..2_000u64)
            .map(|i| {
                let samples = (0..60)
                    .map(|k| Sample {
                        ts: DAY + k * 60_000,
                        value: i as f64 + k as f64 / 64.0,
                    })
                    .collect();
                series("up", &[("host", format!("h{i:04}"))], samples)
            })
            .collect();
        engine.write(&t, &batch).unwrap();
        engine.flush().unwrap();
        let want = [m("host", MatchOp::Regex, "h00[0-4].|h1999")];
        let (first, cold) = engine
            .select_with_stats(&t, &want, DAY + 10 * 60_000, DAY + 20 * 60_000)
            .unwrap();
        assert_eq!(first.len(), 51);
        assert!(first.iter().all(|s| s.samples.len() == 11));
        assert!(cold.rows_decoded > 0, "{cold:?}");
        // The same read again; then a wider one over the same pages.
        let (again, warm) = engine
            .select_with_stats(&t, &want, DAY + 10 * 60_000, DAY + 20 * 60_000)
            .unwrap();
        assert_eq!(again, first);
        let (wide, _) = engine
            .select_with_stats(&t, &want, DAY, DAY + HOUR)
            .unwrap();
        assert!(wide.iter().all(|s| s.samples.len() == 60));
        if budget == 0 {
            assert_eq!(warm.rows_decoded, cold.rows_decoded);
            assert!(warm.bytes_read > 0);
        } else {
            assert_eq!((warm.rows_decoded, warm.samples), (0, cold.samples));
        }
        // All series: reads the pages not kept yet, and agrees with a fresh engine.
        let (all, _) = engine.select_with_stats(&t, &[], DAY, DAY + HOUR).unwrap();
        drop(engine);
        let fresh = Engine::open(
            dir.path(),
            EngineConfig {
                page_cache_bytes: 0,
                ..config()
            },
        )
        .unwrap();
        assert_eq!(all, fresh.select(&t, &[], DAY, DAY + HOUR).unwrap());
        assert_eq!(all.len(), 2_000);
    }
}

#[test]
fn a_read_larger_than_a_quarter_of_the_page_cache_keeps_none_of_it() {
    let dir = tempfile::tempdir().unwrap();
    // 120,000 rows: 1.9 MB decoded, more than a quarter of 4 MiB.
    let engine = Engine::open(
        dir.path(),
        EngineConfig {
            page_cache_bytes: 4 << 20,
            ..config()
        },
    )
    .unwrap();
    let t = TenantId::new("acme").unwrap();
    let batch: Vec<SeriesSamples> = (0..2_000u64)
        .map(|i| {
            let samples = (0..60)
                .map(|k| Sample {
                    ts: DAY + k * 60_000,
                    value: k as f64,
                })
                .collect();
            series("up", &[("host", format!("h{i:04}"))], samples)
        })
        .collect();
    engine.write(&t, &batch).unwrap();
    engine.flush().unwrap();
    let (_, first) = engine.select_with_stats(&t, &[], DAY, DAY + HOUR).unwrap();
    let (_, again) = engine.select_with_stats(&t, &[], DAY, DAY + HOUR).unwrap();
    assert_eq!(first.rows_decoded, 120_000);
    assert_eq!(again.rows_decoded, 120_000);
    // A small read is kept.
    let one = [m("host", MatchOp::Equal, "h0007")];
    let (_, small) = engine.select_with_stats(&t, &one, DAY, DAY + HOUR).unwrap();
    let (_, small_again) = engine.select_with_stats(&t, &one, DAY, DAY + HOUR).unwrap();
    assert!(small.rows_decoded > 0);
    assert_eq!(small_again.rows_decoded, 0);
}

#[test]
fn a_file_set_without_a_matching_series_is_skipped_by_its_index() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), config()).unwrap();
    let t = TenantId::new("acme").unwrap();
    let at = |ts| vec![Sample { ts, value: 1.0 }];
    engine
        .write(&t, &[series("up", &[("job", "api".into())], at(DAY))])
        .unwrap();
    engine
        .write(&t, &[series("up", &[("job", "db".into())], at(DAY + HOUR))])
        .unwrap();
    engine.flush().unwrap();
    let (got, stats) = engine
        .select_with_stats(&t, &[m("job", MatchOp::Equal, "db")], DAY, DAY + 2 * HOUR)
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!((stats.file_sets, stats.file_sets_skipped), (2, 1));
}

/// A small model of a tenant's data: series text -> (labels, ts -> value).
type Model = BTreeMap<Vec<(String, String)>, BTreeMap<i64, f64>>;
/// What a read returned, or should: labels -> samples.
type Read = BTreeMap<Vec<(String, String)>, Vec<(i64, f64)>>;

#[test]
fn reads_over_files_and_memory_match_the_matchers_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), config()).unwrap();
    let t = TenantId::new("acme").unwrap();
    let mut model = Model::new();
    let jobs = ["api", "db", ""];
    let zones = ["a", "b"];
    // Three rounds over three hours: the first two are flushed, the last stays in memory.
    for round in 0..3i64 {
        let mut batch = Vec::new();
        for (j, job) in jobs.iter().enumerate() {
            for (z, zone) in zones.iter().enumerate() {
                let name = if z == 0 { "up" } else { "cpu" };
                let mut labels = vec![("zone", (*zone).to_owned())];
                if !job.is_empty() {
                    labels.push(("job", (*job).to_owned()));
                }
                let samples: Vec<Sample> = (0..5)
                    .map(|k| Sample {
                        ts: DAY + round * HOUR + k * 60_000 + j as i64,
                        value: (round * 100 + k) as f64,
                    })
                    .collect();
                let mut key = vec![("__name__".to_owned(), name.to_owned())];
                key.extend(labels.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
                key.sort();
                let e = model.entry(key).or_default();
                e.extend(samples.iter().map(|s| (s.ts, s.value)));
                batch.push(series(name, &labels, samples));
            }
        }
        engine.write(&t, &batch).unwrap();
        if round < 2 {
            engine.flush().unwrap();
        }
    }
    let cases: Vec<Vec<Matcher>> = vec![
        vec![],
        vec![m("__name__", MatchOp::Equal, "up")],
        vec![m("job", MatchOp::Equal, "")],
        vec![m("job", MatchOp::NotEqual, "api")],
        vec![m("job", MatchOp::Regex, "a.*|d.")],
        vec![
            m("zone", MatchOp::NotRegex, "a"),
            m("job", MatchOp::Regex, ".+"),
        ],
        vec![m("nope", MatchOp::Equal, "x")],
    ];
    let ranges = [
        (DAY, DAY + 3 * HOUR),
        (DAY + HOUR + 60_000, DAY + 2 * HOUR + 120_000),
        (DAY + 30, DAY + 30),
    ];
    for matchers in &cases {
        for &(start, end) in &ranges {
            let want: Read = model
                .iter()
                .filter(|(labels, _)| {
                    let l = strata_engine::Labels::from_pairs(
                        labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                    )
                    .unwrap();
                    matchers.iter().all(|m| m.matches(&l))
                })
                .map(|(labels, samples)| {
                    let s: Vec<(i64, f64)> =
                        samples.range(start..=end).map(|(t, v)| (*t, *v)).collect();
                    (labels.clone(), s)
                })
                .filter(|(_, s)| !s.is_empty())
                .collect();
            let got: Read = engine
                .select(&t, matchers, start, end)
                .unwrap()
                .into_iter()
                .map(|s| {
                    let labels = s
                        .labels
                        .iter()
                        .map(|l| (l.name.clone(), l.value.clone()))
                        .collect();
                    (labels, s.samples.iter().map(|x| (x.ts, x.value)).collect())
                })
                .collect();
            assert_eq!(got, want, "{matchers:?} over {start}..={end}");
        }
    }
    // Label listings come from the head and the file sets' indexes alike.
    assert_eq!(
        engine.label_values(&t, "job", DAY, DAY + 3 * HOUR).unwrap(),
        ["api", "db"]
    );
    assert_eq!(
        engine.label_names(&t, DAY, DAY + HOUR).unwrap(),
        ["__name__", "job", "zone"]
    );
}

#[test]
fn a_read_past_its_limit_stops_near_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        page_cache_bytes: 256 << 20,
        ..config()
    };
    let engine = Engine::open(dir.path(), config).unwrap();
    let t = TenantId::new("acme").unwrap();
    // 200 series, a sample every 15 s for 10 hours, flushed hour by hour: 10 file sets.
    for h in 0..10i64 {
        let batch: Vec<SeriesSamples> = (0..200u64)
            .map(|i| {
                let samples = (0..240)
                    .map(|k| Sample {
                        ts: DAY + h * HOUR + k * 15_000,
                        value: (i * 10_000) as f64 + k as f64,
                    })
                    .collect();
                series("req_total", &[("host", format!("h{i:03}"))], samples)
            })
            .collect();
        assert_eq!(engine.write(&t, &batch).unwrap().accepted, 48_000);
        engine.flush().unwrap();
    }
    let all_bytes = 480_000 * 16;
    let (lo, hi) = (DAY, DAY + 10 * HOUR);

    // Past the limit: refused, having decoded about one file set's pages, not ten.
    let err = engine
        .select_within(&t, &[], lo, hi, all_bytes / 10)
        .unwrap_err();
    assert!(
        matches!(err, strata_engine::Error::ReadLimit { limit } if limit == all_bytes / 10),
        "{err}"
    );
    let after_refusal = engine.page_cache_used();
    let plain = engine.select(&t, &[], lo, hi).unwrap();
    let after_all = engine.page_cache_used();
    assert!(
        after_refusal * 4 < after_all,
        "decoded {after_refusal} bytes of pages before the refusal, {after_all} in all"
    );

    // At the limit exactly: the whole answer, as without one; a byte less is refused.
    assert_eq!(
        plain.iter().map(|s| s.samples.len()).sum::<usize>(),
        480_000
    );
    let within = engine.select_within(&t, &[], lo, hi, all_bytes).unwrap();
    assert_eq!(within, plain);
    assert!(
        engine
            .select_within(&t, &[], lo, hi, all_bytes - 1)
            .is_err()
    );
}
