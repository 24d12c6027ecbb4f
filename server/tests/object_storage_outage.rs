//! The S3 server (moto on loopback, installed by `.ci/test.sh`) stops answering for 30 s
//! (SIGSTOP: requests hang until `storage.request_timeout`) while a writer ingests: every
//! push is still acknowledged and flushed locally, `/metrics` shows the mirror failing,
//! and once the server answers again the mirror catches up without a restart: a query
//! process reading the bucket counts every acknowledged line.

mod common;

use std::time::{Duration, Instant};

use serde_json::Value as Json;
use strata_tests::moto::{Moto, free_port, storage_section, until};
use strata_tests::server::Server;

const BUCKET: &str = "strata-outage";

fn config(port: u16, role: &str) -> String {
    format!(
        "[engine]\nflush_interval = \"1s\"\n{}[cluster]\nrole = \"{role}\"\n",
        storage_section(port, BUCKET, "o")
    )
}

fn push(server: &Server, t_ms: i64, n: usize) -> u64 {
    let values: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "[\"{}\", \"line {i} at {t_ms}\"]",
                (t_ms + i as i64) * 1_000_000
            )
        })
        .collect();
    let body = format!(
        "{{\"streams\":[{{\"stream\":{{\"service_name\":\"outage\"}},\"values\":[{}]}}]}}",
        values.join(",")
    );
    let json = [("Content-Type", "application/json")];
    let r = server
        .post("/loki/api/v1/push", &json, body.as_bytes())
        .expect("push");
    assert_eq!(r.status, 204, "{}", r.text());
    n as u64
}

fn metric(server: &Server, name: &str) -> f64 {
    let text = server.get("/metrics", &[]).expect("metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(-1.0)
}

fn count(server: &Server) -> u64 {
    let r = server
        .post("/api/v1/sql", &[], b"SELECT count(*) AS n FROM logs")
        .expect("sql");
    assert_eq!(r.status, 200, "{}", r.text());
    let rows: Json = serde_json::from_slice(&r.body).expect("JSON");
    rows[0]["n"].as_u64().expect("n")
}

/// Sends SIGSTOP or SIGCONT to `pid`.
fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid}");
}

#[test]
fn a_30_second_outage_of_the_bucket_loses_nothing() {
    let port = free_port();
    let moto = Moto::start(port, BUCKET);
    let dir = tempfile::tempdir().expect("dir");
    let writer = Server::start(common::bin(), dir.path(), &config(port, "writer"));
    writer.wait_ready(common::READY);
    let t0 = common::now_ms() - 600_000;
    let mut acked = push(&writer, t0, 500);
    until("the first upload", || {
        metric(&writer, "strata_remote_manifests_put_total") >= 1.0
    });

    signal(moto.pid(), "-STOP");
    let stopped = Instant::now();
    let mut k = 1;
    while stopped.elapsed() < Duration::from_secs(30) {
        acked += push(&writer, t0 + k * 1_000, 500);
        k += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(metric(&writer, "strata_remote_failed_passes_total") >= 1.0);
    assert_eq!(metric(&writer, "strata_remote_healthy"), 0.0);
    assert!(metric(&writer, "strata_remote_pending_partitions") >= 1.0);
    // Acknowledged and flushed locally all along.
    assert_eq!(count(&writer), acked);
    signal(moto.pid(), "-CONT");

    until("the mirror to catch up", || {
        metric(&writer, "strata_remote_healthy") == 1.0
            && metric(&writer, "strata_remote_pending_partitions") == 0.0
    });
    let qdir = tempfile::tempdir().expect("dir");
    let query = Server::start(common::bin(), qdir.path(), &config(port, "query"));
    query.wait_ready(common::READY);
    until("the query process to count every line", || {
        count(&query) == acked
    });
}
