//! What the tests of processes over one bucket (`query_process.rs`, `cluster.rs`) write
//! and ask: the same remote-written samples and native histograms, Loki-pushed lines and
//! OTLP spans, and the same PromQL, SQL, LogQL and Jaeger questions, to compare one
//! process's answers with another's.

#![allow(dead_code)]

use prost::Message;
use serde_json::Value as Json;
use strata_server::remote_write::proto::{
    BucketSpan, Histogram, Label, TimeSeries, WriteRequest, histogram::Count,
};
use strata_tests::remote_write::{HEADERS, TestSeries, encode};
use strata_tests::server::Server;

/// Round `r`'s native histograms: series `lat` (schema 0, buckets 0..3 plus one negative
/// bucket) every 5 s for 30 s, counts growing with time and round.
fn histograms(t_ms: i64, r: u8) -> Vec<u8> {
    let timeseries = (0..6i64)
        .map(|i| {
            let n = i64::from(r) * 10 + i + 1;
            Histogram {
                count: Some(Count::CountInt((4 * n + 1) as u64)),
                sum: n as f64 * 2.5,
                schema: 0,
                zero_threshold: 1e-128,
                positive_spans: vec![BucketSpan {
                    offset: 0,
                    length: 4,
                }],
                // Absolute counts n, n, n, n.
                positive_deltas: vec![n, 0, 0, 0],
                negative_spans: vec![BucketSpan {
                    offset: 1,
                    length: 1,
                }],
                negative_deltas: vec![1],
                timestamp: t_ms + i * 5_000,
                ..Default::default()
            }
        })
        .collect();
    let label = |n: &str, v: &str| Label {
        name: n.as_bytes().to_vec(),
        value: v.as_bytes().to_vec(),
    };
    let req = WriteRequest {
        metadata: Vec::new(),
        timeseries: vec![TimeSeries {
            labels: vec![label("__name__", "lat"), label("job", "q")],
            histograms: timeseries,
            ..Default::default()
        }],
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .expect("snappy")
}

/// Writes `n` samples, log lines and spans around `t_ms` (round `r`), asserting each is
/// acknowledged.
pub(crate) fn ingest(server: &Server, t_ms: i64, r: u8) {
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
    let written = server
        .post("/api/v1/write", &HEADERS, &histograms(t_ms, r))
        .expect("remote write histograms");
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

pub(crate) fn trace_id(r: u8) -> String {
    format!("{:032x}", 0x5b8e_0000_u64 + u64::from(r))
}

pub(crate) fn get_json(server: &Server, path: &str) -> Json {
    let r = server.get(path, &[]).expect("get");
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    serde_json::from_slice(&r.body).expect("JSON")
}

pub(crate) fn sql(server: &Server, query: &str) -> Json {
    let r = server
        .post("/api/v1/sql", &[], query.as_bytes())
        .expect("sql");
    assert_eq!(r.status, 200, "{query}: {}", r.text());
    serde_json::from_slice(&r.body).expect("JSON")
}

/// What both processes are asked, with the answers' parts that do not depend on which
/// process answered (Loki's timing statistics left out).
pub(crate) fn answers(server: &Server, t_ms: i64, rounds: u8) -> Vec<Json> {
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
    // Native histograms, after the rest (`native_answers` names their places): PromQL
    // over the histograms and bucket files, and both SQL tables.
    out.extend([
        get_json(
            server,
            &format!(
                "/api/v1/query_range?query=histogram_count(lat)%20%2B%20histogram_sum(lat)&start={start}&end={end}&step=15"
            ),
        )["data"]
            .clone(),
        get_json(server, &format!("/api/v1/query?query=lat&time={end}"))["data"].clone(),
        sql(
            server,
            "SELECT count(*) AS n, sum(count_int) AS c, sum(sum) AS s FROM histograms",
        ),
        sql(
            server,
            "SELECT negative, count(*) AS n, sum(count) AS c FROM histogram_buckets \
             GROUP BY negative ORDER BY negative",
        ),
    ]);
    out
}

/// Where [`answers`] puts its native histogram answers for `rounds` rounds: the PromQL
/// range query, the instant query, the `histograms` and the `histogram_buckets` counts.
pub(crate) fn native_answers(rounds: u8) -> std::ops::Range<usize> {
    7 + usize::from(rounds)..11 + usize::from(rounds)
}

pub(crate) fn metric(server: &Server, name: &str) -> f64 {
    let text = server.get("/metrics", &[]).expect("metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(-1.0)
}

/// A Loki push to `server`, a reader of the bucket, gets 403.
pub(crate) fn assert_push_refused(server: &Server) {
    let json = [("Content-Type", "application/json")];
    let refused = server
        .post(
            "/loki/api/v1/push",
            &json,
            br#"{"streams":[{"stream":{"a":"b"},"values":[["1","x"]]}]}"#,
        )
        .expect("push");
    assert_eq!(refused.status, 403, "{}", refused.text());
}
