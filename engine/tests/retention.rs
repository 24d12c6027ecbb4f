//! Retention: whole partitions dropped at the boundary, by disk budget, safely against a
//! crash mid-drop; samples older than the retention are rejected on write.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use strata_engine::{
    Engine, EngineConfig, Limits, ManualClock, RejectReason, Sample, SeriesSamples, TenantId,
};

const MIN: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// 2025-11-21T00:00:00Z
const DAY: i64 = 1_763_683_200_000;

fn limits(retention_days: u64, budget: Option<u64>) -> Limits {
    Limits {
        ingest_rate: 1e9,
        ingest_burst: 1e9,
        metrics_retention: Duration::from_secs(retention_days * 86_400),
        disk_budget: budget,
        ..Limits::default()
    }
}

fn config(l: Limits) -> EngineConfig {
    EngineConfig {
        limits: l,
        ..EngineConfig::default()
    }
}

fn up(job: &str, ts: impl IntoIterator<Item = i64>) -> SeriesSamples {
    SeriesSamples {
        labels: vec![("__name__".into(), "up".into()), ("job".into(), job.into())],
        samples: ts.into_iter().map(|ts| Sample { ts, value: 1.0 }).collect(),
    }
}

/// Timestamps stored for `t`, all series.
fn stored(engine: &Engine, t: &TenantId) -> Vec<i64> {
    let mut ts: Vec<i64> = engine
        .select(t, &[], i64::MIN, i64::MAX)
        .unwrap()
        .into_iter()
        .flat_map(|s| s.samples.into_iter().map(|x| x.ts))
        .collect();
    ts.sort();
    ts
}

fn hour_dir(root: &Path, tenant: &str, date: &str, hour: u32) -> PathBuf {
    root.join(format!(
        "metrics/tenant={tenant}/date={date}/hour={hour:02}"
    ))
}

#[test]
fn partitions_are_dropped_whole_exactly_at_the_boundary() {
    let dir = tempfile::tempdir().unwrap();
    // Written while everything is inside the 30-day retention.
    let clock = Arc::new(ManualClock::new(DAY + 2 * DAY_MS));
    let engine =
        Engine::open_with_clock(dir.path(), config(limits(30, None)), clock.clone()).unwrap();
    let t = TenantId::new("acme").unwrap();
    // Hour 23 of DAY, and hour 00 of the next day.
    let late = DAY + 23 * HOUR;
    let next = DAY + DAY_MS;
    engine
        .write(
            &t,
            &[up("a", [late, late + 59 * MIN, next, next + 30 * MIN])],
        )
        .unwrap();
    engine.flush().unwrap();
    assert!(hour_dir(dir.path(), "acme", "2025-11-21", 23).exists());

    // The cutoff (now - 30 d) is one millisecond short of hour 23's end: it stays.
    clock.set(next + 30 * DAY_MS - 1);
    assert_eq!(engine.apply_retention().unwrap().expired, 0);
    assert_eq!(stored(&engine, &t).len(), 4);
    // At its end it goes, whole; the next hour stays.
    clock.set(next + 30 * DAY_MS);
    let stats = engine.apply_retention().unwrap();
    assert_eq!(stats.expired, 1);
    assert!(stats.bytes > 0);
    assert_eq!(stored(&engine, &t), [next, next + 30 * MIN]);
    assert!(!hour_dir(dir.path(), "acme", "2025-11-21", 23).exists());
    assert!(
        !dir.path()
            .join("metrics/tenant=acme/date=2025-11-21")
            .exists(),
        "the emptied date directory goes too"
    );
    assert!(hour_dir(dir.path(), "acme", "2025-11-22", 0).exists());

    // A sample older than the retention is rejected with its reason, the rest stored.
    let out = engine
        .write(&t, &[up("a", [next - 1, next + 31 * DAY_MS])])
        .unwrap();
    assert_eq!(out.accepted, 1);
    assert_eq!(out.rejected[&RejectReason::OutOfRetention], 1);
    assert!(
        out.messages[&RejectReason::OutOfRetention].contains("retention (2592000 s)"),
        "{:?}",
        out.messages
    );
    engine.close().unwrap();

    let engine = Engine::open_with_clock(dir.path(), config(limits(30, None)), clock).unwrap();
    assert_eq!(
        stored(&engine, &t),
        [next, next + 30 * MIN, next + 31 * DAY_MS]
    );
}

#[test]
fn a_disk_budget_drops_the_oldest_partitions_of_that_tenant_only() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(DAY + 6 * HOUR));
    let mut cfg = config(limits(30, None));
    let t = TenantId::new("small").unwrap();
    let other = TenantId::new("big").unwrap();
    let engine = Engine::open_with_clock(dir.path(), cfg.clone(), clock.clone()).unwrap();
    let hours = |h: i64| (0..60).map(move |k| DAY + h * HOUR + k * MIN);
    for h in 0..5 {
        engine.write(&t, &[up("a", hours(h))]).unwrap();
        engine.write(&other, &[up("a", hours(h))]).unwrap();
        engine.flush().unwrap();
    }
    engine.close().unwrap();
    // Measure one partition, then allow a bit over two and a half of them.
    let one: u64 = std::fs::read_dir(hour_dir(dir.path(), "small", "2025-11-21", 0))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".parquet"))
        .map(|e| e.metadata().unwrap().len())
        .sum();
    cfg.tenant_limits
        .insert("small".into(), limits(30, Some(one * 5 / 2)));
    // Opening applies retention at once.
    let engine = Engine::open_with_clock(dir.path(), cfg, clock).unwrap();
    let kept: Vec<i64> = stored(&engine, &t);
    assert_eq!(kept.len(), 2 * 60, "the two newest hours fit");
    assert_eq!(kept[0], DAY + 3 * HOUR);
    assert_eq!(
        stored(&engine, &other).len(),
        5 * 60,
        "other tenants keep theirs"
    );
    assert!(!hour_dir(dir.path(), "small", "2025-11-21", 2).exists());
}

#[test]
fn a_crash_after_the_drop_marker_never_brings_the_partition_back() {
    let dir = tempfile::tempdir().unwrap();
    let t = TenantId::new("acme").unwrap();
    let clock = Arc::new(ManualClock::new(DAY + HOUR));
    {
        let engine =
            Engine::open_with_clock(dir.path(), config(limits(30, None)), clock.clone()).unwrap();
        engine.write(&t, &[up("a", [DAY, DAY + HOUR])]).unwrap();
        engine.close().unwrap();
    }
    // The state a crash right after a drop's commit leaves: the manifest renamed to DROPPED,
    // every file still there.
    let hour0 = hour_dir(dir.path(), "acme", "2025-11-21", 0);
    std::fs::rename(hour0.join("manifest.json"), hour0.join("DROPPED")).unwrap();
    let engine = Engine::open_with_clock(dir.path(), config(limits(30, None)), clock).unwrap();
    assert_eq!(stored(&engine, &t), [DAY + HOUR]);
    assert!(!hour0.exists(), "open finishes the drop");
}

#[test]
fn the_wal_still_defines_a_series_whose_partitions_were_all_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let t = TenantId::new("acme").unwrap();
    let clock = Arc::new(ManualClock::new(DAY + HOUR));
    let mut cfg = config(limits(30, None));
    cfg.tenant_limits.insert("acme".into(), limits(30, Some(1)));
    {
        let engine = Engine::open_with_clock(dir.path(), cfg.clone(), clock.clone()).unwrap();
        engine.write(&t, &[up("a", [DAY])]).unwrap();
        engine.flush().unwrap();
        assert_eq!(engine.apply_retention().unwrap().over_budget, 1);
        // The series' only stored definition is gone with its partition; this write's WAL
        // record must define it again. Dropped without close: a crash.
        engine.write(&t, &[up("a", [DAY + MIN])]).unwrap();
    }
    let engine = Engine::open_with_clock(dir.path(), cfg.clone(), clock.clone()).unwrap();
    assert_eq!(stored(&engine, &t), [DAY + MIN]);
    // And once more across an open: series known at open are logged again on first use.
    engine.flush().unwrap();
    drop(engine);
    let engine = Engine::open_with_clock(dir.path(), cfg.clone(), clock.clone()).unwrap();
    engine.write(&t, &[up("a", [DAY + 2 * MIN])]).unwrap();
    drop(engine);
    let engine = Engine::open_with_clock(dir.path(), cfg, clock).unwrap();
    assert_eq!(stored(&engine, &t), [DAY + 2 * MIN]);
}

#[test]
fn a_new_series_whose_samples_are_all_past_retention_is_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(DAY));
    let engine = Engine::open_with_clock(dir.path(), config(limits(30, None)), clock).unwrap();
    let t = TenantId::new("acme").unwrap();
    let old = DAY - 31 * DAY_MS;
    let out = engine.write(&t, &[up("gone", [old, old + MIN])]).unwrap();
    assert_eq!(out.accepted, 0);
    assert_eq!(out.rejected[&RejectReason::OutOfRetention], 2);
    assert!(out.messages[&RejectReason::OutOfRetention].contains("job=\"gone\""));
    // Refused whole: no series in the head, so none in the limits or the cardinality.
    assert_eq!(engine.series_count(&t), 0);
    assert_eq!(engine.tenant_stats(&t).active_series, 0);
    // One sample in retention creates it, and only that one is stored.
    let out = engine.write(&t, &[up("gone", [old, DAY])]).unwrap();
    assert_eq!(
        (out.accepted, out.rejected[&RejectReason::OutOfRetention]),
        (1, 1)
    );
    assert_eq!(engine.series_count(&t), 1);
}
