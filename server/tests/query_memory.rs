//! The query memory pool against the real server: a query over its share is refused with
//! 422 and a message naming the limit, in PromQL, SQL, LogQL and TraceQL, while a small
//! query in the same language is answered; with a spill directory, the SQL sort that was refused
//! spills and is answered in full; the refusals are counted in `/metrics`. (At a 2 MiB
//! share even a small LogQL scan of the in-memory head spills: its log batch is ~6 MB.)

mod common;
mod tempo_common;

use opentelemetry_proto::tonic::common::v1::any_value::Value as Otlp;
use serde_json::{Value, json};
use strata_tests::remote_write::{HEADERS, TestSeries, encode};
use strata_tests::server::Server;
use tempo_common::{PROTOBUF, go_query, kv, span, spans_request};

/// One query may hold 2 MiB (one runs at a time); nothing spills.
const SMALL: &str = "[server]\nquery_memory_bytes = \"2MiB\"\nmax_concurrent_queries = 1\n\
                     [sql]\nmax_spill_bytes = 0\n";
const SERIES: usize = 2_000;
const STEPS: usize = 60;
const LINES: usize = 150_000;

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn sql(server: &Server, q: &str) -> (u16, String) {
    let r = server
        .post(
            "/api/v1/sql",
            &[("Content-Type", "text/plain")],
            q.as_bytes(),
        )
        .expect("sql");
    (r.status, r.text())
}

fn assert_refused(status: u16, body: &str, what: &str) {
    assert_eq!(status, 422, "{what}: {body}");
    assert!(
        body.contains("memory") && body.contains("server.memory_limit"),
        "{what}: the refusal names the limit: {body}"
    );
}

#[test]
fn queries_over_their_share_are_refused_in_every_language() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), SMALL);
    server.wait_ready(common::READY);
    let end = common::now_ms() / 1000 * 1000;
    let start = end - (STEPS as i64) * 15_000;

    let series: Vec<TestSeries> = (0..SERIES)
        .map(|s| TestSeries {
            labels: vec![
                ("__name__".into(), "mem_q".into()),
                ("instance".into(), format!("host-{s}")),
            ],
            samples: (0..STEPS)
                .map(|i| (start + i as i64 * 15_000, (s * STEPS + i) as f64))
                .collect(),
        })
        .collect();
    let protos: Vec<_> = series.iter().map(|s| s.to_proto()).collect();
    let r = server
        .post("/api/v1/write", &HEADERS, &encode(&protos))
        .expect("write");
    assert_eq!(r.status, 204, "{}", r.text());
    let values: Vec<Value> = (0..LINES)
        .map(|i| {
            json!([
                ((start + i as i64) * 1_000_000).to_string(),
                format!("n={i}")
            ])
        })
        .collect();
    let tiny: Vec<Value> = (0..10)
        .map(|i| json!([((start + i) * 1_000_000).to_string(), format!("n={i}")]))
        .collect();
    let push = json!({"streams": [
        {"stream": {"app": "mem"}, "values": values},
        {"stream": {"app": "tiny"}, "values": tiny},
    ]});
    let r = server
        .post(
            "/loki/api/v1/push",
            &[("Content-Type", "application/json")],
            push.to_string().as_bytes(),
        )
        .expect("push");
    assert_eq!(r.status, 204, "{}", r.text());

    // PromQL: every series over the range holds ~2.5 MB; one series is answered.
    let range = |q: &str| {
        let path = format!(
            "/api/v1/query_range?query={}&start={}&end={}&step=15",
            enc(q),
            start / 1000,
            end / 1000
        );
        let r = server.get(&path, &[]).expect("query_range");
        (r.status, r.text())
    };
    let (status, body) = range("mem_q");
    assert_refused(status, &body, "promql");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["errorType"], "execution", "{body}");
    let (status, body) = range("mem_q{instance=\"host-7\"}");
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    // A point per step from start to end, both included (the last sample stays in the lookback).
    assert_eq!(
        v["data"]["result"][0]["values"].as_array().map(Vec::len),
        Some(STEPS + 1)
    );

    // An answer that is evaluated within the share but whose text is not: 800 series
    // (0.8 MB read, 0.8 MB of points) written as ~2.4 MB of JSON.
    let (status, body) = range("mem_q{instance=~\"host-[1-8][0-9][0-9]\"}");
    assert_refused(status, &body, "promql answer");
    assert!(body.contains("promql answer text"), "{body}");

    // SQL: a sort of every sample needs more than 2 MiB and may not spill.
    let sort = "SELECT * FROM samples ORDER BY value DESC";
    let (status, body) = sql(&server, sort);
    assert_refused(status, &body, "sql");
    let (status, body) = sql(&server, "SELECT count(*) AS n FROM samples");
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(&format!("{}", SERIES * STEPS)), "{body}");

    let metrics = server.get("/metrics", &[]).expect("metrics").text();
    let refused = metrics
        .lines()
        .find_map(|l| l.strip_prefix("strata_queries_refused_total{reason=\"memory\"} "))
        .and_then(|v| v.parse::<u64>().ok());
    assert_eq!(refused, Some(3), "three queries refused for memory");
    assert!(server.terminate().success());

    // A sort four times its share with a spill directory: answered in full. (A sort at
    // the 2 MiB share itself is too tight to spill reliably: its merge needs room too.)
    let spill = "[server]\nquery_memory_bytes = \"4MiB\"\nmax_concurrent_queries = 1\n";
    let server = Server::start(common::bin(), dir.path(), spill);
    server.wait_ready(common::READY);
    let sort = "SELECT value FROM generate_series(1, 2000000) AS t(value) ORDER BY value DESC";
    let (status, body) = sql(&server, sort);
    assert_eq!(
        status,
        200,
        "the sort spills: {}",
        &body[..body.len().min(300)]
    );
    let rows: Vec<Value> = serde_json::from_str(&body).expect("json rows");
    assert_eq!(rows.len(), 2_000_000);
    assert_eq!(rows[0]["value"].as_i64(), Some(2_000_000), "{}", rows[0]);
    assert!(server.terminate().success());

    let spill = "[server]\nquery_memory_bytes = \"2MiB\"\nmax_concurrent_queries = 1\n";
    let server = Server::start(common::bin(), dir.path(), spill);
    server.wait_ready(common::READY);
    // LogQL (its scans need the spill directory at this share): a quantile keeps every
    // unwrapped sample (16 bytes each), 2.4 MB.
    let q = "quantile_over_time(0.5, {app=\"mem\"} | logfmt | unwrap n [1h])";
    let path = format!(
        "/loki/api/v1/query?query={}&time={}",
        enc(q),
        end / 1000 + 1
    );
    let r = server.get(&path, &[]).expect("logql");
    assert_refused(r.status, &r.text(), "logql");
    let q = "count_over_time({app=\"tiny\"}[1h])";
    let path = format!(
        "/loki/api/v1/query?query={}&time={}",
        enc(q),
        end / 1000 + 1
    );
    let r = server.get(&path, &[]).expect("logql");
    assert_eq!(r.status, 200, "{}", r.text());

    traceql(&server, end);
    assert!(server.terminate().success());
}

/// TraceQL at a 2 MiB share: 200 traces of 100 spans, each span with its own `req`.
fn traceql(server: &Server, end_ms: i64) {
    let t0 = (end_ms as u64 - 600_000) * 1_000_000;
    let spans = (0..200u32)
        .flat_map(|t| {
            (0..100u32).map(move |s| {
                let mut sp = span(
                    0,
                    1,
                    None,
                    "GET /cart",
                    2,
                    t0 + u64::from(t * 100 + s),
                    1,
                    false,
                );
                sp.trace_id = [t.to_be_bytes(), [1; 4], [2; 4], [3; 4]].concat();
                sp.span_id = [t.to_be_bytes(), s.to_be_bytes()].concat();
                sp.attributes
                    .push(kv("req", Otlp::IntValue(i64::from(t * 100 + s))));
                sp
            })
        })
        .collect();
    let r = server
        .post("/v1/traces", &[PROTOBUF], &spans_request("shop", spans))
        .expect("spans");
    assert_eq!(r.status, 200, "{}", r.text());
    let (start, end) = (
        (end_ms / 1000 - 3600).to_string(),
        (end_ms / 1000 + 60).to_string(),
    );
    let get = |path: &str, pairs: &[(&str, &str)]| {
        let mut all = vec![("start", start.as_str()), ("end", end.as_str())];
        all.extend_from_slice(pairs);
        let r = server
            .get(&format!("{path}?{}", go_query(&all)), &[])
            .expect("tempo");
        (r.status, r.text())
    };
    // A series per span over 240 steps: ~270 MB of grid.
    let by_req = [
        ("q", "{ } | count_over_time() by (span.req)"),
        ("step", "15s"),
    ];
    let (status, body) = get("/api/metrics/query_range", &by_req);
    assert_refused(status, &body, "traceql metrics");
    let (status, body) = get(
        "/api/metrics/query_range",
        &[("q", "{ } | count_over_time()"), ("step", "15s")],
    );
    assert_eq!(status, 200, "{body}");
    // A search that reads its candidates whole, 200 traces a page (~7 MB).
    let (status, body) = get("/api/search", &[("q", "{ span.req >= 0 } | count() > 50")]);
    assert_refused(status, &body, "traceql search");
    let (status, body) = get("/api/search", &[("q", "{ span.req = 7 }")]);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"traceID\""), "one trace found: {body}");
}
