//! Shared by the LogQL end-to-end tests (`logql_queries.rs`, `logql_api.rs`): a fixed
//! corpus pushed through the Loki push API (JSON) and OTLP/HTTP into the real `strata`
//! binary, and readers of Loki's JSON answers. Every expected answer in those tests was
//! worked out by hand from Loki's documentation (the section is named above each group),
//! not taken from Strata.
//!
//! The corpus (times are seconds after `T0`, twenty minutes ago on a minute boundary):
//! - `{app="web", env="prod"}` (push), logfmt lines `A0`..`A5` at 0, 10, ... 50;
//! - `{app="api", env="dev"}` (push), JSON lines `B0`..`B3` at 5, 15, 25, 35 (`B2` is not
//!   JSON; `B1` carries structured metadata `pod="api-1"`);
//! - service `checkout` in namespace `shop` (OTLP), `C0`..`C2` at 2, 12, 22, with
//!   severities INFO/ERROR/INFO and an `http.route` attribute.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;

use serde_json::{Value, json};
use strata_tests::server::Server;

#[path = "../common.rs"]
mod common;

/// Now, in ms (for the tests that push as they go).
pub fn now_ms() -> i64 {
    common::now_ms()
}

pub const A: [&str; 6] = [
    "level=info method=GET path=/ status=200 duration=12ms size=512B",
    "level=info method=GET path=/cart status=200 duration=30ms size=2KB",
    "level=warn method=POST path=/cart status=429 duration=5ms size=64B",
    "level=error method=GET path=/pay status=500 duration=1.5s size=128B msg=\"upstream timeout\"",
    "level=info method=GET path=/ status=200 duration=8ms size=512B",
    "level=error method=POST path=/pay status=502 duration=2s size=0B msg=\"bad gateway\"",
];
pub const B: [&str; 4] = [
    r#"{"level":"info","msg":"login","user":{"id":7,"name":"ann"},"latency_ms":120}"#,
    r#"{"level":"error","msg":"db down","user":{"id":8,"name":"bob"},"latency_ms":900}"#,
    "not json at all",
    r#"{"level":"debug","msg":"cache hit","user":{"id":7,"name":"ann"},"latency_ms":3}"#,
];
pub const C: [(i32, &str, &str, &str); 3] = [
    (9, "INFO", "order placed id=41", "/order"),
    (
        17,
        "ERROR",
        "\u{1b}[31mpayment failed\u{1b}[0m id=42",
        "/pay",
    ),
    (9, "INFO", "order placed id=43", "/order"),
];

pub const NS: i64 = 1_000_000_000;

pub struct Corpus {
    pub server: Server,
    pub t0: i64,
    _dir: tempfile::TempDir,
}

pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn start(config: &str) -> Corpus {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), config);
    server.wait_ready(common::READY);
    let t0 = (common::now_ms() / 60_000 * 60 - 1_200) * NS;
    let at = |s: i64| (t0 + s * NS).to_string();
    let a: Vec<Value> = A
        .iter()
        .enumerate()
        .map(|(i, l)| json!([at(10 * i as i64), l]))
        .collect();
    let mut b: Vec<Value> = B
        .iter()
        .enumerate()
        .map(|(i, l)| json!([at(5 + 10 * i as i64), l]))
        .collect();
    b[1] = json!([at(15), B[1], {"pod": "api-1"}]);
    let push = json!({"streams": [
        {"stream": {"app": "web", "env": "prod"}, "values": a},
        {"stream": {"app": "api", "env": "dev"}, "values": b},
    ]});
    let resp = server
        .post(
            "/loki/api/v1/push",
            &[("Content-Type", "application/json")],
            push.to_string().as_bytes(),
        )
        .expect("push");
    assert_eq!(resp.status, 204, "push: {}", resp.text());
    let records: Vec<Value> = C
        .iter()
        .enumerate()
        .map(|(i, (n, text, body, route))| {
            json!({"timeUnixNano": at(2 + 10 * i as i64), "severityNumber": n, "severityText": text,
                   "body": {"stringValue": body},
                   "attributes": [{"key": "http.route", "value": {"stringValue": route}}]})
        })
        .collect();
    let otlp = json!({"resourceLogs": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": "checkout"}},
        {"key": "k8s.namespace.name", "value": {"stringValue": "shop"}}]},
        "scopeLogs": [{"logRecords": records}]}]});
    let resp = server
        .post(
            "/v1/logs",
            &[("Content-Type", "application/json")],
            otlp.to_string().as_bytes(),
        )
        .expect("otlp");
    assert_eq!(resp.status, 200, "otlp: {}", resp.text());
    Corpus {
        server,
        t0,
        _dir: dir,
    }
}

impl Corpus {
    /// The server stopped (its shutdown flushes everything to Parquet) and started again
    /// on the same data.
    pub fn restart(self) -> Corpus {
        let Corpus { server, t0, _dir } = self;
        assert!(server.terminate().success());
        let server = Server::start(common::bin(), _dir.path(), "");
        server.wait_ready(common::READY);
        Corpus { server, t0, _dir }
    }

    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let resp = self.server.get(path, headers).expect("request");
        (resp.status, resp.text())
    }

    /// A log query over `[T0 - 60s, T0 + 120s)`; `extra` parameters come first, so they
    /// win over the defaults after them (the first value of a parameter counts).
    pub fn logs(&self, q: &str, extra: &str) -> Value {
        let path = format!(
            "/loki/api/v1/query_range?query={}&start={}&end={}{extra}&direction=backward&limit=1000",
            enc(q),
            self.t0 - 60 * NS,
            self.t0 + 120 * NS
        );
        let (status, body) = self.get(&path, &[]);
        assert_eq!(status, 200, "{q}: {body}");
        serde_json::from_str(&body).expect("json")
    }

    pub fn instant(&self, q: &str, at_s: i64) -> (u16, String) {
        let path = format!(
            "/loki/api/v1/query?query={}&time={}",
            enc(q),
            self.t0 + at_s * NS
        );
        self.get(&path, &[])
    }
}

pub fn labels_text(v: &Value) -> String {
    let obj = v.as_object().expect("labels object");
    let sorted: BTreeMap<&String, &Value> = obj.iter().collect();
    let parts: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={}", v)).collect();
    format!("{{{}}}", parts.join(", "))
}

/// A streams answer as (labels, lines in order), sorted by labels.
pub fn streams(v: &Value) -> Vec<(String, Vec<String>)> {
    assert_eq!(v["data"]["resultType"], "streams", "{v}");
    let mut out: Vec<(String, Vec<String>)> = v["data"]["result"]
        .as_array()
        .expect("result")
        .iter()
        .map(|s| {
            let lines = s["values"]
                .as_array()
                .expect("values")
                .iter()
                .map(|e| e[1].as_str().expect("line").to_owned())
                .collect();
            (labels_text(&s["stream"]), lines)
        })
        .collect();
    out.sort();
    out
}

/// An instant answer as (labels, value), sorted by labels (or in answer order).
pub fn vector(body: &str, sort: bool) -> Vec<(String, f64)> {
    let v: Value = serde_json::from_str(body).expect("json");
    assert_eq!(v["data"]["resultType"], "vector", "{v}");
    let mut out: Vec<(String, f64)> = v["data"]["result"]
        .as_array()
        .expect("result")
        .iter()
        .map(|s| {
            let val: f64 = s["value"][1]
                .as_str()
                .expect("value")
                .parse()
                .expect("number");
            (labels_text(&s["metric"]), val)
        })
        .collect();
    if sort {
        out.sort_by(|a, b| a.0.cmp(&b.0));
    }
    out
}

pub fn want(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
    let mut out: Vec<(String, Vec<String>)> = pairs
        .iter()
        .map(|(l, lines)| {
            (
                (*l).to_owned(),
                lines.iter().map(|s| (*s).to_owned()).collect(),
            )
        })
        .collect();
    out.sort();
    out
}

pub const WEB: &str = r#"app="web", "#;
