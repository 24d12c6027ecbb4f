//! Prometheus's remote read against a real `strata serve`: Debian's Prometheus, its own
//! storage empty, reads Strata through `remote_read` (`STREAMED_XOR_CHUNKS`, Prometheus's
//! XOR chunks) and answers range queries exactly as Strata answers them; a hand-made
//! `SAMPLES` request gets every sample back, staleness markers included.

mod common;

use common::{Killed, free_port};

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use prost::Message as _;
use serde_json::Value;
use strata_tests::server::Server;

fn get(addr: &str, path: &str) -> Value {
    let (host, port) = addr.rsplit_once(':').expect("addr");
    let sock: std::net::SocketAddr = format!("{host}:{port}").parse().expect("addr");
    let r = strata_tests::http::request(
        sock,
        "GET",
        path,
        &[],
        b"",
        strata_tests::http::Framing::Length,
    )
    .expect("request");
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    serde_json::from_slice(&r.body).expect("json")
}

/// The import body: counters with a reset and irregular steps, a gauge with NaN, a series
/// that goes stale.
fn history(t0: i64) -> String {
    let mut out = String::new();
    for s in 0..3 {
        let mut ts = Vec::new();
        let mut vs = Vec::new();
        let mut t = t0;
        for k in 0..400i64 {
            t += 15_000 + (k * 7919 % 11) * 137 - 600;
            ts.push(t);
            vs.push(if k == 250 {
                3.0
            } else {
                (k * (s + 1) * 13 % 1000 + k * 100) as f64
            });
        }
        out.push_str(&format!(
            "{{\"metric\":{{\"__name__\":\"rr_requests_total\",\"shard\":\"{s}\"}},\"values\":{vs:?},\"timestamps\":{ts:?}}}\n"
        ));
    }
    out.push_str(&format!(
        "{{\"metric\":{{\"__name__\":\"rr_temp\"}},\"values\":[1.5,\"NaN\",2.25,0.1],\"timestamps\":[{},{},{},{}]}}\n",
        t0 + 1000, t0 + 61_000, t0 + 121_000, t0 + 181_000
    ));
    out
}

#[test]
fn prometheus_reads_strata_through_remote_read() {
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    let t0 = common::now_ms() - 2 * 3_600_000;
    let resp = server
        .post("/api/v1/import", &[], history(t0).as_bytes())
        .expect("import");
    assert_eq!(resp.status, 204, "{}", resp.text());

    let port = free_port();
    let yml = dir.path().join("prometheus.yml");
    std::fs::write(
        &yml,
        format!(
            "global:\n  scrape_interval: 1h\nremote_read:\n  - url: http://{}/api/v1/read\n    read_recent: true\n",
            server.http
        ),
    )
    .expect("write");
    let prom = Command::new("prometheus")
        .arg(format!("--config.file={}", yml.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("prom").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Debian's prometheus on PATH (.ci/test.sh installs it)");
    let _prom = Killed(prom);
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sock: std::net::SocketAddr = addr.parse().expect("addr");
        if strata_tests::http::request(
            sock,
            "GET",
            "/-/ready",
            &[],
            b"",
            strata_tests::http::Framing::Length,
        )
        .is_ok_and(|r| r.status == 200)
        {
            break;
        }
        assert!(Instant::now() < deadline, "prometheus did not get ready");
        std::thread::sleep(Duration::from_millis(200));
    }

    let (start, end) = (t0 as f64 / 1000.0, (t0 + 6_100_000) as f64 / 1000.0);
    for q in [
        "rr_requests_total",
        "rate(rr_requests_total[5m])",
        "sum by (shard) (increase(rr_requests_total[10m]))",
        "rr_temp",
        "max_over_time(rr_temp[2m])",
    ] {
        let enc: String = q.bytes().map(|b| format!("%{b:02X}")).collect();
        let path = format!("/api/v1/query_range?query={enc}&start={start}&end={end}&step=60");
        let from_prom = get(&addr, &path);
        let from_strata = get(&server.http.to_string(), &path);
        let result = |v: &Value| {
            let mut r = v["data"]["result"].as_array().expect("matrix").clone();
            r.sort_by_key(|s| s["metric"].to_string());
            r
        };
        let (p, s) = (result(&from_prom), result(&from_strata));
        assert!(!s.is_empty(), "{q}: Strata has data");
        assert_eq!(p, s, "{q}: Prometheus through remote read, then Strata");
    }

    // SAMPLES, asked for by hand: every sample, in order.
    let req = read_request(t0 - 1, t0 + 10_000_000, "rr_temp");
    let body = snap::raw::Encoder::new()
        .compress_vec(&req)
        .expect("snappy");
    let resp = server
        .post(
            "/api/v1/read",
            &[
                ("Content-Type", "application/x-protobuf"),
                ("Content-Encoding", "snappy"),
            ],
            &body,
        )
        .expect("read");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("content-encoding"), Some("snappy"));
    let raw = snap::raw::Decoder::new()
        .decompress_vec(&resp.body)
        .expect("snappy");
    let got = ReadResponse::decode(raw.as_slice()).expect("a ReadResponse");
    let samples: Vec<(i64, u64)> = got.results[0].timeseries[0]
        .samples
        .iter()
        .map(|s| (s.timestamp, s.value.to_bits()))
        .collect();
    assert_eq!(
        samples,
        [
            (t0 + 1000, 1.5f64.to_bits()),
            (t0 + 61_000, f64::NAN.to_bits()),
            (t0 + 121_000, 2.25f64.to_bits()),
            (t0 + 181_000, 0.1f64.to_bits())
        ]
    );
    // Garbage is a 400.
    let resp = server
        .post("/api/v1/read", &[], b"not snappy at all")
        .expect("read");
    assert_eq!(resp.status, 400, "{}", resp.text());
}

/// A `ReadRequest` for `__name__ = name` over `[start, end]`, `SAMPLES` only.
fn read_request(start: i64, end: i64, name: &str) -> Vec<u8> {
    ReadRequest {
        queries: vec![Query {
            start_timestamp_ms: start,
            end_timestamp_ms: end,
            matchers: vec![LabelMatcher {
                r#type: 0,
                name: "__name__".into(),
                value: name.into(),
            }],
        }],
        accepted_response_types: vec![0],
    }
    .encode_to_vec()
}

// The messages, from `prompb/remote.proto` and `types.proto`.
#[derive(Clone, PartialEq, prost::Message)]
struct ReadRequest {
    #[prost(message, repeated, tag = "1")]
    queries: Vec<Query>,
    #[prost(int32, repeated, tag = "2")]
    accepted_response_types: Vec<i32>,
}
#[derive(Clone, PartialEq, prost::Message)]
struct Query {
    #[prost(int64, tag = "1")]
    start_timestamp_ms: i64,
    #[prost(int64, tag = "2")]
    end_timestamp_ms: i64,
    #[prost(message, repeated, tag = "3")]
    matchers: Vec<LabelMatcher>,
}
#[derive(Clone, PartialEq, prost::Message)]
struct LabelMatcher {
    #[prost(int32, tag = "1")]
    r#type: i32,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(string, tag = "3")]
    value: String,
}
#[derive(Clone, PartialEq, prost::Message)]
struct ReadResponse {
    #[prost(message, repeated, tag = "1")]
    results: Vec<QueryResult>,
}
#[derive(Clone, PartialEq, prost::Message)]
struct QueryResult {
    #[prost(message, repeated, tag = "1")]
    timeseries: Vec<TimeSeries>,
}
#[derive(Clone, PartialEq, prost::Message)]
struct TimeSeries {
    #[prost(message, repeated, tag = "2")]
    samples: Vec<Sample>,
}
#[derive(Clone, PartialEq, prost::Message)]
struct Sample {
    #[prost(double, tag = "1")]
    value: f64,
    #[prost(int64, tag = "2")]
    timestamp: i64,
}
