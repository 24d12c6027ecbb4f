//! SIGKILL the real server while compaction rewrites a partition in the cold layout; on
//! restart every acknowledged sample is back, and the partition ends as one cold set
//! holding each sample exactly once.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, UNIX_EPOCH};

use strata_tests::http::{Framing, request};
use strata_tests::remote_write::{HEADERS, TestSeries, encode};
use strata_tests::server::{Server, data_dir};

const HOUR: i64 = 3_600_000;

/// Every partition turns cold as soon as it is closed, and maintenance runs every second.
const CONFIG: &str = "[wal]\ndurability = \"fsync\"\n\
    [limits]\ningest_rate = 100000000\ningest_burst = 100000000\n\
    [engine]\nflush_interval = \"1s\"\nmaintenance_interval = \"1s\"\n\
    [storage]\ncold_after = \"0s\"\n";

/// Series `s` of batch `b`: a sample every second of the hour starting at `hour`.
fn series(b: usize, s: usize, hour: i64) -> TestSeries {
    TestSeries {
        labels: vec![
            ("__name__".into(), "cold_crash_total".into()),
            ("batch".into(), b.to_string()),
            ("series".into(), s.to_string()),
        ],
        samples: (0..3600)
            .map(|k| {
                let v = (k * (s as i64 + 1) + (k * 7919 + b as i64 * 104_729) % 17) as f64;
                (hour + k * 1000, v)
            })
            .collect(),
    }
}

/// The partition directory of `hour` for the default tenant (`date=YYYY-MM-DD/hour=HH`,
/// UTC).
fn partition(data: &Path, hour: i64) -> PathBuf {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(hour).expect("after 1970"));
    let iso = humantime::format_rfc3339(at).to_string(); // 2026-11-28T03:00:00Z
    data.join(format!(
        "metrics/tenant=default/date={}/hour={}",
        &iso[..10],
        &iso[11..13]
    ))
}

fn names(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn a_kill_during_a_cold_rewrite_loses_and_doubles_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hour = (common::now_ms() - 3 * HOUR).div_euclid(HOUR) * HOUR;
    let part = partition(&data_dir(dir.path()), hour);
    let server = Server::start(common::bin(), dir.path(), CONFIG);
    server.wait_ready(common::READY);

    // 400 series of 3,600 samples in the hour three hours ago (closed, so cold at once),
    // 20 series a request.
    let mut acked: Vec<TestSeries> = Vec::new();
    for b in 0..20 {
        let batch: Vec<TestSeries> = (0..20).map(|s| series(b, s, hour)).collect();
        let protos: Vec<_> = batch.iter().map(|s| s.to_proto()).collect();
        let r = request(
            server.http,
            "POST",
            "/api/v1/write",
            &HEADERS,
            &encode(&protos),
            Framing::Length,
        )
        .expect("remote-write");
        assert_eq!(r.status, 204, "{}", r.text());
        acked.extend(batch);
    }

    // The kill: as soon as a cold file is being written.
    let deadline = Instant::now() + Duration::from_secs(120);
    let seen = loop {
        let now = names(&part);
        if let Some(n) = now
            .iter()
            .find(|n| n.contains("-cold.") && n.ends_with(".tmp"))
        {
            break n.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no cold rewrite seen in flight in 120 s: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    };
    server.kill();
    let left = names(&part);
    assert!(
        left.iter().any(|n| n.ends_with(".tmp")),
        "killed mid-rewrite ({seen}): {left:?}"
    );

    // Restart: the partial rewrite is discarded, the rewrite done again.
    let server = Server::start(common::bin(), dir.path(), CONFIG);
    server.wait_ready(common::READY);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let now = names(&part);
        let done = now
            .iter()
            .all(|n| n.contains("-cold.") || n == "manifest.json")
            && now.iter().any(|n| n.starts_with("samples-"));
        if done && !now.iter().any(|n| n.ends_with(".tmp")) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not one cold set after 120 s: {now:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The self-metrics count the partition's bytes as cold: all of the tenant's metrics.
    let metrics = server.get("/metrics", &[]).expect("metrics").text();
    let gauge = |name: &str| {
        let series = format!("{name}{{tenant=\"default\",signal=\"metrics\"}} ");
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series.as_str())?.parse::<f64>().ok())
    };
    let on_disk: u64 = names(&part)
        .iter()
        .filter(|n| n.ends_with(".parquet"))
        .map(|n| std::fs::metadata(part.join(n)).map_or(0, |m| m.len()))
        .sum();
    assert_eq!(
        gauge("strata_disk_cold_bytes"),
        Some(on_disk as f64),
        "{metrics}"
    );
    assert_eq!(gauge("strata_disk_bytes"), Some(on_disk as f64));
    let status = server.terminate();
    assert!(status.success(), "{status}");

    // One set, every sample once.
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(part.join("manifest.json")).expect("read the manifest"),
    )
    .expect("parse the manifest");
    let files = manifest["files"].as_array().expect("files");
    assert_eq!(files.len(), 1, "{manifest}");
    assert!(
        files[0]["samples"]
            .as_str()
            .is_some_and(|s| s.ends_with("-cold.parquet")),
        "{manifest}"
    );
    assert_eq!(files[0]["rows"].as_u64(), Some(400 * 3600), "{manifest}");
    let got = common::read_back(&data_dir(dir.path()), "default");
    assert_eq!(got, common::expected(&acked));
}
