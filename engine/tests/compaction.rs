//! Compaction of closed partitions: one sorted, deduplicated file set per partition, the
//! same reads before and after, and nothing left behind.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use strata_engine::{Engine, EngineConfig, Limits, ManualClock, Sample, SeriesSamples, TenantId};

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;
/// 2025-11-21T00:00:00Z
const DAY: i64 = 1_763_683_200_000;

fn config() -> EngineConfig {
    EngineConfig {
        limits: Limits {
            ingest_rate: 1e9,
            ingest_burst: 1e9,
            ..Limits::default()
        },
        ..EngineConfig::default()
    }
}

fn series(job: &str, samples: impl IntoIterator<Item = (i64, f64)>) -> SeriesSamples {
    SeriesSamples {
        labels: vec![("__name__".into(), "up".into()), ("job".into(), job.into())],
        samples: samples
            .into_iter()
            .map(|(ts, value)| Sample { ts, value })
            .collect(),
    }
}

/// Files in the partition directory of hour `DAY`, sorted.
fn partition_files(root: &Path) -> Vec<String> {
    let dir: PathBuf = root.join("metrics/tenant=acme/date=2025-11-21/hour=00");
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_closed_partition_becomes_one_deduplicated_file_set() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(DAY + 10 * MIN));
    let engine = Engine::open_with_clock(dir.path(), config(), clock.clone()).unwrap();
    let t = TenantId::new("acme").unwrap();

    // Three flushes into hour 0: two halves, then a re-send of the first half (accepted:
    // those samples are no longer in memory to compare with) with one changed value.
    let first: Vec<(i64, f64)> = (0..30).map(|k| (DAY + k * MIN, k as f64)).collect();
    let second: Vec<(i64, f64)> = (30..50).map(|k| (DAY + k * MIN, k as f64)).collect();
    engine
        .write(
            &t,
            &[series("api", first.clone()), series("db", second.clone())],
        )
        .unwrap();
    engine.flush().unwrap();
    engine.write(&t, &[series("api", second.clone())]).unwrap();
    engine.flush().unwrap();
    let mut resend = first.clone();
    resend[3].1 = -1.0; // a conflicting value: the first-written one stays
    assert_eq!(
        engine.write(&t, &[series("api", resend)]).unwrap().accepted,
        30
    );
    engine.flush().unwrap();
    let before = common::dump(&engine, &t);
    assert_eq!(before["up{job=\"api\"}"].len(), 50);
    assert_eq!(
        before["up{job=\"api\"}"][3],
        (DAY + 3 * MIN, 3f64.to_bits())
    );
    assert_eq!(partition_files(dir.path()).len(), 3 * 3 + 1);

    // Not closed yet: the partition ends at DAY + 1h, plus the 1 h out-of-order window.
    clock.set(DAY + 2 * HOUR - 1);
    assert_eq!(engine.compact().unwrap().partitions, 0);
    clock.set(DAY + 2 * HOUR);
    let stats = engine.compact().unwrap();
    assert_eq!((stats.partitions, stats.file_sets_in), (1, 3));
    assert_eq!((stats.rows_in, stats.rows_out), (30 + 20 + 20 + 30, 70));
    assert_eq!(common::dump(&engine, &t), before);
    let files = partition_files(dir.path());
    assert_eq!(files.len(), 3 + 1, "one set and the manifest: {files:?}");
    assert!(
        files
            .iter()
            .all(|f| f.contains("-c.") || f == "manifest.json")
    );
    assert_eq!(
        engine.compact().unwrap().partitions,
        0,
        "nothing left to do"
    );

    engine.close().unwrap();
    let engine = Engine::open_with_clock(dir.path(), config(), clock.clone()).unwrap();
    assert_eq!(common::dump(&engine, &t), before);
    assert_eq!(partition_files(dir.path()).len(), 4);

    // A late sample for the compacted hour (inside its series' window) adds a set; the next
    // pass merges it into a new set with a new name.
    engine
        .write(&t, &[series("db", [(DAY + 55 * MIN, 55.0)])])
        .unwrap();
    engine.flush().unwrap();
    assert_eq!(partition_files(dir.path()).len(), 7);
    let stats = engine.compact().unwrap();
    assert_eq!((stats.file_sets_in, stats.rows_out), (2, 71));
    assert_eq!(partition_files(dir.path()).len(), 4);
    let after = common::dump(&engine, &t);
    assert_eq!(after["up{job=\"db\"}"].len(), 21);
    engine.close().unwrap();
}

#[test]
fn compact_all_merges_open_partitions_too() {
    let dir = tempfile::tempdir().unwrap();
    let clock = ManualClock::new(DAY);
    let engine = Engine::open_with_clock(dir.path(), config(), clock).unwrap();
    let t = TenantId::new("acme").unwrap();
    for k in 0..4 {
        engine
            .write(&t, &[series("api", [(DAY + k * MIN, 1.0)])])
            .unwrap();
        engine.flush().unwrap();
    }
    let before = common::dump(&engine, &t);
    assert_eq!(engine.compact().unwrap().partitions, 0);
    let stats = engine.compact_all().unwrap();
    assert_eq!((stats.partitions, stats.rows_out), (1, 4));
    assert_eq!(common::dump(&engine, &t), before);
}
