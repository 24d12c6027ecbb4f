//! LogQL end to end, the rest of Loki's API: labels, series and the index endpoints,
//! detected fields and labels, patterns, the WebSocket tail, Grafana's requests as its
//! Loki datasource sends them, and bad queries, over the corpus of `logql_common`.

mod logql_common;

use logql_common::*;
use serde_json::{Value, json};

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
    let now = now_ms() * 1_000_000;
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
