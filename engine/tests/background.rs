//! The background flusher (by size and by age), memory backpressure, and a failed flush
//! poisoning the engine without losing anything.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use strata_engine::{Engine, EngineConfig, Error, Sample, SeriesSamples, TenantId};

fn batch(from: i64, n: i64) -> [SeriesSamples; 1] {
    [SeriesSamples {
        labels: vec![("__name__".into(), "m".into())],
        samples: (from..from + n)
            .map(|ts| Sample {
                ts,
                value: ts as f64,
            })
            .collect(),
    }]
}

fn has_parquet(dir: &Path) -> bool {
    walk(dir)
        .iter()
        .any(|p| p.extension().is_some_and(|e| e == "parquet"))
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// Waits (bounded) for `cond`; the bound is a hang guard, not a speed assertion.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_flusher_runs_when_the_head_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        flush_head_samples: 1000,
        ..common::config()
    };
    let engine = Engine::open(dir.path(), config).unwrap();
    let t = TenantId::new("t").unwrap();
    engine.write(&t, &batch(0, 999)).unwrap();
    assert!(
        !has_parquet(dir.path()),
        "below the threshold nothing is flushed"
    );
    engine.write(&t, &batch(999, 1)).unwrap();
    eventually("a flush by size", || has_parquet(dir.path()));
    assert_eq!(
        engine.select(&t, &[], 0, i64::MAX).unwrap()[0]
            .samples
            .len(),
        1000
    );
}

#[test]
fn the_flusher_runs_when_the_oldest_sample_is_old_enough() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        flush_interval: Duration::from_millis(200),
        ..common::config()
    };
    let engine = Engine::open(dir.path(), config).unwrap();
    engine
        .write(&TenantId::new("t").unwrap(), &batch(0, 1))
        .unwrap();
    eventually("a flush by age", || has_parquet(dir.path()));
}

#[test]
fn an_idle_engine_does_not_flush_again_after_an_age_flush() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        flush_interval: Duration::from_millis(200),
        ..common::config()
    };
    let engine = Engine::open(dir.path(), config).unwrap();
    let t = TenantId::new("t").unwrap();
    engine.write(&t, &batch(0, 1)).unwrap();
    eventually("a flush by age", || {
        has_parquet(dir.path()) && engine.telemetry().flush.count >= 1
    });
    let after_first = engine.telemetry().flush.count;
    // The flusher ticks every 50 ms here: twenty ticks with nothing new in memory.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        engine.telemetry().flush.count,
        after_first,
        "flushes ran with nothing to flush"
    );
    // New data starts the age clock again.
    engine.write(&t, &batch(1, 1)).unwrap();
    eventually("a second flush by age", || {
        engine.telemetry().flush.count > after_first
    });
}

#[test]
fn over_the_memory_budget_writes_are_refused_until_a_flush_frees_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        flush_head_samples: 1000,
        max_head_bytes: 16_000,
        ..common::config()
    };
    let engine = Engine::open(dir.path(), config).unwrap();
    let t = TenantId::new("t").unwrap();
    // One batch may overshoot the budget (it is checked before a write, not during).
    engine.write(&t, &batch(0, 5000)).unwrap();
    let err = engine.write(&t, &batch(5000, 1)).unwrap_err();
    assert!(
        matches!(err, Error::OverCapacity { budget: 16_000, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("retry"), "{err}");
    // The flusher was kicked; once it is done, writes go through again.
    eventually("writes accepted again", || {
        engine.write(&t, &batch(6000, 1)).is_ok()
    });
    assert_eq!(
        engine.select(&t, &[], 0, i64::MAX).unwrap()[0]
            .samples
            .len(),
        5001
    );
}

#[test]
fn a_failed_flush_poisons_and_reopening_recovers_everything() {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path(), common::config()).unwrap();
    let t = TenantId::new("t").unwrap();
    engine.write(&t, &batch(0, 100)).unwrap();
    // A file where the metrics directory must go makes the flush fail.
    std::fs::write(dir.path().join("metrics"), b"in the way").unwrap();
    let err = engine.flush().unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    let err = engine.write(&t, &batch(100, 1)).unwrap_err();
    assert!(
        matches!(&err, Error::Poisoned { reason } if reason.contains("flush failed")),
        "{err}"
    );
    // Reads still see everything written (the samples went back to memory).
    assert_eq!(
        engine.select(&t, &[], 0, i64::MAX).unwrap()[0]
            .samples
            .len(),
        100
    );
    assert!(
        engine.close().is_ok(),
        "close skips the flush of a poisoned engine"
    );

    std::fs::remove_file(dir.path().join("metrics")).unwrap();
    let engine = Engine::open(dir.path(), common::config()).unwrap();
    assert_eq!(
        engine.select(&t, &[], 0, i64::MAX).unwrap()[0]
            .samples
            .len(),
        100
    );
    engine.write(&t, &batch(100, 1)).unwrap();
}
