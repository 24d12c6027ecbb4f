//! Native histograms through recording rules and the offline `strata promql`: two integer
//! histograms remote-written to the real binary, a rule recording `sum by (job)` of them
//! (a histogram result, written back through the write path as a histogram), and the
//! recorded series read through the HTTP API and, after the server stopped, through
//! `strata promql` in JSON and table form. Expected values are worked out here from the
//! written buckets.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use prost::Message;
use strata_server::remote_write::proto::{
    BucketSpan, Histogram, Label, TimeSeries, WriteRequest, histogram::Count,
};
use strata_tests::server::{Server, data_dir};

const RULES: &str = "groups:\n  - name: h\n    interval: 1s\n    rules:\n      - record: job:req_seconds:sum\n        expr: sum by (job) (req_seconds)\n";

/// Schema 0 (bucket i is (2^(i-1), 2^i]), buckets 0..=2 holding `counts`.
fn histogram(ts: i64, counts: [i64; 3], sum: f64) -> Histogram {
    let deltas = vec![counts[0], counts[1] - counts[0], counts[2] - counts[1]];
    Histogram {
        count: Some(Count::CountInt(counts.iter().sum::<i64>() as u64)),
        sum,
        schema: 0,
        zero_threshold: 1e-128,
        positive_spans: vec![BucketSpan {
            offset: 0,
            length: 3,
        }],
        positive_deltas: deltas,
        timestamp: ts,
        ..Default::default()
    }
}

fn series(instance: &str, h: Histogram) -> TimeSeries {
    let label = |n: &str, v: &str| Label {
        name: n.as_bytes().to_vec(),
        value: v.as_bytes().to_vec(),
    };
    TimeSeries {
        labels: vec![
            label("__name__", "req_seconds"),
            label("instance", instance),
            label("job", "api"),
        ],
        histograms: vec![h],
        ..Default::default()
    }
}

/// The recorded histogram's `{count, sum, buckets}` at `t_ms`, if there is one yet.
fn recorded(server: &Server, t_ms: i64) -> Option<serde_json::Value> {
    let body: serde_json::Value = serde_json::from_str(
        &server
            .instant_query("job:req_seconds:sum", t_ms, &[])
            .text(),
    )
    .ok()?;
    Some(body["data"]["result"][0]["histogram"][1].clone()).filter(|h| !h.is_null())
}

#[test]
fn a_recording_rule_over_histograms_records_a_histogram() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("rules")).expect("mkdir");
    std::fs::write(dir.path().join("rules/h.yml"), RULES).expect("rules");
    let server = Server::start(
        common::bin(),
        dir.path(),
        "[rules]\nfiles = [\"rules/*.yml\"]\n",
    );
    server.wait_ready(common::READY);

    // Written a little in the past and again at each poll, so the rule always finds them
    // within the lookback.
    let write = |t: i64| {
        let req = WriteRequest {
            timeseries: vec![
                series("a", histogram(t, [1, 2, 3], 7.5)),
                series("b", histogram(t, [4, 0, 1], 2.25)),
            ],
            ..Default::default()
        };
        let body = snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .expect("snappy");
        let r = server
            .post(
                "/api/v1/write",
                &[
                    ("Content-Type", "application/x-protobuf"),
                    ("Content-Encoding", "snappy"),
                ],
                &body,
            )
            .expect("post");
        assert_eq!(r.status, 204, "{}", r.text());
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let h = loop {
        write(common::now_ms() - 500);
        if let Some(h) = recorded(&server, common::now_ms()) {
            break h;
        }
        assert!(
            Instant::now() < deadline,
            "no recorded histogram after 30 s"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    // The sum of the two: counts [5, 2, 4], 11 observations, sum 9.75; bucket i of schema
    // 0 is (2^(i-1), 2^i].
    assert_eq!(h["count"], "11", "{h}");
    assert_eq!(h["sum"], "9.75", "{h}");
    assert_eq!(
        h["buckets"],
        serde_json::json!([[0, "0.5", "1", "5"], [0, "1", "2", "2"], [0, "2", "4", "4"]]),
        "{h}"
    );
    let at = common::now_ms();
    let live = recorded(&server, at).expect("still recorded");
    assert!(server.terminate().success(), "strata stops cleanly");

    // Offline, on the stopped server's data directory: the same histogram, written by the
    // HTTP API's own writer, and its text form in a table.
    let run = |format: &str| {
        let out = Command::new(common::bin())
            .args(["promql", "--time"])
            .arg(format!("{:.3}", at as f64 / 1000.0))
            .args(["--format", format, "--data-dir"])
            .arg(data_dir(dir.path()))
            .arg("job:req_seconds:sum")
            .output()
            .expect("spawn");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let json: serde_json::Value = serde_json::from_str(&run("json")).expect("json");
    assert_eq!(json["result"][0]["histogram"][1], live, "{json}");
    let table = run("table");
    assert!(
        table.contains("{count:11, sum:9.75,"),
        "the table shows the histogram's text form:\n{table}"
    );
}
