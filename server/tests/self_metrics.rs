//! `/metrics` of the real binary reports the engine's internals: WAL fsync latency and
//! counters, flush / compaction / retention durations, partitions and bytes on disk per
//! tenant, each consistent with what the test made the server do.

mod common;

use std::time::{Duration, Instant};

use strata_tests::remote_write::{HEADERS, encode, node_and_http_series};
use strata_tests::server::{Server, data_dir};

/// The value of the series written exactly as `series` (name and labels) in `text`.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn metrics_expose_wal_flush_maintenance_and_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = "[wal]\ndurability = \"fsync\"\n\
                  [engine]\nflush_head_samples = 2000\nmaintenance_interval = \"1s\"\n";
    let server = Server::start(common::bin(), dir.path(), config);
    server.wait_ready(common::READY);

    // Before any write: retention ran once at open, nothing is on disk.
    let before = server.get("/metrics", &[]).expect("metrics").text();
    assert!(value(&before, "strata_retention_duration_seconds_count").unwrap_or(0.0) >= 1.0);
    assert_eq!(
        value(
            &before,
            "strata_disk_bytes{tenant=\"default\",signal=\"metrics\"}"
        ),
        None,
        "{before}"
    );

    let series = node_and_http_series(4, 40, common::now_ms());
    let protos: Vec<_> = series.iter().map(|s| s.to_proto()).collect();
    let mut requests = 0;
    for batch in protos.chunks(20) {
        let r = server
            .post("/api/v1/write", &HEADERS, &encode(batch))
            .expect("remote-write");
        assert_eq!(r.status, 204, "{}", r.text());
        requests += 1;
    }

    // Over flush_head_samples: the background flusher writes Parquet soon.
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let text = server.get("/metrics", &[]).expect("metrics").text();
        let flushed = value(
            &text,
            "strata_disk_bytes{tenant=\"default\",signal=\"metrics\"}",
        )
        .unwrap_or(0.0)
            > 0.0;
        let compacted = value(&text, "strata_compaction_duration_seconds_count").unwrap_or(0.0);
        if flushed && compacted >= 1.0 {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no flush/compaction reported:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };

    // The series structures: each key holds the canonical label bytes (a u32 length before
    // every name and value) and an `Arc`'s two counts; the raw key cache holds each series'
    // protobuf label fields (6 bytes of tags and lengths per label here) and its table.
    let memory = |part: &str| {
        value(
            &text,
            &format!("strata_series_memory_bytes{{tenant=\"default\",part=\"{part}\"}}"),
        )
    };
    let label_bytes = |per_label: usize| -> f64 {
        let bytes: usize = series
            .iter()
            .flat_map(|s| &s.labels)
            .map(|(n, v)| per_label + n.len() + v.len())
            .sum();
        bytes as f64
    };
    assert_eq!(
        memory("series_keys"),
        Some(label_bytes(8) + 16.0 * series.len() as f64)
    );
    assert!(
        memory("raw_keys").is_some_and(|b| b > label_bytes(6)),
        "{text}"
    );
    assert!(memory("series_table").is_some_and(|b| b >= 64.0 * series.len() as f64));

    // Every acknowledged request was logged and fsynced. Group commit may share one fsync
    // among append batches, never more than one per batch (a request that adds series logs
    // their definitions as batches of their own before its samples); the flush adds at
    // most two.
    let fsyncs = value(&text, "strata_wal_fsyncs_total").expect("fsync counter");
    let appends = value(&text, "strata_wal_appends_total").expect("append counter");
    let timed = value(&text, "strata_wal_fsync_duration_seconds_count").expect("fsync histogram");
    assert!(appends >= f64::from(requests), "{appends} appends");
    assert!(
        fsyncs >= 1.0 && fsyncs <= appends + 2.0,
        "{fsyncs} fsyncs for {appends} appends"
    );
    assert_eq!(fsyncs, timed, "every fsync is timed");
    let inf = value(
        &text,
        "strata_wal_fsync_duration_seconds_bucket{le=\"+Inf\"}",
    );
    assert_eq!(inf, Some(timed));
    assert!(value(&text, "strata_wal_fsync_duration_seconds_sum").is_some_and(|s| s > 0.0));
    assert!(value(&text, "strata_wal_records_total").is_some_and(|r| r >= f64::from(requests)));

    assert!(value(&text, "strata_flush_duration_seconds_count").is_some_and(|n| n >= 1.0));
    assert!(
        value(
            &text,
            "strata_partitions{tenant=\"default\",signal=\"metrics\"}"
        )
        .is_some_and(|n| n >= 1.0)
    );
    assert!(
        value(
            &text,
            "strata_file_sets{tenant=\"default\",signal=\"metrics\"}"
        )
        .is_some_and(|n| n >= 1.0)
    );

    // The bytes reported are the Parquet files in the data directory.
    let reported = value(
        &text,
        "strata_disk_bytes{tenant=\"default\",signal=\"metrics\"}",
    )
    .expect("disk bytes");
    let on_disk = parquet_bytes(&data_dir(dir.path()).join("metrics"));
    assert_eq!(reported, on_disk as f64, "reported vs files on disk");
    // Written now: nothing is old enough for the cold layout.
    assert_eq!(
        value(
            &text,
            "strata_disk_cold_bytes{tenant=\"default\",signal=\"metrics\"}"
        ),
        Some(0.0)
    );

    let status = server.terminate();
    assert!(status.success(), "{status}");
}

/// Bytes of every `.parquet` file under `dir`.
fn parquet_bytes(dir: &std::path::Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    rd.filter_map(Result::ok)
        .map(|e| {
            let p = e.path();
            if p.is_dir() {
                parquet_bytes(&p)
            } else if p.extension().is_some_and(|x| x == "parquet") {
                e.metadata().map_or(0, |m| m.len())
            } else {
                0
            }
        })
        .sum()
}

/// `strata serve` turns transparent huge pages off for itself (docs/benchmarks-history.md,
/// "Where remote-write memory goes"), where the kernel reports it.
#[test]
fn serve_turns_transparent_huge_pages_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    let status = std::fs::read_to_string(format!("/proc/{}/status", server.pid()))
        .expect("the server's /proc status");
    // Linux 5.0 and later report the flag.
    let line = status
        .lines()
        .find(|l| l.starts_with("THP_enabled:"))
        .expect("THP_enabled in /proc/PID/status");
    assert_eq!(line.split_whitespace().nth(1), Some("0"), "{line}");
    let status = server.terminate();
    assert!(status.success(), "{status}");
}

/// Every answer tells its latency in `Server-Timing: app;dur=<ms>` (the console shows it),
/// the same time the request metrics record: a query, an error and a 404 alike.
#[test]
fn answers_carry_their_server_timing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    for (path, status) in [
        ("/api/v1/query?query=1", 200),
        ("/api/v1/query?query=sum(", 400),
        ("/no/such/path", 404),
    ] {
        let r = server.get(path, &[]).expect("get");
        assert_eq!(r.status, status, "{path}: {}", r.text());
        let timing = r
            .header("server-timing")
            .unwrap_or_else(|| panic!("{path}: no Server-Timing"));
        let ms: f64 = timing
            .strip_prefix("app;dur=")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{path}: {timing}"));
        assert!((0.0..10_000.0).contains(&ms), "{path}: {timing}");
    }
}
