//! The registered memory release runs on the background thread once flushes that wrote
//! something have paused for a second, and after a maintenance pass; not between the
//! flushes of a steady load, and not on idle ticks. (Its own test binary: the
//! registration is process-wide.)

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use strata_engine::{Engine, EngineConfig, Sample, SeriesSamples, TenantId};

static RELEASES: AtomicUsize = AtomicUsize::new(0);

fn count_release() {
    RELEASES.fetch_add(1, Ordering::SeqCst);
}

fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "never happened: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_release_runs_after_a_flush_and_after_maintenance_not_when_idle() {
    assert!(strata_engine::set_memory_release(count_release));
    assert!(
        !strata_engine::set_memory_release(count_release),
        "the first registration wins"
    );
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        flush_head_samples: 100,
        flush_interval: Duration::from_millis(200),
        maintenance_interval: Duration::from_secs(3600),
        ..common::config()
    };
    let engine = Engine::open(dir.path(), config).unwrap();
    let t = TenantId::new("t").unwrap();
    // Idle: the flusher ticks every 50 ms with nothing to flush.
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(RELEASES.load(Ordering::SeqCst), 0, "released while idle");
    let batch = [SeriesSamples {
        labels: vec![("__name__".into(), "m".into())],
        samples: (0..100).map(|ts| Sample { ts, value: 1.0 }).collect(),
    }];
    engine.write(&t, &batch).unwrap();
    eventually("a release after the flush", || {
        engine.telemetry().flush.count >= 1 && RELEASES.load(Ordering::SeqCst) >= 1
    });
    let after_flush = RELEASES.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        RELEASES.load(Ordering::SeqCst),
        after_flush,
        "released again with nothing flushed"
    );

    // A steady load: a flush every ~50 ms for 1.5 s. No release while it lasts (but for
    // a pause of a second, if this thread was held up that long), one after it stops.
    let flushes = engine.telemetry().flush.count;
    let (start, mut pauses, mut last) = (Instant::now(), 0, Instant::now());
    let mut ts = 100;
    while start.elapsed() < Duration::from_millis(1500) {
        let batch = [SeriesSamples {
            labels: vec![("__name__".into(), "m".into())],
            samples: (ts..ts + 100).map(|ts| Sample { ts, value: 1.0 }).collect(),
        }];
        ts += 100;
        engine.write(&t, &batch).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        pauses += usize::from(last.elapsed() >= Duration::from_millis(900));
        last = Instant::now();
    }
    assert!(
        engine.telemetry().flush.count >= flushes + 5,
        "the load did not flush steadily"
    );
    assert!(
        RELEASES.load(Ordering::SeqCst) <= after_flush + pauses,
        "released between the flushes of a steady load"
    );
    eventually("a release after the load", || {
        RELEASES.load(Ordering::SeqCst) > after_flush + pauses
    });
    drop(engine);

    // Maintenance passes release too (one at most every 100 ms here, on 50 ms ticks).
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig {
        flush_interval: Duration::from_millis(200),
        maintenance_interval: Duration::from_millis(100),
        ..common::config()
    };
    let _engine = Engine::open(dir.path(), config).unwrap();
    eventually("releases after maintenance passes", || {
        RELEASES.load(Ordering::SeqCst) >= after_flush + 2
    });
}
