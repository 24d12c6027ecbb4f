//! SIGKILL the real server while remote-write clients are ingesting; on restart, `/ready`
//! answers 503 until the WAL is replayed, and every acknowledged sample is back.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata_tests::http::{Framing, request};
use strata_tests::remote_write::{HEADERS, TestSeries, encode};
use strata_tests::server::{Server, data_dir};

/// Batch `n` of writer `w`: 50 series of 40 samples, unique to (w, n).
fn batch(w: usize, n: usize, end: i64) -> Vec<TestSeries> {
    (0..50)
        .map(|s| TestSeries {
            labels: vec![
                ("__name__".into(), "crash_test_value".into()),
                ("batch".into(), n.to_string()),
                ("series".into(), s.to_string()),
                ("writer".into(), w.to_string()),
            ],
            samples: (0..40)
                .map(|i| {
                    (
                        end - (40 - i) * 1000,
                        (w * 1_000_000 + n * 1000 + s) as f64 + i as f64 / 64.0,
                    )
                })
                .collect(),
        })
        .collect()
}

#[test]
fn acknowledged_samples_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The limits are not under test: four writers on a quiet machine pass the default
    // 100k samples/s, and on a fast one the 50,000 series per metric within the 2.5 s.
    let config = "[wal]\ndurability = \"fsync\"\n[limits]\ningest_rate = 100000000\ningest_burst = 100000000\nmax_series_per_metric = 100000000\nmax_active_series = 100000000\n";
    let server = Server::start(common::bin(), dir.path(), config);
    server.wait_ready(common::READY);
    let addr = server.http;
    let end = common::now_ms();
    let acked: Arc<Mutex<Vec<TestSeries>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let acked = acked.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let b = batch(w, n, end);
                    let protos: Vec<_> = b.iter().map(|s| s.to_proto()).collect();
                    match request(
                        addr,
                        "POST",
                        "/api/v1/write",
                        &HEADERS,
                        &encode(&protos),
                        Framing::Length,
                    ) {
                        Ok(r) if r.status == 204 => acked.lock().expect("lock").extend(b),
                        Ok(r) => panic!("writer {w} batch {n}: {} {}", r.status, r.text()),
                        Err(_) => return, // the server died under this request
                    }
                    n += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(2500));
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer thread");
    }
    let acked = std::mem::take(&mut *acked.lock().expect("lock"));
    assert!(
        acked.len() >= 200,
        "too few acknowledged batches to mean anything: {}",
        acked.len() / 50
    );

    // Restart: not ready while the WAL replays, live throughout.
    let server = Server::start(common::bin(), dir.path(), config);
    let first = server.get("/ready", &[]).expect("ready");
    let live = server.get("/live", &[]).expect("live");
    assert_eq!(live.status, 200);
    assert_eq!(
        first.status,
        503,
        "ready before the replay of {} samples",
        acked.len() * 40
    );
    assert_eq!(first.header("retry-after"), Some("1"));
    assert!(first.text().contains("recovering"), "{}", first.text());
    server.wait_ready(common::READY);
    let status = server.terminate();
    assert!(status.success(), "{status}");

    let got = common::read_back(&data_dir(dir.path()), "default");
    let want = common::expected(&acked);
    for (labels, samples) in &want {
        assert_eq!(
            got.get(labels),
            Some(samples),
            "acknowledged series {labels:?}"
        );
    }
}
