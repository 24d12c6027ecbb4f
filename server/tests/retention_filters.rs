//! `[[retention.filters]]` in the real server: the series a filter's selector matches
//! leave partitions older than its `keep` in the background, the others stay, and
//! `/metrics` counts what the filter removed.

mod common;

use std::time::{Duration, Instant};

use strata_tests::remote_write::{HEADERS, TestSeries, encode};
use strata_tests::server::Server;

const CONFIG: &str = "[engine]\nflush_interval = \"1s\"\nmaintenance_interval = \"1s\"\n\
    [[retention.filters]]\nmatch = '{__name__=~\"go_.*\"}'\nkeep = \"1d\"\n";

fn series(name: &str, end: i64) -> TestSeries {
    TestSeries {
        labels: vec![
            ("__name__".into(), name.into()),
            ("job".into(), "api".into()),
        ],
        samples: (0..40)
            .map(|i| (end - (40 - i) * 15_000, i as f64))
            .collect(),
    }
}

#[test]
fn a_filter_removes_its_series_from_old_partitions_and_counts_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), CONFIG);
    server.wait_ready(common::READY);
    // Five days old: past the filter's day, inside the 30-day retention.
    let end = common::now_ms() - 5 * 86_400_000;
    let sent = [series("go_goroutines", end), series("up", end)];
    let protos: Vec<_> = sent.iter().map(|s| s.to_proto()).collect();
    let r = server
        .post("/api/v1/write", &HEADERS, &encode(&protos))
        .expect("remote-write");
    assert_eq!(r.status, 204, "{}", r.text());

    let counter = "strata_retention_filtered_samples_total{filter=\"{__name__=~\\\"go_.*\\\"}\"} ";
    // The samples may reach the files in more than one flush, each filtered by a pass of
    // its own: wait for all 40, then make sure no more come.
    let removed = |text: &str| -> Option<f64> {
        text.lines()
            .find_map(|l| l.strip_prefix(counter)?.parse().ok())
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let text = loop {
        let text = server.get("/metrics", &[]).expect("metrics").text();
        if removed(&text).is_some_and(|n| n >= 40.0) {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "not all filtered in 60 s:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(removed(&text), Some(40.0), "{text}");
    std::thread::sleep(Duration::from_secs(2));
    let text = server.get("/metrics", &[]).expect("metrics").text();
    assert_eq!(
        removed(&text),
        Some(40.0),
        "each sample counted once: {text}"
    );

    let q = |query: &str| {
        let body = server.instant_query(query, end, &[]).text();
        let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        v["data"]["result"].as_array().map_or(0, Vec::len)
    };
    assert_eq!(q("count_over_time(go_goroutines[15m])"), 0, "filtered out");
    assert_eq!(q("count_over_time(up[15m])"), 1, "kept");
    let status = server.terminate();
    assert!(status.success(), "{status}");
}
