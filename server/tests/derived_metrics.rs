//! RED metrics and the service graph derived from spans (`server/src/derive`), end to end:
//! the OpenTelemetry Python SDK (`derived/sdk_spans.py`) sends spans of two services over
//! OTLP/HTTP to the real `strata` binary; the derived series are read back through the
//! Prometheus API, the edges through `/jaeger/api/dependencies`, the counts of what was
//! collapsed or refused from `/metrics`. Expected values come from the spans the script
//! sends (see its docstring) and from Tempo's defaults (buckets, label values).
//!
//! The script runs in the `python3` found on PATH: `.ci/test.sh` puts the virtualenv
//! `$CARGO_TARGET_DIR/venv` (with `opentelemetry-sdk` and the OTLP exporters) first.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use strata_tests::server::Server;

const SCRIPT: &str = include_str!("derived/sdk_spans.py");

/// A short collection interval and wait, so the test sees series within a second.
const CONFIG: &str = r#"
[derived]
collection_interval = "200ms"
service_graph_wait = "1s"

[derived.tenants.many]
max_span_names_per_service = 3

[derived.tenants.off]
enabled = false

[limits.tenants.capped]
max_active_series = 5
"#;

fn bin() -> &'static std::path::Path {
    std::path::Path::new(env!("CARGO_BIN_EXE_strata"))
}

fn start() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(bin(), dir.path(), CONFIG);
    server.wait_ready(Duration::from_secs(30));
    (dir, server)
}

/// Runs the SDK script in `mode` for `tenant`.
fn send(dir: &tempfile::TempDir, server: &Server, tenant: &str, mode: &str) {
    let script = dir.path().join("sdk_spans.py");
    std::fs::write(&script, SCRIPT).expect("write the script");
    let out = Command::new("python3")
        .arg(&script)
        .arg(format!("http://{}", server.http))
        .args([tenant, mode])
        .output()
        .expect("python3 runs (activate $CARGO_TARGET_DIR/venv)");
    assert!(
        out.status.success(),
        "the SDK script failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

type Vector = Vec<(BTreeMap<String, String>, f64)>;

/// The instant vector of `q` now, for `tenant`.
fn query(server: &Server, tenant: &str, q: &str) -> Vector {
    let resp = server.instant_query(q, now_ms(), &[("X-Scope-OrgID", tenant)]);
    let v: Value = serde_json::from_str(&resp.text()).expect("json");
    let result = v["data"]["result"].as_array().cloned().unwrap_or_default();
    result
        .iter()
        .map(|r| {
            let labels = r["metric"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            let value = r["value"][1]
                .as_str()
                .and_then(|s| s.parse().ok())
                .unwrap_or(f64::NAN);
            (labels, value)
        })
        .collect()
}

/// Polls `q` until `want` holds of its result (panics after 20 s with the last result).
fn eventually(server: &Server, tenant: &str, q: &str, want: impl Fn(&Vector) -> bool) -> Vector {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let v = query(server, tenant, q);
        if want(&v) {
            return v;
        }
        assert!(Instant::now() < deadline, "{q}: {v:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The single value of `q`, once it equals `want`.
fn value_is(server: &Server, tenant: &str, q: &str, want: f64) {
    eventually(server, tenant, q, |v| {
        v.len() == 1 && (v[0].1 - want).abs() < 1e-9
    });
}

/// A `/metrics` line's value (`name{labels}` exactly as written), if present.
fn self_metric(server: &Server, series: &str) -> Option<f64> {
    let text = server.get("/metrics", &[]).expect("metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn sdk_spans_of_two_services_make_red_metrics_an_edge_and_dependencies() {
    let (dir, server) = start();
    send(&dir, &server, "t1", "graph");
    let t = "t1";
    span_calls(&server, t);
    span_latency(&server, t);
    service_graph_edges(&server, t);
    jaeger_dependencies(&server, t);
}

/// The calls counter: spans per service, span name, kind and status, as sent, with exactly
/// Tempo's label names.
fn span_calls(server: &Server, t: &str) {
    // Spans per service, span name, kind and status, as sent.
    for (sel, n) in [
        (
            r#"service="a",span_name="GET /checkout",span_kind="SPAN_KIND_CLIENT",status_code="STATUS_CODE_OK""#,
            12.0,
        ),
        (
            r#"service="a",span_name="charge",span_kind="SPAN_KIND_CLIENT",status_code="STATUS_CODE_UNSET""#,
            1.0,
        ),
        (
            r#"service="b",span_name="handle",span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_ERROR""#,
            3.0,
        ),
        (
            r#"service="b",span_name="handle",span_kind="SPAN_KIND_SERVER",status_code="STATUS_CODE_UNSET""#,
            9.0,
        ),
    ] {
        value_is(
            server,
            t,
            &format!("traces_spanmetrics_calls_total{{{sel}}}"),
            n,
        );
    }
    let all = query(server, t, "traces_spanmetrics_calls_total");
    assert_eq!(all.len(), 4, "no other series: {all:?}");
    // Exactly Tempo's label names.
    let names: Vec<&String> = all[0].0.keys().collect();
    assert_eq!(
        names,
        [
            "__name__",
            "service",
            "span_kind",
            "span_name",
            "status_code"
        ]
    );
}

/// The latency histogram: Tempo's 14 buckets and +Inf.
fn span_latency(server: &Server, t: &str) {
    // Latency: 30 ms client spans lie in (0.016, 0.032]; 10 ms server spans in (0.008, 0.016].
    let a = r#"service="a",span_name="GET /checkout""#;
    value_is(
        server,
        t,
        &format!(r#"traces_spanmetrics_latency_bucket{{{a},le="0.016"}}"#),
        0.0,
    );
    value_is(
        server,
        t,
        &format!(r#"traces_spanmetrics_latency_bucket{{{a},le="0.032"}}"#),
        12.0,
    );
    value_is(
        server,
        t,
        &format!(r#"traces_spanmetrics_latency_bucket{{{a},le="+Inf"}}"#),
        12.0,
    );
    value_is(
        server,
        t,
        &format!("traces_spanmetrics_latency_count{{{a}}}"),
        12.0,
    );
    let sum = query(server, t, &format!("traces_spanmetrics_latency_sum{{{a}}}"));
    assert!((sum[0].1 - 0.36).abs() < 1e-6, "{sum:?}");
    let b = r#"service="b",status_code="STATUS_CODE_UNSET""#;
    value_is(
        server,
        t,
        &format!(r#"traces_spanmetrics_latency_bucket{{{b},le="0.008"}}"#),
        0.0,
    );
    value_is(
        server,
        t,
        &format!(r#"traces_spanmetrics_latency_bucket{{{b},le="0.016"}}"#),
        9.0,
    );
    let le: Vec<String> = query(
        server,
        t,
        &format!("traces_spanmetrics_latency_bucket{{{a}}}"),
    )
    .into_iter()
    .map(|(l, _)| l["le"].clone())
    .collect();
    assert_eq!(le.len(), 15, "Tempo's 14 buckets and +Inf: {le:?}");
}

/// The edge a -> b, its failures, its latencies, and the virtual node `charge` calls.
fn service_graph_edges(server: &Server, t: &str) {
    // The edge a -> b, its failures, its latencies (Tempo's buckets from 0.1 s).
    let edge = r#"client="a",server="b""#;
    value_is(
        server,
        t,
        &format!("traces_service_graph_request_total{{{edge}}}"),
        12.0,
    );
    value_is(
        server,
        t,
        &format!("traces_service_graph_request_failed_total{{{edge}}}"),
        3.0,
    );
    value_is(
        server,
        t,
        &format!(r#"traces_service_graph_request_server_seconds_bucket{{{edge},le="0.1"}}"#),
        12.0,
    );
    value_is(
        server,
        t,
        &format!("traces_service_graph_request_client_seconds_count{{{edge}}}"),
        12.0,
    );
    let s = query(
        server,
        t,
        &format!("traces_service_graph_request_client_seconds_sum{{{edge}}}"),
    );
    assert!((s[0].1 - 0.36).abs() < 1e-6, "{s:?}");
    let e = query(
        server,
        t,
        &format!("traces_service_graph_request_total{{{edge}}}"),
    );
    assert!(
        !e[0].0.contains_key("connection_type"),
        "a plain edge has none: {e:?}"
    );

    // `charge` has no server span: after the wait, peer.service names a virtual node.
    value_is(
        server,
        t,
        r#"traces_service_graph_request_total{client="a",server="payments-api",connection_type="virtual_node"}"#,
        1.0,
    );
}

/// Jaeger's dependencies, from the stored series; a bad `endTs` is a 400.
fn jaeger_dependencies(server: &Server, t: &str) {
    // Jaeger's dependencies, from the stored series.
    let deps = server
        .get(
            &format!(
                "/jaeger/api/dependencies?endTs={}&lookback=3600000",
                now_ms()
            ),
            &[("X-Scope-OrgID", t)],
        )
        .expect("dependencies");
    assert_eq!(deps.status, 200, "{}", deps.text());
    let v: Value = serde_json::from_str(&deps.text()).expect("json");
    assert_eq!(
        v,
        serde_json::json!({
            "data": [
                {"parent": "a", "child": "b", "callCount": 12},
                {"parent": "a", "child": "payments-api", "callCount": 1},
            ],
            "total": 2, "limit": 0, "offset": 0, "errors": null
        })
    );
    // A window that ends before the spans came holds no edge.
    let early = server
        .get(
            "/jaeger/api/dependencies?endTs=1000000&lookback=1000",
            &[("X-Scope-OrgID", t)],
        )
        .expect("dependencies");
    let v: Value = serde_json::from_str(&early.text()).expect("json");
    assert_eq!(v["data"], serde_json::json!([]));
    let bad = server
        .get(
            "/jaeger/api/dependencies?endTs=soon",
            &[("X-Scope-OrgID", t)],
        )
        .expect("dependencies");
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("endTs"), "{}", bad.text());
    assert_eq!(
        self_metric(server, r#"strata_service_graph_edges_total{tenant="t1"}"#),
        Some(13.0)
    );
}

#[test]
fn a_span_name_explosion_is_collapsed_and_counted() {
    let (dir, server) = start();
    send(&dir, &server, "many", "names");
    // max_span_names_per_service = 3: op-0 .. op-2 keep their names, the 7 others collapse.
    for i in 0..3 {
        value_is(
            &server,
            "many",
            &format!(r#"traces_spanmetrics_calls_total{{span_name="op-{i}"}}"#),
            1.0,
        );
    }
    value_is(
        &server,
        "many",
        r#"traces_spanmetrics_calls_total{service="c",span_name="__overflow__"}"#,
        7.0,
    );
    let all = query(&server, "many", "traces_spanmetrics_calls_total");
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(
        self_metric(
            &server,
            r#"strata_derived_span_names_collapsed_total{tenant="many"}"#
        ),
        Some(7.0)
    );
    // The spans themselves are all stored under their own names.
    let ops = server
        .get(
            "/jaeger/api/services/c/operations",
            &[("X-Scope-OrgID", "many")],
        )
        .expect("operations");
    let v: Value = serde_json::from_str(&ops.text()).expect("json");
    assert_eq!(v["total"], 10, "{v}");
}

#[test]
fn a_switched_off_tenant_gets_nothing_and_derived_series_count_against_the_caps() {
    let (dir, server) = start();
    send(&dir, &server, "off", "one");
    send(&dir, &server, "capped", "one");
    // `capped` (max_active_series = 5) gets at most 5 of the 18 series of one span, and
    // the refusals are counted.
    let deadline = Instant::now() + Duration::from_secs(20);
    let rejected =
        r#"strata_derived_samples_rejected_total{tenant="capped",reason="series_limit"}"#;
    while self_metric(&server, rejected).is_none_or(|n| n < 13.0) {
        assert!(Instant::now() < deadline, "no refusal counted for `capped`");
        std::thread::sleep(Duration::from_millis(100));
    }
    let stored = query(
        &server,
        "capped",
        r#"count({__name__=~"traces_spanmetrics_.*"})"#,
    );
    assert!(
        stored.len() == 1 && stored[0].1 >= 1.0 && stored[0].1 <= 5.0,
        "{stored:?}"
    );
    // The same spans, several collections later, made nothing for `off`.
    let none = query(&server, "off", r#"{__name__=~"traces_.*"}"#);
    assert!(none.is_empty(), "{none:?}");
    let metrics = server.get("/metrics", &[]).expect("metrics").text();
    let derived_off: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("strata_derived_") || l.starts_with("strata_service_graph_"))
        .filter(|l| l.contains(r#"tenant="off""#))
        .collect();
    assert!(derived_off.is_empty(), "{derived_off:?}");
    assert!(metrics.contains(r#"strata_derived_samples_written_total{tenant="capped"}"#));
    // Its span was stored.
    let services = server
        .get("/jaeger/api/services", &[("X-Scope-OrgID", "off")])
        .expect("services");
    assert!(services.text().contains("\"d\""), "{}", services.text());
}

#[test]
fn spans_the_engine_refuses_are_not_counted() {
    let (_dir, server) = start();
    let now_ns = now_ms() * 1_000_000;
    let span = |id: &str, start: i64, end: i64| {
        serde_json::json!({
            "traceId": "0102030405060708090a0b0c0d0e0f10", "spanId": id, "name": "op", "kind": 2,
            "startTimeUnixNano": start.to_string(), "endTimeUnixNano": end.to_string()
        })
    };
    let body = serde_json::json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "e"}}]},
        "scopeSpans": [{"spans": [
            span("0000000000000001", now_ns, now_ns + 1_000_000),
            // Ends before it starts: refused.
            span("0000000000000002", now_ns, now_ns - 1_000_000),
            // An all-zero span id: refused.
            span("0000000000000000", now_ns, now_ns + 1_000_000),
        ]}]
    }]});
    let resp = server
        .post(
            "/v1/traces",
            &[
                ("Content-Type", "application/json"),
                ("X-Scope-OrgID", "t2"),
            ],
            body.to_string().as_bytes(),
        )
        .expect("post");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.text().contains("rejectedSpans"), "{}", resp.text());
    value_is(
        &server,
        "t2",
        r#"traces_spanmetrics_calls_total{service="e"}"#,
        1.0,
    );
    // Several collections later, still one.
    std::thread::sleep(Duration::from_millis(600));
    value_is(
        &server,
        "t2",
        r#"traces_spanmetrics_calls_total{service="e"}"#,
        1.0,
    );
}
