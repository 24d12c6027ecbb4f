//! LogQL end to end: a fixed corpus pushed through the Loki push API (JSON) and OTLP/HTTP
//! into the real `strata` binary, then queried through `/loki/api/v1/*` exactly as
//! Grafana's Loki datasource asks. Every expected answer was worked out by hand from
//! Loki's documentation (the section is named above each group), not taken from Strata.
//!
//! The corpus (times are seconds after `T0`, twenty minutes ago on a minute boundary):
//! - `{app="web", env="prod"}` (push), logfmt lines `A0`..`A5` at 0, 10, ... 50;
//! - `{app="api", env="dev"}` (push), JSON lines `B0`..`B3` at 5, 15, 25, 35 (`B2` is not
//!   JSON; `B1` carries structured metadata `pod="api-1"`);
//! - service `checkout` in namespace `shop` (OTLP), `C0`..`C2` at 2, 12, 22, with
//!   severities INFO/ERROR/INFO and an `http.route` attribute.

mod common;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use strata_tests::server::Server;

const A: [&str; 6] = [
    "level=info method=GET path=/ status=200 duration=12ms size=512B",
    "level=info method=GET path=/cart status=200 duration=30ms size=2KB",
    "level=warn method=POST path=/cart status=429 duration=5ms size=64B",
    "level=error method=GET path=/pay status=500 duration=1.5s size=128B msg=\"upstream timeout\"",
    "level=info method=GET path=/ status=200 duration=8ms size=512B",
    "level=error method=POST path=/pay status=502 duration=2s size=0B msg=\"bad gateway\"",
];
const B: [&str; 4] = [
    r#"{"level":"info","msg":"login","user":{"id":7,"name":"ann"},"latency_ms":120}"#,
    r#"{"level":"error","msg":"db down","user":{"id":8,"name":"bob"},"latency_ms":900}"#,
    "not json at all",
    r#"{"level":"debug","msg":"cache hit","user":{"id":7,"name":"ann"},"latency_ms":3}"#,
];
const C: [(i32, &str, &str, &str); 3] = [
    (9, "INFO", "order placed id=41", "/order"),
    (
        17,
        "ERROR",
        "\u{1b}[31mpayment failed\u{1b}[0m id=42",
        "/pay",
    ),
    (9, "INFO", "order placed id=43", "/order"),
];

const NS: i64 = 1_000_000_000;

struct Corpus {
    server: Server,
    t0: i64,
    _dir: tempfile::TempDir,
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn start(config: &str) -> Corpus {
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
    fn get(&self, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let resp = self.server.get(path, headers).expect("request");
        (resp.status, resp.text())
    }

    /// A log query over `[T0 - 60s, T0 + 120s)`; `extra` parameters come first, so they
    /// win over the defaults after them (the first value of a parameter counts).
    fn logs(&self, q: &str, extra: &str) -> Value {
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

    fn instant(&self, q: &str, at_s: i64) -> (u16, String) {
        let path = format!(
            "/loki/api/v1/query?query={}&time={}",
            enc(q),
            self.t0 + at_s * NS
        );
        self.get(&path, &[])
    }
}

fn labels_text(v: &Value) -> String {
    let obj = v.as_object().expect("labels object");
    let sorted: BTreeMap<&String, &Value> = obj.iter().collect();
    let parts: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={}", v)).collect();
    format!("{{{}}}", parts.join(", "))
}

/// A streams answer as (labels, lines in order), sorted by labels.
fn streams(v: &Value) -> Vec<(String, Vec<String>)> {
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
fn vector(body: &str, sort: bool) -> Vec<(String, f64)> {
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

fn want(pairs: &[(&str, &[&str])]) -> Vec<(String, Vec<String>)> {
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

const WEB: &str = r#"app="web", "#;

#[test]
fn log_queries_as_loki_documents_them() {
    let c = start("");
    let web = |level: &str| {
        format!(r#"{{{WEB}detected_level="{level}", env="prod", service_name="web"}}"#)
    };
    // Loki docs, "Log queries > Log stream selector": every entry of the matching streams,
    // newest first; structured metadata (here `detected_level`) is part of the labels.
    assert_eq!(
        streams(&c.logs(r#"{app="web"}"#, "")),
        want(&[
            (&web("error"), &[A[5], A[3]]),
            (&web("info"), &[A[4], A[1], A[0]]),
            (&web("warn"), &[A[2]]),
        ])
    );
    let api = |rest: &str| format!(r#"{{app="api", {rest}env="dev", service_name="api"}}"#);
    assert_eq!(
        streams(&c.logs(r#"{app=~"web|api", env!="prod"}"#, "")),
        want(&[
            (&api(r#"detected_level="info", "#), &[B[0]]),
            (
                r#"{app="api", detected_level="error", env="dev", pod="api-1", service_name="api"}"#,
                &[B[1]]
            ),
            (&api(r#"detected_level="unknown", "#), &[B[2]]),
            (&api(r#"detected_level="debug", "#), &[B[3]]),
        ])
    );
    // OTLP records: service.name and k8s.namespace.name are stream labels; the
    // attribute, the detected level and the severity text are structured metadata.
    let checkout = |level: &str, route: &str, text: &str| {
        format!(
            r#"{{detected_level="{level}", http_route="{route}", k8s_namespace_name="shop", service_name="checkout", severity_text="{text}"}}"#
        )
    };
    // "Log queries > Line filter expression".
    assert_eq!(
        streams(&c.logs(r#"{service_name="checkout"} |= "order""#, "")),
        want(&[(&checkout("info", "/order", "INFO"), &[C[2].2, C[0].2])])
    );
    assert_eq!(
        streams(&c.logs(r#"{app="web"} |= "pay" != "502""#, "")),
        want(&[(&web("error"), &[A[3]])])
    );
    assert_eq!(
        streams(&c.logs(r#"{app="web"} |~ "status=5\\d\\d""#, "")),
        want(&[(&web("error"), &[A[5], A[3]])])
    );
    assert_eq!(
        streams(&c.logs(r#"{app="web"} |= "cart" or "pay""#, "")),
        want(&[
            (&web("error"), &[A[5], A[3]]),
            (&web("info"), &[A[1]]),
            (&web("warn"), &[A[2]])
        ])
    );
    assert_eq!(
        streams(&c.logs(r#"{app="web"} |> "<_> method=POST <_>""#, "")),
        want(&[(&web("error"), &[A[5]]), (&web("warn"), &[A[2]])])
    );
    // "Log queries > Parser expression > logfmt" and "Label filter expression" (numbers).
    assert_eq!(
        streams(&c.logs(
            r#"{app="web"} | logfmt | status >= 500 | keep app, status"#,
            ""
        )),
        want(&[
            (r#"{app="web", status="500"}"#, &[A[3]]),
            (r#"{app="web", status="502"}"#, &[A[5]])
        ])
    );
    // "Label filter expression" (durations), "Line format expression".
    assert_eq!(
        streams(&c.logs(
            r#"{app="web"} | logfmt | duration > 1s | line_format "{{.method}} {{.path}} took {{.duration}}" | keep app"#,
            ""
        )),
        want(&[(r#"{app="web"}"#, &["POST /pay took 2s", "GET /pay took 1.5s"])])
    );
    // Bytes (humanized: 1KB = 1000 bytes).
    assert_eq!(
        streams(&c.logs(r#"{app="web"} | logfmt | size > 1KB | keep path"#, "")),
        want(&[(r#"{path="/cart"}"#, &[A[1]])])
    );
    // "Parser expression > JSON": a line that is not JSON keeps `__error__`.
    assert_eq!(
        streams(&c.logs(
            r#"{app="api"} | json | __error__ != "" | keep __error__"#,
            ""
        )),
        want(&[(r#"{__error__="JSONParserErr"}"#, &[B[2]])])
    );
    // Nested keys flattened with `_`.
    assert_eq!(
        streams(&c.logs(
            r#"{app="api"} | json | user_name="ann" | keep user_name, msg"#,
            ""
        )),
        want(&[
            (r#"{msg="cache hit", user_name="ann"}"#, &[B[3]]),
            (r#"{msg="login", user_name="ann"}"#, &[B[0]])
        ])
    );
    // JSON with parameters; a numeric filter on a missing label drops the entry.
    assert_eq!(
        streams(&c.logs(
            r#"{app="api"} | json who="user.name", uid="user.id" | uid == 7 | keep who"#,
            ""
        )),
        want(&[(r#"{who="ann"}"#, &[B[3], B[0]])])
    );
    // "Parser expression > Pattern", "> Regular expression".
    assert_eq!(
        streams(&c.logs(
            r#"{app="web"} | pattern "level=<level> method=<method> path=<path> <_>" | method="POST" | keep method, path"#,
            ""
        )),
        want(&[(r#"{method="POST", path="/cart"}"#, &[A[2]]), (r#"{method="POST", path="/pay"}"#, &[A[5]])])
    );
    assert_eq!(
        streams(&c.logs(
            r#"{app="web"} | regexp "path=(?P<route>/\\w*)" | route="/" | keep route"#,
            ""
        )),
        want(&[(r#"{route="/"}"#, &[A[4], A[0]])])
    );
    // "Labels format expression": a rename and a template.
    assert_eq!(
        streams(&c.logs(
            r#"{app="web"} |= "502" | logfmt | label_format code=status, who="{{ .method | ToLower }}" | keep code, who"#,
            ""
        )),
        want(&[(r#"{code="502", who="post"}"#, &[A[5]])])
    );
    // "Drop labels expression".
    assert_eq!(
        streams(&c.logs(
            r#"{app="web"} |= "429" | logfmt | drop level, method, path, status, duration, size, detected_level, env"#,
            ""
        )),
        want(&[(&format!("{{{WEB}service_name=\"web\"}}"), &[A[2]])])
    );
    // "Decolorize".
    assert_eq!(
        streams(&c.logs(r#"{service_name="checkout"} |= "payment" | decolorize"#, "")),
        want(&[(
            &checkout("error", "/pay", "ERROR"),
            &["payment failed id=42"]
        )])
    );
    // "Label filter expression": `or`, and `and` with parentheses.
    assert_eq!(
        streams(&c.logs(
            r#"{app="web"} | logfmt | level="warn" or status=500 | keep status"#,
            ""
        )),
        want(&[
            (r#"{status="429"}"#, &[A[2]]),
            (r#"{status="500"}"#, &[A[3]])
        ])
    );
    assert_eq!(
        streams(&c.logs(
            r#"{app="web"} | logfmt | (method="GET" and duration >= 30ms) | keep path"#,
            ""
        )),
        want(&[
            (r#"{path="/cart"}"#, &[A[1]]),
            (r#"{path="/pay"}"#, &[A[3]])
        ])
    );
    // HTTP API, "query_range": `limit` and `direction`.
    assert_eq!(
        streams(&c.logs(r#"{app="web"} | keep app"#, "&limit=2&direction=forward")),
        want(&[(r#"{app="web"}"#, &[A[0], A[1]])])
    );
    assert_eq!(
        streams(&c.logs(r#"{app="web"} | keep app"#, "&limit=2")),
        want(&[(r#"{app="web"}"#, &[A[5], A[4]])])
    );
    // Grafana's categorize-labels encoding: stream labels alone key the stream; metadata
    // and parsed labels ride with each entry.
    let path = format!(
        "/loki/api/v1/query_range?query={}&start={}&end={}&limit=10",
        enc(r#"{app="api"} |= "db down" | json msg"#),
        c.t0 - 60 * NS,
        c.t0 + 120 * NS
    );
    let (status, body) = c.get(
        &path,
        &[("X-Loki-Response-Encoding-Flags", "categorize-labels")],
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["data"]["encodingFlags"], json!(["categorize-labels"]));
    let s = &v["data"]["result"][0];
    assert_eq!(
        s["stream"],
        json!({"app": "api", "env": "dev", "service_name": "api"})
    );
    assert_eq!(s["values"][0][1], B[1]);
    assert_eq!(
        s["values"][0][2]["structuredMetadata"],
        json!({"detected_level": "error", "pod": "api-1"})
    );
    assert_eq!(s["values"][0][2]["parsed"], json!({"msg": "db down"}));
}

#[test]
fn metric_queries_as_loki_documents_them() {
    let c = start("");
    let ok = |q: &str, at: i64| {
        let (status, body) = c.instant(q, at);
        assert_eq!(status, 200, "{q}: {body}");
        body
    };
    let web = |level: &str| {
        format!(r#"{{{WEB}detected_level="{level}", env="prod", service_name="web"}}"#)
    };
    // Loki docs, "Metric queries > Log range aggregations": the window (t - 1m, t] holds
    // A1..A5 (A0 sits on the excluded lower bound).
    assert_eq!(
        vector(&ok(r#"count_over_time({app="web"}[1m])"#, 60), true),
        vec![(web("error"), 2.0), (web("info"), 2.0), (web("warn"), 1.0)]
    );
    // "Built-in aggregation operators" over a range aggregation.
    assert_eq!(
        vector(
            &ok(
                r#"sum by (detected_level) (count_over_time({app="web"}[2m]))"#,
                100
            ),
            true
        ),
        vec![
            (r#"{detected_level="error"}"#.to_owned(), 2.0),
            (r#"{detected_level="info"}"#.to_owned(), 3.0),
            (r#"{detected_level="warn"}"#.to_owned(), 1.0)
        ]
    );
    let single = |q: &str, at: i64| {
        let v = vector(&ok(q, at), true);
        assert_eq!(v.len(), 1, "{q}: {v:?}");
        v[0].1
    };
    assert!((single(r#"sum(rate({app="web"}[1m]))"#, 60) - 5.0 / 60.0).abs() < 1e-12);
    let pay_bytes = (A[3].len() + A[5].len()) as f64;
    assert_eq!(
        single(r#"sum(bytes_over_time({app="web"} |= "pay" [5m]))"#, 120),
        pay_bytes
    );
    assert!(
        (single(r#"sum(bytes_rate({app="web"} |= "pay" [5m]))"#, 120) - pay_bytes / 300.0).abs()
            < 1e-12
    );
    // "Unwrapped range aggregations": durations in seconds.
    let total = single(
        r#"sum(sum_over_time({app="web"} | logfmt | unwrap duration(duration) [5m]))"#,
        120,
    );
    assert!(
        (total - (0.012 + 0.030 + 0.005 + 1.5 + 0.008 + 2.0)).abs() < 1e-9,
        "{total}"
    );
    assert_eq!(
        single(
            r#"max_over_time({app="api"} | json | __error__="" | unwrap latency_ms [5m]) by (app)"#,
            120
        ),
        900.0
    );
    assert_eq!(
        single(
            r#"quantile_over_time(0.5, {app="api"} | json | __error__="" | unwrap latency_ms [5m]) by (app)"#,
            120
        ),
        120.0
    );
    assert_eq!(
        single(
            r#"avg_over_time({app="web"} | logfmt | unwrap status [5m]) by (app)"#,
            120
        ),
        2031.0 / 6.0
    );
    // A conversion error left in a metric query fails it, naming the way out.
    let (status, body) = c.instant(
        r#"sum_over_time({app="api"} | json | unwrap latency_ms [5m])"#,
        120,
    );
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("pipeline error") && body.contains("JSONParserErr"),
        "{body}"
    );
    // "topk", "sort_desc", binary operators with scalars, `bool`, `vector()`.
    assert_eq!(
        vector(
            &ok(
                r#"topk(1, sum by (method) (count_over_time({app="web"} | logfmt [5m])))"#,
                120
            ),
            true
        ),
        vec![(r#"{method="GET"}"#.to_owned(), 4.0)]
    );
    assert_eq!(
        vector(
            &ok(
                r#"sort_desc(sum by (method) (count_over_time({app="web"} | logfmt [5m])))"#,
                120
            ),
            false
        ),
        vec![
            (r#"{method="GET"}"#.to_owned(), 4.0),
            (r#"{method="POST"}"#.to_owned(), 2.0)
        ]
    );
    assert_eq!(
        single(r#"sum(count_over_time({app="web"}[5m])) / 2"#, 120),
        3.0
    );
    assert_eq!(
        single(r#"sum(count_over_time({app="web"}[5m])) > bool 10"#, 120),
        0.0
    );
    assert_eq!(
        vector(
            &ok(
                r#"sum by (app) (count_over_time({env=~".+"}[5m])) * 10"#,
                120
            ),
            true
        ),
        vec![
            (r#"{app="api"}"#.to_owned(), 40.0),
            (r#"{app="web"}"#.to_owned(), 60.0)
        ]
    );
    assert_eq!(
        vector(&ok("vector(1)+vector(1)", 120), true),
        vec![("{}".to_owned(), 2.0)]
    );
    assert_eq!(
        vector(&ok(r#"absent_over_time({app="nope"}[1m])"#, 120), true),
        vec![(r#"{app="nope"}"#.to_owned(), 1.0)]
    );
    // "offset": the window moves back by a minute, to (T0, T0 + 60s].
    assert_eq!(
        single(r#"sum(count_over_time({app="web"}[1m] offset 1m))"#, 120),
        5.0
    );
    // Grafana's logs volume query.
    assert_eq!(
        vector(
            &ok(
                r#"sum by (level, detected_level) (count_over_time({app="web"} | drop __error__[1m]))"#,
                60
            ),
            true
        ),
        vec![
            (r#"{detected_level="error"}"#.to_owned(), 2.0),
            (r#"{detected_level="info"}"#.to_owned(), 2.0),
            (r#"{detected_level="warn"}"#.to_owned(), 1.0)
        ]
    );
    // Grouped counts and bytes without a parser take a path that reads no lines and
    // builds no label sets; `| __error__=""` (a no-op here) forces the general path: the
    // two must agree on every grouping, whatever the labels come from.
    for by in [
        "detected_level",
        "level, detected_level",
        "severity_text",
        "http_route, pod",
        "app, service_name, k8s_namespace_name",
        "env, nope",
        "",
    ] {
        for f in ["count_over_time", "bytes_over_time", "rate"] {
            let fast = format!(r#"sum by ({by}) ({f}({{service_name=~".+"}} |= "e" [5m]))"#);
            let general = format!(
                r#"sum by ({by}) ({f}({{service_name=~".+"}} |= "e" | __error__="" [5m]))"#
            );
            let (a, b) = (
                vector(&ok(&fast, 120), true),
                vector(&ok(&general, 120), true),
            );
            assert!(!a.is_empty(), "{fast}");
            assert_eq!(a, b, "{fast}");
        }
    }
    // A range query: each 10 s window holds exactly one A entry.
    let path = format!(
        "/loki/api/v1/query_range?query={}&start={}&end={}&step=10",
        enc(r#"sum(count_over_time({app="web"}[10s]))"#),
        c.t0,
        c.t0 + 50 * NS
    );
    let (status, body) = c.get(&path, &[]);
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["data"]["resultType"], "matrix");
    let values: Vec<&str> = v["data"]["result"][0]["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|p| p[1].as_str().expect("value"))
        .collect();
    assert_eq!(values, vec!["1"; 6]);
    assert_eq!(v["data"]["result"][0]["values"][0][0], json!(c.t0 / NS));
}

#[test]
fn labels_series_and_index_endpoints() {
    let c = start("");
    let range = format!("start={}&end={}", c.t0 - 60 * NS, c.t0 + 120 * NS);
    let data = |path: &str| {
        let (status, body) = c.get(path, &[]);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str::<Value>(&body).expect("json")
    };
    // Loki HTTP API, "Query labels", "Query label values", "Query streams".
    assert_eq!(
        data(&format!("/loki/api/v1/labels?{range}"))["data"],
        json!(["app", "env", "k8s_namespace_name", "service_name"])
    );
    assert_eq!(
        data(&format!("/loki/api/v1/label/app/values?{range}"))["data"],
        json!(["api", "web"])
    );
    assert_eq!(
        data(&format!(
            "/loki/api/v1/label/app/values?{range}&query={}",
            enc(r#"{env="dev"}"#)
        ))["data"],
        json!(["api"])
    );
    assert_eq!(
        data(&format!(
            "/loki/api/v1/series?{range}&match[]={}",
            enc(r#"{app="web"}"#)
        ))["data"],
        json!([{"app": "web", "env": "prod", "service_name": "web"}])
    );
    // "Query log statistics".
    let stats = data(&format!(
        "/loki/api/v1/index/stats?{range}&query={}",
        enc(r#"{app="web"}"#)
    ));
    let bytes: usize = A.iter().map(|l| l.len()).sum();
    assert_eq!(
        (
            stats["streams"].clone(),
            stats["entries"].clone(),
            stats["bytes"].clone()
        ),
        (json!(1), json!(6), json!(bytes))
    );
    assert_eq!(
        data("/loki/api/v1/status/buildinfo")["version"]
            .as_str()
            .map(|v| v.starts_with('3')),
        Some(true)
    );
}

#[test]
fn bad_queries_get_loki_errors_and_change_nothing() {
    let c = start(
        "[logql]\nmax_query_length = \"1h\"\nmax_query_series = 2\nmax_entries_limit_per_query = 50\n",
    );
    let fails = |path: &str, fragment: &str| {
        let (status, body) = c.get(path, &[]);
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body.contains(fragment),
            "{path}: {body:?} lacks {fragment:?}"
        );
    };
    let range = format!("start={}&end={}", c.t0 - 60 * NS, c.t0 + 120 * NS);
    let q = |q: &str| format!("/loki/api/v1/query_range?{range}&limit=10&query={}", enc(q));
    fails(&q(r#"{app="web""#), "parse error");
    fails(&q(r#"{app="web"} |~ "(a""#), "regexp");
    fails(&q(r#"{app="web"} |~ "((a{100}){100}){100}""#), "regexp");
    fails(&q(r#"{env!="prod"}"#), "empty-compatible");
    fails(
        &format!(
            "/loki/api/v1/query_range?{range}&limit=51&query={}",
            enc(r#"{app="web"}"#)
        ),
        "max entries limit per query exceeded",
    );
    fails(
        &format!(
            "/loki/api/v1/query_range?start={}&end={}&query={}",
            c.t0 - 7_200 * NS,
            c.t0,
            enc(r#"{app="web"}"#)
        ),
        "the query time range exceeds the limit",
    );
    fails(
        &q(r#"count_over_time({app="web"} | logfmt [5m])"#),
        "maximum number of series (2)",
    );
    fails(
        &format!("/loki/api/v1/query?query={}", enc(r#"{app="web"}"#)),
        "log queries are not supported as an instant query",
    );
    // Nothing changed: the corpus is all there.
    let (status, body) = c.get(
        &format!(
            "/loki/api/v1/query_range?{range}&limit=50&query={}",
            enc(r#"{app=~".+"} | keep app"#)
        ),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    let total: usize = streams(&v).iter().map(|(_, l)| l.len()).sum();
    assert_eq!(total, A.len() + B.len());
}

#[test]
fn tail_streams_what_arrives() {
    let c = start("");
    // Loki HTTP API, "Stream logs": a WebSocket that first sends what is there, then
    // what arrives.
    let url = format!(
        "ws://{}/loki/api/v1/tail?query={}&start={}",
        c.server.http,
        enc(r#"{app="web"} |= "pay""#),
        c.t0 - 60 * NS
    );
    let (mut socket, _) = tungstenite::connect(url.as_str()).expect("websocket");
    if let tungstenite::stream::MaybeTlsStream::Plain(s) = socket.get_mut() {
        s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .expect("timeout");
    }
    let lines = |msg: tungstenite::Message| -> Vec<String> {
        let v: Value = serde_json::from_str(msg.to_text().expect("text")).expect("json");
        v["streams"]
            .as_array()
            .expect("streams")
            .iter()
            .flat_map(|s| {
                s["values"]
                    .as_array()
                    .expect("values")
                    .iter()
                    .map(|e| e[1].as_str().expect("line").to_owned())
            })
            .collect()
    };
    let mut first = lines(socket.read().expect("first frame"));
    first.sort();
    assert_eq!(first, vec![A[3].to_owned(), A[5].to_owned()]);
    let now = common::now_ms() * 1_000_000;
    let push = json!({"streams": [{"stream": {"app": "web", "env": "prod"},
        "values": [[now.to_string(), "level=error path=/pay new"], [now.to_string(), "level=info path=/ ignored"]]}]});
    let resp = c
        .server
        .post(
            "/loki/api/v1/push",
            &[("Content-Type", "application/json")],
            push.to_string().as_bytes(),
        )
        .expect("push");
    assert_eq!(resp.status, 204);
    let next = lines(socket.read().expect("next frame"));
    assert_eq!(next, vec!["level=error path=/pay new".to_owned()]);
}

#[test]
fn grafana_requests_as_its_loki_datasource_sends_them() {
    // The requests of grafana/grafana-loki-datasource's backend (pkg/loki/api.go,
    // healthcheck.go) and frontend (LanguageProvider, logs volume), byte for byte in
    // their parameters: GET, nanosecond times, `step` in ms, sorted keys.
    let c = start("");
    let (start_ns, end_ns) = (c.t0 - 60 * NS, c.t0 + 120 * NS);
    // "Save & test": an instant `vector(1)+vector(1)` at `time=4000000000`, which Loki
    // reads as seconds (ten digits or fewer); one sample valued 2.
    let (status, body) = c.get(
        "/loki/api/v1/query?direction=backward&query=vector%281%29%2Bvector%281%29&time=4000000000",
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["data"]["resultType"], "vector");
    assert_eq!(
        v["data"]["result"],
        json!([{"metric": {}, "value": [4_000_000_000_i64, "2"]}])
    );
    // Explore: a log query, newest 1000, with categorized labels.
    let path = format!(
        "/loki/api/v1/query_range?direction=backward&end={end_ns}&limit=1000&query={}&start={start_ns}&step=1000ms",
        enc(r#"{app="web"} |= "pay""#)
    );
    let (status, body) = c.get(
        &path,
        &[("X-Loki-Response-Encoding-Flags", "categorize-labels")],
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    let result = v["data"]["result"].as_array().expect("result");
    assert_eq!(result.len(), 1, "{body}");
    assert_eq!(
        result[0]["stream"],
        json!({"app": "web", "env": "prod", "service_name": "web"})
    );
    let values = result[0]["values"].as_array().expect("values");
    assert_eq!(values.len(), 2);
    for e in values {
        assert_eq!(e.as_array().map(Vec::len), Some(3), "{e}");
        assert!(e[0].as_str().is_some_and(|t| t.len() == 19), "{e}");
    }
    // The logs volume histogram: `$__auto` became `[1m]` for a 60000ms step.
    let path = format!(
        "/loki/api/v1/query_range?direction=backward&end={end_ns}&query={}&start={start_ns}&step=60000ms",
        enc(
            r#"sum by (level, detected_level) (count_over_time({app="web"} |= "pay" | drop __error__[1m]))"#
        )
    );
    let (status, body) = c.get(&path, &[("X-Query-Tags", "Source=logvolhist")]);
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["data"]["resultType"], "matrix");
    assert_eq!(
        v["data"]["result"][0]["metric"],
        json!({"detected_level": "error"})
    );
    let total: f64 = v["data"]["result"][0]["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|p| {
            p[1].as_str()
                .and_then(|s| s.parse::<f64>().ok())
                .expect("value")
        })
        .sum();
    // A3 and A5 each fall in one 1m window of the grid (steps a minute apart).
    assert_eq!(total, 2.0);
    // The label browser: names, values, and a stream's labels through `series`.
    let (status, body) = c.get(
        &format!("/loki/api/v1/labels?end={end_ns}&start={start_ns}"),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = c.get(
        &format!(
            "/loki/api/v1/series?end={end_ns}&match%5B%5D={}&start={start_ns}",
            enc(r#"{service_name="checkout"}"#)
        ),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        v["data"],
        json!([{"k8s_namespace_name": "shop", "service_name": "checkout"}])
    );
    // The query size estimate, once per selector.
    let (status, body) = c.get(
        &format!(
            "/loki/api/v1/index/stats?end={end_ns}&query={}&start={start_ns}",
            enc(r#"{service_name="checkout"}"#)
        ),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(
        (v["streams"].clone(), v["entries"].clone()),
        (json!(1), json!(3))
    );
    // Logs Drilldown sends RFC 3339 times.
    let rfc = |ns: i64| {
        chrono::DateTime::from_timestamp(ns / NS, 0)
            .expect("time")
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    };
    let (status, body) = c.get(
        &format!(
            "/loki/api/v1/index/volume?end={}&limit=5000&query={}&start={}",
            enc(&rfc(end_ns)),
            enc(r#"{service_name=~".+"}"#),
            enc(&rfc(start_ns))
        ),
        &[],
    );
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).expect("json");
    let services: Vec<&str> = v["data"]["result"]
        .as_array()
        .expect("result")
        .iter()
        .map(|r| r["metric"]["service_name"].as_str().expect("service"))
        .collect();
    assert_eq!(services, vec!["web", "api", "checkout"]);
}
