//! A query process (`strata serve --role query`) over the bucket a writer mirrors to, on a
//! real S3-compatible server on loopback (moto, installed by `.ci/test.sh`): once the
//! writer has flushed and mirrored, the query process answers PromQL, SQL, the Jaeger and
//! the Loki APIs exactly as the writer does; it follows new writes, refuses writes of its
//! own with 403, and keeps answering with the writer gone.

mod common;

use std::time::Duration;

use serde_json::Value as Json;
use strata_tests::moto::{Moto, free_port, storage_section, until};
use strata_tests::remote_write::{HEADERS, TestSeries, encode};
use strata_tests::server::Server;

const BUCKET: &str = "strata-query";

fn writer_config(port: u16) -> String {
    format!(
        "[engine]\nflush_interval = \"1s\"\n{}",
        storage_section(port, BUCKET, "q")
    )
}

fn query_config(port: u16) -> String {
    format!(
        "{}cache_bytes = 1048576\n[cluster]\nrole = \"query\"\n",
        storage_section(port, BUCKET, "q")
    )
}

/// Writes `n` samples, log lines and spans around `t_ms` (round `r`), asserting each is
/// acknowledged.
fn ingest(server: &Server, t_ms: i64, r: u8) {
    let series = [TestSeries {
        labels: vec![
            ("__name__".into(), "queued".into()),
            ("job".into(), "q".into()),
        ],
        samples: (0..30)
            .map(|i| (t_ms + i * 1000, f64::from(r) * 100.0 + i as f64))
            .collect(),
    }];
    let protos: Vec<_> = series.iter().map(TestSeries::to_proto).collect();
    let written = server
        .post("/api/v1/write", &HEADERS, &encode(&protos))
        .expect("remote write");
    assert_eq!(written.status, 204, "{}", written.text());

    let values: Vec<String> = (0..40)
        .map(|i| format!("[\"{}\", \"round {r} line {i}\"]", (t_ms + i) * 1_000_000))
        .collect();
    let body = format!(
        "{{\"streams\":[{{\"stream\":{{\"service_name\":\"api\"}},\"values\":[{}]}}]}}",
        values.join(",")
    );
    let json = [("Content-Type", "application/json")];
    let pushed = server
        .post("/loki/api/v1/push", &json, body.as_bytes())
        .expect("push");
    assert_eq!(pushed.status, 204, "{}", pushed.text());

    let spans: Vec<String> = (0..6)
        .map(|i| {
            let start = (t_ms + i * 10) * 1_000_000;
            format!(
                r#"{{"traceId":"{}","spanId":"{:016x}","name":"op{}","kind":2,"startTimeUnixNano":"{start}","endTimeUnixNano":"{}"}}"#,
                trace_id(r),
                u64::from(r) * 100 + i as u64 + 1,
                i % 2,
                start + 1_500_000
            )
        })
        .collect();
    let body = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"shop"}}}}]}},"scopeSpans":[{{"spans":[{}]}}]}}]}}"#,
        spans.join(",")
    );
    let sent = server
        .post("/v1/traces", &json, body.as_bytes())
        .expect("spans");
    assert_eq!(sent.status, 200, "{}", sent.text());
}

fn trace_id(r: u8) -> String {
    format!("{:032x}", 0x5b8e_0000_u64 + u64::from(r))
}

fn get_json(server: &Server, path: &str) -> Json {
    let r = server.get(path, &[]).expect("get");
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    serde_json::from_slice(&r.body).expect("JSON")
}

fn sql(server: &Server, query: &str) -> Json {
    let r = server
        .post("/api/v1/sql", &[], query.as_bytes())
        .expect("sql");
    assert_eq!(r.status, 200, "{query}: {}", r.text());
    serde_json::from_slice(&r.body).expect("JSON")
}

/// What both processes are asked, with the answers' parts that do not depend on which
/// process answered (Loki's timing statistics left out).
fn answers(server: &Server, t_ms: i64, rounds: u8) -> Vec<Json> {
    let (start, end) = ((t_ms - 60_000) / 1000, (t_ms + 120_000) / 1000);
    let mut out = vec![
        get_json(server, &format!("/api/v1/query?query=sum(queued)&time={end}"))["data"].clone(),
        get_json(
            server,
            &format!("/api/v1/query_range?query=queued&start={start}&end={end}&step=15"),
        )["data"]
            .clone(),
        get_json(server, &format!("/api/v1/labels?start={start}&end={end}"))["data"].clone(),
        sql(server, "SELECT count(*) AS n, sum(value) AS s FROM samples"),
        sql(server, "SELECT count(*) AS n FROM logs"),
        sql(server, "SELECT name, count(*) AS n FROM spans GROUP BY name ORDER BY name"),
        get_json(
            server,
            &format!(
                "/loki/api/v1/query_range?query=%7Bservice_name%3D%22api%22%7D&start={start}&end={end}&limit=1000"
            ),
        )["data"]["result"]
            .clone(),
    ];
    for r in 0..rounds {
        // 404 until the trace is there.
        let path = format!("/jaeger/api/traces/{}", trace_id(r));
        let got = server.get(&path, &[]).expect("trace");
        let trace: Json = serde_json::from_slice(&got.body).expect("JSON");
        out.push(trace["data"].clone());
    }
    out
}

fn metric(server: &Server, name: &str) -> f64 {
    let text = server.get("/metrics", &[]).expect("metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(-1.0)
}

#[test]
fn a_query_process_answers_from_the_bucket_as_the_writer_does() {
    let port = free_port();
    let _moto = Moto::start(port, BUCKET);
    let (wdir, qdir) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let writer = Server::start(common::bin(), wdir.path(), &writer_config(port));
    writer.wait_ready(common::READY);
    let t = common::now_ms() - 120_000;
    ingest(&writer, t, 0);

    let query = Server::start(common::bin(), qdir.path(), &query_config(port));
    query.wait_ready(common::READY);
    let mut expected = Vec::new();
    until("the query process to agree with the writer", || {
        expected = answers(&writer, t, 1);
        answers(&query, t, 1) == expected
    });
    // Real answers: 30 samples, 40 lines, 6 spans, one trace.
    assert_eq!(expected[3][0]["n"], 30, "{expected:?}");
    assert_eq!(expected[4][0]["n"], 40);
    assert_eq!(expected[6][0]["values"].as_array().map(Vec::len), Some(40));
    assert_eq!(expected[7][0]["spans"].as_array().map(Vec::len), Some(6));

    // Writes are the writer's.
    let one = TestSeries {
        labels: vec![("__name__".into(), "queued".into())],
        samples: vec![(t, 1.0)],
    };
    let refused = query
        .post("/api/v1/write", &HEADERS, &encode(&[one.to_proto()]))
        .expect("remote write");
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(
        refused.text().contains("query process"),
        "{}",
        refused.text()
    );
    let json = [("Content-Type", "application/json")];
    let refused = query
        .post(
            "/loki/api/v1/push",
            &json,
            br#"{"streams":[{"stream":{"a":"b"},"values":[["1","x"]]}]}"#,
        )
        .expect("push");
    assert_eq!(refused.status, 403, "{}", refused.text());

    // It follows what the writer publishes next.
    ingest(&writer, t + 40_000, 1);
    until("the query process to follow", || {
        expected = answers(&writer, t, 2);
        answers(&query, t, 2) == expected
    });
    assert_eq!(expected[3][0]["n"], 60);
    assert!(metric(&query, "strata_reader_partitions") >= 3.0);
    assert!(metric(&query, "strata_reader_fetched_objects_total") > 0.0);
    assert!(metric(&query, "strata_reader_seconds_since_refresh") < 30.0);

    // The writer gone (killed): the bucket still answers.
    writer.kill();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(answers(&query, t, 2), expected);
}
