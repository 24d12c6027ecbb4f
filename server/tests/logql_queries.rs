//! LogQL end to end, the queries: log queries and metric queries over the corpus of
//! `logql_common` (pushed through Loki's push API and OTLP into the real binary), through
//! `/loki/api/v1/query_range` and `query`, each answer worked out from Loki's docs.

mod logql_common;

use logql_common::*;
use serde_json::{Value, json};

#[test]
fn log_queries_as_loki_documents_them() {
    let c = start("");
    stream_selectors(&c);
    line_filters(&c);
    parsers(&c);
    label_formats_drops_and_decolorize(&c);
    label_filters_with_or_and_and(&c);
    limit_direction_and_interval(&c);
    ip_matching(&c);
    categorize_labels_encoding(&c);
}

/// The labels of a `{app="web"}` stream of the corpus at `level`.
fn web(level: &str) -> String {
    format!(r#"{{{WEB}detected_level="{level}", env="prod", service_name="web"}}"#)
}

/// The labels of a `checkout` stream (OTLP records): service.name and k8s.namespace.name
/// are stream labels; the attribute, the detected level and the severity text are
/// structured metadata.
fn checkout(level: &str, route: &str, text: &str) -> String {
    format!(
        r#"{{detected_level="{level}", http_route="{route}", k8s_namespace_name="shop", service_name="checkout", severity_text="{text}"}}"#
    )
}

/// Stream selectors: every entry of the matching streams, newest first.
fn stream_selectors(c: &Corpus) {
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
}

/// Line filter expressions.
fn line_filters(c: &Corpus) {
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
}

/// Parsers (logfmt, JSON, pattern, regexp) and label filters on what they parse.
fn parsers(c: &Corpus) {
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
}

/// Labels format, drop labels and decolorize.
fn label_formats_drops_and_decolorize(c: &Corpus) {
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
}

/// Label filters joined with `or` and `and`.
fn label_filters_with_or_and_and(c: &Corpus) {
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
}

/// The HTTP API's `limit`, `direction` and `interval`.
fn limit_direction_and_interval(c: &Corpus) {
    // HTTP API, "query_range": `limit` and `direction`.
    assert_eq!(
        streams(&c.logs(r#"{app="web"} | keep app"#, "&limit=2&direction=forward")),
        want(&[(r#"{app="web"}"#, &[A[0], A[1]])])
    );
    assert_eq!(
        streams(&c.logs(r#"{app="web"} | keep app"#, "&limit=2")),
        want(&[(r#"{app="web"}"#, &[A[5], A[4]])])
    );
    // "interval": entries at least 20 s apart, in the direction's order over all streams.
    assert_eq!(
        streams(&c.logs(
            r#"{app="web"} | keep app"#,
            "&interval=20s&direction=forward"
        )),
        want(&[(r#"{app="web"}"#, &[A[0], A[2], A[4]])])
    );
    assert_eq!(
        streams(&c.logs(r#"{app="web"} | keep app"#, "&interval=20")),
        want(&[(r#"{app="web"}"#, &[A[5], A[3], A[1]])])
    );
}

/// IP address matching, over another tenant's corpus pushed here.
fn ip_matching(c: &Corpus) {
    // "Matching IP addresses": in lines and in labels, another tenant's corpus.
    let now = now_ms() * 1_000_000;
    let ips = json!({"streams": [{"stream": {"app": "edge"}, "values": [
        [(now - 3 * NS).to_string(), "peer 192.168.4.7:5555 accepted"],
        [(now - 2 * NS).to_string(), "peer 10.0.0.9 refused"],
        [(now - NS).to_string(), "peer [2001:db8::7]:443 accepted"]]}]});
    let tenant = [
        ("Content-Type", "application/json"),
        ("X-Scope-OrgID", "ips"),
    ];
    let resp = c
        .server
        .post("/loki/api/v1/push", &tenant, ips.to_string().as_bytes())
        .expect("push");
    assert_eq!(resp.status, 204);
    let ip_lines = |q: &str| {
        let path = format!(
            "/loki/api/v1/query_range?query={}&start={}&end={}&direction=forward",
            enc(q),
            now - 60 * NS,
            now + NS
        );
        let (status, body) = c.get(&path, &[("X-Scope-OrgID", "ips")]);
        assert_eq!(status, 200, "{q}: {body}");
        let v: Value = serde_json::from_str(&body).expect("json");
        streams(&v)
            .into_iter()
            .flat_map(|(_, lines)| lines)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ip_lines(r#"{app="edge"} |= ip("192.168.4.0/24")"#),
        vec!["peer 192.168.4.7:5555 accepted"]
    );
    assert_eq!(
        ip_lines(r#"{app="edge"} != ip("192.168.4.0-192.168.4.255") != ip("2001:db8::/32")"#),
        vec!["peer 10.0.0.9 refused"]
    );
    assert_eq!(
        ip_lines(
            r#"{app="edge"} | regexp "peer \\[?(?P<addr>[0-9a-f.:]+?)\\]?(:\\d+)? " | addr = ip("2001:db8::/32") | keep app"#
        ),
        vec!["peer [2001:db8::7]:443 accepted"]
    );
}

/// Grafana's categorize-labels response encoding.
fn categorize_labels_encoding(c: &Corpus) {
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
    range_aggregations(&c);
    unwrapped_range_aggregations(&c);
    operators(&c);
    offset_and_logs_volume(&c);
    grouped_fast_path_agrees_with_the_general_one(&c);
    range_query(&c);
}

/// The body of an instant query at `at` (as `Corpus::instant` takes it), which must answer 200.
fn ok(c: &Corpus, q: &str, at: i64) -> String {
    let (status, body) = c.instant(q, at);
    assert_eq!(status, 200, "{q}: {body}");
    body
}

/// The value of an instant query answering a single sample.
fn single(c: &Corpus, q: &str, at: i64) -> f64 {
    let v = vector(&ok(c, q, at), true);
    assert_eq!(v.len(), 1, "{q}: {v:?}");
    v[0].1
}

/// Log range aggregations, alone and under aggregation operators.
fn range_aggregations(c: &Corpus) {
    // Loki docs, "Metric queries > Log range aggregations": the window (t - 1m, t] holds
    // A1..A5 (A0 sits on the excluded lower bound).
    assert_eq!(
        vector(&ok(c, r#"count_over_time({app="web"}[1m])"#, 60), true),
        vec![(web("error"), 2.0), (web("info"), 2.0), (web("warn"), 1.0)]
    );
    // "Built-in aggregation operators" over a range aggregation.
    assert_eq!(
        vector(
            &ok(
                c,
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
    assert!((single(c, r#"sum(rate({app="web"}[1m]))"#, 60) - 5.0 / 60.0).abs() < 1e-12);
    let pay_bytes = (A[3].len() + A[5].len()) as f64;
    assert_eq!(
        single(c, r#"sum(bytes_over_time({app="web"} |= "pay" [5m]))"#, 120),
        pay_bytes
    );
    assert!(
        (single(c, r#"sum(bytes_rate({app="web"} |= "pay" [5m]))"#, 120) - pay_bytes / 300.0).abs()
            < 1e-12
    );
}

/// Unwrapped range aggregations, and a conversion error that fails one.
fn unwrapped_range_aggregations(c: &Corpus) {
    // "Unwrapped range aggregations": durations in seconds.
    let total = single(
        c,
        r#"sum(sum_over_time({app="web"} | logfmt | unwrap duration(duration) [5m]))"#,
        120,
    );
    assert!(
        (total - (0.012 + 0.030 + 0.005 + 1.5 + 0.008 + 2.0)).abs() < 1e-9,
        "{total}"
    );
    assert_eq!(
        single(
            c,
            r#"max_over_time({app="api"} | json | __error__="" | unwrap latency_ms [5m]) by (app)"#,
            120
        ),
        900.0
    );
    assert_eq!(
        single(
            c,
            r#"quantile_over_time(0.5, {app="api"} | json | __error__="" | unwrap latency_ms [5m]) by (app)"#,
            120
        ),
        120.0
    );
    assert_eq!(
        single(
            c,
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
}

/// `topk`, `sort_desc`, binary operators with scalars, `bool`, `vector()`, `absent_over_time`.
fn operators(c: &Corpus) {
    // "topk", "sort_desc", binary operators with scalars, `bool`, `vector()`.
    assert_eq!(
        vector(
            &ok(
                c,
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
                c,
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
        single(c, r#"sum(count_over_time({app="web"}[5m])) / 2"#, 120),
        3.0
    );
    assert_eq!(
        single(c, r#"sum(count_over_time({app="web"}[5m])) > bool 10"#, 120),
        0.0
    );
    assert_eq!(
        vector(
            &ok(
                c,
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
        vector(&ok(c, "vector(1)+vector(1)", 120), true),
        vec![("{}".to_owned(), 2.0)]
    );
    assert_eq!(
        vector(&ok(c, r#"absent_over_time({app="nope"}[1m])"#, 120), true),
        vec![(r#"{app="nope"}"#.to_owned(), 1.0)]
    );
}

/// `offset`, and Grafana's logs volume query.
fn offset_and_logs_volume(c: &Corpus) {
    // "offset": the window moves back by a minute, to (T0, T0 + 60s].
    assert_eq!(
        single(c, r#"sum(count_over_time({app="web"}[1m] offset 1m))"#, 120),
        5.0
    );
    // Grafana's logs volume query.
    assert_eq!(
        vector(
            &ok(
                c,
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
}

/// Grouped counts and bytes: the fast path and the general one agree.
fn grouped_fast_path_agrees_with_the_general_one(c: &Corpus) {
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
                vector(&ok(c, &fast, 120), true),
                vector(&ok(c, &general, 120), true),
            );
            assert!(!a.is_empty(), "{fast}");
            assert_eq!(a, b, "{fast}");
        }
    }
}

/// A range query over `query_range`.
fn range_query(c: &Corpus) {
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
