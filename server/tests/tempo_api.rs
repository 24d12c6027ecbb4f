//! Grafana Tempo's HTTP API on the real binary, over spans sent as OTLP/HTTP protobuf, asked
//! exactly as Grafana's Tempo datasource asks (grafana/grafana-tempo-datasource,
//! `pkg/tempo/trace.go` `createRequest`, `search.go` `createSearchRequest`,
//! `traceql_query.go` `createMetricsQuery`, `tempo.go` `handleTags`/`handleTagValues` with
//! `src/language_provider.ts`): Go's `url.Values.Encode()` query strings (keys sorted,
//! `QueryEscape`d), `Accept: application/protobuf` for traces and `application/json` for
//! search and metrics. Expected answers follow Tempo's API docs
//! (`docs/sources/tempo/api_docs/_index.md`) and `pkg/tempopb` as gogo `jsonpb` writes it.
//! Every answer is checked with the data in memory and again after a restart flushed it to
//! Parquet; then tenancy and auth.

mod common;

use base64::Engine as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, TracesData};
use prost::Message;
use serde_json::{Value as Json, json};
use strata_tests::server::Server;

/// A TraceQL length limit the test can pass (Tempo's default is 128 KiB).
const CONFIG: &str = "[tempo]\nmax_traceql_length = 200\n";

const PROTOBUF: (&str, &str) = ("Content-Type", "application/x-protobuf");
const ACCEPT_PROTOBUF: (&str, &str) = ("Accept", "application/protobuf");
const ACCEPT_JSON: (&str, &str) = ("Accept", "application/json");

/// Tempo's `TraceByIDResponse` (`pkg/tempopb/tempo.proto`), to decode v2 answers.
#[derive(Clone, PartialEq, prost::Message)]
struct TraceByIdResponse {
    #[prost(message, optional, tag = "1")]
    trace: Option<TracesData>,
    #[prost(int32, tag = "3")]
    status: i32,
    #[prost(string, tag = "4")]
    message: String,
}

fn kv(key: &str, v: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

/// A span of trace `t` (all bytes `t`), id `s`, child of `parent`, with an int `retries`
/// attribute `s`, `http.route`, and `http.response.status_code` (200, or 500 on error).
#[allow(clippy::too_many_arguments)]
fn span(
    t: u8,
    s: u8,
    parent: Option<u8>,
    name: &str,
    kind: i32,
    start_ns: u64,
    dur_ms: u64,
    error: bool,
) -> Span {
    Span {
        trace_id: vec![t; 16],
        span_id: vec![s; 8],
        parent_span_id: parent.map_or(Vec::new(), |p| vec![p; 8]),
        name: name.into(),
        kind,
        start_time_unix_nano: start_ns,
        end_time_unix_nano: start_ns + dur_ms * 1_000_000,
        attributes: vec![
            kv("http.route", Value::StringValue("/cart".into())),
            kv("retries", Value::IntValue(i64::from(s))),
            kv(
                "http.response.status_code",
                Value::IntValue(if error { 500 } else { 200 }),
            ),
        ],
        status: error.then(|| Status {
            code: StatusCode::Error as i32,
            message: "boom".into(),
        }),
        ..Default::default()
    }
}

fn spans_request(service: &str, spans: Vec<Span>) -> Vec<u8> {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    kv("service.name", Value::StringValue(service.into())),
                    kv("host.name", Value::StringValue("h1".into())),
                ],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, the rest `%XX`.
fn query_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            b' ' => "+".into(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Go's `url.Values.Encode()`: sorted by key, escaped.
fn go_query(pairs: &[(&str, &str)]) -> String {
    let mut pairs = pairs.to_vec();
    pairs.sort_by_key(|(k, _)| *k);
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn get_json(server: &Server, path: &str, headers: &[(&str, &str)]) -> (u16, Json) {
    let r = server.get(path, headers).expect("GET");
    let body = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {}", r.text()));
    (r.status, body)
}

fn hex(b: u8, n: usize) -> String {
    format!("{b:02x}").repeat(n)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Every span of decoded resource spans as (service, span).
fn flatten(rs: &[ResourceSpans]) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    for r in rs {
        let service = r
            .resource
            .as_ref()
            .and_then(|res| res.attributes.iter().find(|a| a.key == "service.name"))
            .and_then(|a| a.value.as_ref())
            .and_then(|v| match &v.value {
                Some(Value::StringValue(s)) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        for ss in &r.scope_spans {
            out.extend(ss.spans.iter().map(|s| (service.clone(), s.clone())));
        }
    }
    out
}

/// Trace by id, v1 and v2, protobuf and JSON.
fn check_traces(server: &Server, t0_ns: u64) {
    let (s, e) = (t0_ns / 1_000_000_000 - 60, t0_ns / 1_000_000_000 + 60);
    let (s, e) = (s.to_string(), e.to_string());

    // Grafana: v2 first, protobuf, with the time range and span_pruning=true.
    let q = go_query(&[("start", &s), ("end", &e), ("span_pruning", "true")]);
    let r = server
        .get(
            &format!("/api/v2/traces/{}?{q}", hex(0xaa, 16)),
            &[ACCEPT_PROTOBUF],
        )
        .expect("GET");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/protobuf"));
    let v2 = TraceByIdResponse::decode(r.body.as_slice()).expect("TraceByIDResponse");
    assert_eq!(v2.status, 0, "COMPLETE");
    let spans = flatten(&v2.trace.expect("trace").resource_spans);
    assert_eq!(spans.len(), 3);
    let (service, root) = &spans[0];
    assert_eq!(service, "shop");
    assert_eq!(root.trace_id, vec![0xaa; 16]);
    assert_eq!(root.span_id, vec![1; 8]);
    assert!(root.parent_span_id.is_empty());
    assert_eq!(root.name, "GET /cart");
    assert_eq!(root.kind, 2);
    assert_eq!(root.start_time_unix_nano, t0_ns);
    assert_eq!(root.end_time_unix_nano, t0_ns + 50_000_000);
    assert!(root.attributes.contains(&kv("retries", Value::IntValue(1))));
    assert!(
        root.attributes
            .contains(&kv("http.route", Value::StringValue("/cart".into())))
    );
    let (db_service, db) = spans.iter().find(|(_, s)| s.name == "SELECT").expect("db");
    assert_eq!(db_service, "db");
    assert_eq!(db.parent_span_id, vec![1; 8]);
    assert_eq!(db.kind, 3);

    // v1, as older Grafana asks (and as Grafana falls back to on a 404): a Trace.
    let q = go_query(&[("start", &s), ("end", &e)]);
    let r = server
        .get(
            &format!("/api/traces/{}?{q}", hex(0xaa, 16)),
            &[ACCEPT_PROTOBUF],
        )
        .expect("GET");
    assert_eq!(r.status, 200, "{}", r.text());
    let v1 = TracesData::decode(r.body.as_slice()).expect("Trace");
    assert_eq!(flatten(&v1.resource_spans).len(), 3);

    // JSON: v1 is {"batches":[...]}, v2 {"trace":{"resourceSpans":[...]}}; ids base64,
    // enums by name, 64-bit integers as strings.
    let (status, body) = get_json(server, &format!("/api/traces/{}", hex(0xbb, 16)), &[]);
    assert_eq!(status, 200, "{body}");
    let span = &body["batches"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(
        body["batches"][0]["resource"]["attributes"][0],
        json!({"key": "service.name", "value": {"stringValue": "shop"}})
    );
    assert_eq!(span["traceId"], b64(&[0xbb; 16]));
    assert_eq!(span["spanId"], b64(&[3; 8]));
    assert_eq!(span["kind"], "SPAN_KIND_SERVER");
    assert_eq!(
        span["startTimeUnixNano"],
        (t0_ns + 10_000_000_000).to_string()
    );
    assert_eq!(
        span["status"],
        json!({"message": "boom", "code": "STATUS_CODE_ERROR"})
    );
    assert!(
        span["attributes"]
            .as_array()
            .expect("attributes")
            .contains(&json!({"key": "retries", "value": {"intValue": "3"}})),
        "{span}"
    );
    assert!(
        span.get("parentSpanId").is_none(),
        "a root has no parent: {span}"
    );
    let (status, body) = get_json(
        server,
        &format!("/api/v2/traces/{}", hex(0xbb, 16)),
        &[ACCEPT_JSON],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["trace"]["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["spanId"],
        b64(&[3; 8])
    );
    assert!(
        body.get("status").is_none(),
        "COMPLETE is jsonpb's zero value"
    );

    // Short ids are left-padded; absent traces are 404 (v2 and v1); bad ids 400.
    let r = server
        .get(&format!("/api/v2/traces/{}", "cc"), &[ACCEPT_PROTOBUF])
        .expect("GET");
    assert_eq!(r.status, 404, "{}", r.text());
    let r = server
        .get(&format!("/api/traces/{}", hex(0xcc, 16)), &[])
        .expect("GET");
    assert_eq!(r.status, 404);
    let far = go_query(&[("start", "1000"), ("end", "2000")]);
    let r = server
        .get(&format!("/api/v2/traces/{}?{far}", hex(0xaa, 16)), &[])
        .expect("GET");
    assert_eq!(r.status, 404, "outside the range: {}", r.text());
    for bad in ["not-hex", &"a".repeat(33)] {
        let r = server
            .get(&format!("/api/v2/traces/{bad}"), &[])
            .expect("GET");
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.text().contains("invalid trace id"), "{}", r.text());
    }
}

fn tag_values(server: &Server, path: &str) -> Json {
    let (status, body) = get_json(server, path, &[]);
    assert_eq!(status, 200, "{path}: {body}");
    body["tagValues"].clone()
}

/// Tag names and values, v1 and v2.
fn check_tags(server: &Server, t0_ns: u64) {
    let (s, e) = (t0_ns / 1_000_000_000 - 60, t0_ns / 1_000_000_000 + 60);
    let (s, e) = (s.to_string(), e.to_string());

    // language_provider.ts fetchTags: `tags` resource with limit (and start/end when the
    // tag time range is not the default); the plugin proxies to /api/v2/search/tags.
    for q in [
        go_query(&[("limit", "5000")]),
        go_query(&[("limit", "5000"), ("start", &s), ("end", &e)]),
    ] {
        let (status, body) = get_json(server, &format!("/api/v2/search/tags?{q}"), &[]);
        assert_eq!(status, 200, "{body}");
        let scope = |name: &str| -> Vec<String> {
            body["scopes"]
                .as_array()
                .expect("scopes")
                .iter()
                .find(|s| s["name"] == name)
                .unwrap_or_else(|| panic!("no scope {name}: {body}"))["tags"]
                .as_array()
                .expect("tags")
                .iter()
                .map(|t| t.as_str().expect("tag").to_owned())
                .collect()
        };
        assert_eq!(scope("resource"), vec!["host.name", "service.name"]);
        assert_eq!(
            scope("span"),
            vec!["http.response.status_code", "http.route", "retries"]
        );
        let intrinsic = scope("intrinsic");
        for i in [
            "duration",
            "kind",
            "name",
            "rootName",
            "rootServiceName",
            "status",
        ] {
            assert!(intrinsic.contains(&i.to_owned()), "{i}: {intrinsic:?}");
        }
    }
    let (_, body) = get_json(server, "/api/v2/search/tags?scope=span", &[]);
    assert_eq!(body["scopes"].as_array().map(Vec::len), Some(1), "{body}");
    let (_, body) = get_json(server, "/api/search/tags", &[]);
    assert_eq!(
        body["tagNames"],
        json!([
            "host.name",
            "http.response.status_code",
            "http.route",
            "retries",
            "service.name"
        ])
    );

    // handleTagValues: the `tag-values` resource proxies to /api/v2/search/tag/<tag>/values
    // with the resource call's own query (limit, tag, and q from the current filters).
    let values_q = |q: &str| {
        let query = go_query(&[
            ("limit", "5000"),
            ("tag", "resource.service.name"),
            ("q", q),
        ]);
        tag_values(
            server,
            &format!("/api/v2/search/tag/resource.service.name/values?{query}"),
        )
    };
    let both = json!([{"type": "string", "value": "db"}, {"type": "string", "value": "shop"}]);
    assert_eq!(values_q("{}"), both);
    // `q` narrows to the spans that meet it: only shop's failed span has a 500 ...
    assert_eq!(
        values_q("{span.http.response.status_code=500}"),
        json!([{"type": "string", "value": "shop"}])
    );
    assert_eq!(
        values_q("{kind=client || name=\"nothing\"}"),
        json!([{"type": "string", "value": "db"}])
    );
    // ... and an incomplete one (typed so far in the editor) narrows nothing, as in Tempo.
    assert_eq!(values_q("{span.http.route = }"), both);
    // Names too: no span of service "nobody", no span attribute names.
    for (service, names) in [
        (
            "db",
            json!(["http.response.status_code", "http.route", "retries"]),
        ),
        ("nobody", json!([])),
    ] {
        let filter = format!("{{resource.service.name=\"{service}\"}}");
        let q = go_query(&[("q", &filter), ("scope", "span")]);
        let (_, body) = get_json(server, &format!("/api/v2/search/tags?{q}"), &[]);
        assert_eq!(body["scopes"][0]["tags"], names, "{body}");
    }
    assert_eq!(
        tag_values(server, "/api/v2/search/tag/span.retries/values"),
        json!([
            {"type": "int", "value": "1"},
            {"type": "int", "value": "2"},
            {"type": "int", "value": "3"},
            {"type": "int", "value": "4"}
        ])
    );
    assert_eq!(
        tag_values(
            server,
            "/api/v2/search/tag/.http.response.status_code/values"
        ),
        json!([{"type": "int", "value": "200"}, {"type": "int", "value": "500"}])
    );
    assert_eq!(
        tag_values(server, "/api/v2/search/tag/status/values"),
        json!([
            {"type": "keyword", "value": "ok"},
            {"type": "keyword", "value": "error"},
            {"type": "keyword", "value": "unset"}
        ])
    );
    assert_eq!(
        tag_values(server, "/api/v2/search/tag/name/values"),
        json!([
            {"type": "string", "value": "GET /cart"},
            {"type": "string", "value": "SELECT"},
            {"type": "string", "value": "render"}
        ])
    );
    assert_eq!(
        tag_values(server, "/api/v2/search/tag/rootServiceName/values"),
        json!([{"type": "string", "value": "shop"}])
    );
    assert_eq!(
        tag_values(server, "/api/search/tag/service.name/values"),
        json!(["db", "shop"])
    );
    assert_eq!(
        tag_values(
            server,
            &format!("/api/search/tag/http.route/values?start={s}&end={e}")
        ),
        json!(["/cart"])
    );
    // Nothing in a window without spans.
    assert_eq!(
        tag_values(
            server,
            "/api/search/tag/http.route/values?start=1000&end=2000"
        ),
        json!([])
    );

    // Bad parameters.
    for path in [
        "/api/v2/search/tags?scope=bogus",
        "/api/v2/search/tags?start=soon&end=2",
        "/api/v2/search/tags?start=200&end=100",
        "/api/v2/search/tag/bogus/values",
        "/api/search/tags?limit=0",
    ] {
        let r = server.get(path, &[]).expect("GET");
        assert_eq!(r.status, 400, "{path}: {}", r.text());
    }
}

/// The search of Grafana's datasource: `createSearchRequest`, JSON.
fn search(server: &Server, pairs: &[(&str, &str)]) -> Json {
    let path = format!("/api/search?{}", go_query(pairs));
    let (status, body) = get_json(server, &path, &[ACCEPT_JSON]);
    assert_eq!(status, 200, "{path}: {body}");
    body
}

fn trace_ids(body: &Json) -> Vec<String> {
    let mut ids: Vec<String> = body["traces"]
        .as_array()
        .unwrap_or_else(|| panic!("no traces: {body}"))
        .iter()
        .map(|t| t["traceID"].as_str().expect("traceID").to_owned())
        .collect();
    ids.sort();
    ids
}

/// TraceQL and legacy searches.
fn check_search(server: &Server, t0_ns: u64) {
    let (s, e) = (t0_ns / 1_000_000_000 - 60, t0_ns / 1_000_000_000 + 60);
    let (s, e) = (s.to_string(), e.to_string());
    let w = |q: &'static str, limit: &'static str, spss: &'static str| {
        vec![("q", q), ("limit", limit), ("spss", spss)]
    };
    let with_window = |mut v: Vec<(&'static str, &'static str)>| -> Json {
        let (s, e) = (s.clone(), e.clone());
        let mut pairs: Vec<(&str, &str)> = std::mem::take(&mut v);
        pairs.push(("start", &s));
        pairs.push(("end", &e));
        search(server, &pairs)
    };

    // The failed request: one trace, its one matching span, Tempo's fields.
    let body = with_window(w(
        "{resource.service.name=\"shop\" && status=error}",
        "20",
        "3",
    ));
    let traces = body["traces"].as_array().expect("traces");
    assert_eq!(traces.len(), 1, "{body}");
    let t = &traces[0];
    assert_eq!(t["traceID"], hex(0xbb, 16));
    assert_eq!(t["rootServiceName"], "shop");
    assert_eq!(t["rootTraceName"], "GET /cart");
    assert_eq!(t["startTimeUnixNano"], (t0_ns + 10_000_000_000).to_string());
    assert_eq!(t["durationMs"], 5);
    assert_eq!(
        t["spanSet"], t["spanSets"][0],
        "spanSet repeats the first spanset"
    );
    let set = &t["spanSets"][0];
    assert_eq!(set["matched"], 1);
    let span = &set["spans"][0];
    assert_eq!(span["spanID"], hex(3, 8));
    assert_eq!(span["name"], "GET /cart");
    assert_eq!(
        span["startTimeUnixNano"],
        (t0_ns + 10_000_000_000).to_string()
    );
    assert_eq!(span["durationNanos"], "5000000");
    let attrs = span["attributes"].as_array().expect("attributes");
    assert!(
        attrs.contains(&json!({"key": "status", "value": {"stringValue": "error"}})),
        "{attrs:?}"
    );
    assert!(
        attrs.contains(&json!({"key": "service.name", "value": {"stringValue": "shop"}})),
        "{attrs:?}"
    );

    // Everything; a limit; spans per spanset.
    assert_eq!(
        trace_ids(&with_window(w("{}", "20", "3"))),
        vec![hex(0xaa, 16), hex(0xbb, 16)]
    );
    assert_eq!(trace_ids(&with_window(w("{}", "1", "3"))).len(), 1);
    let body = with_window(w("{resource.service.name=\"shop\"}", "20", "1"));
    let aa = body["traces"]
        .as_array()
        .expect("traces")
        .iter()
        .find(|t| t["traceID"] == hex(0xaa, 16))
        .unwrap_or_else(|| panic!("{body}"))
        .clone();
    assert_eq!(aa["spanSets"][0]["matched"], 2);
    assert_eq!(aa["spanSets"][0]["spans"].as_array().map(Vec::len), Some(1));
    // A well-known column and a span kind; a structural query.
    let body = with_window(w("{span.http.route=\"/cart\" && kind=client}", "20", "3"));
    assert_eq!(trace_ids(&body), vec![hex(0xaa, 16)]);
    assert_eq!(
        body["traces"][0]["spanSets"][0]["spans"][0]["spanID"],
        hex(4, 8)
    );
    let body = with_window(w(
        "{resource.service.name=\"shop\"} >> {resource.service.name=\"db\"}",
        "20",
        "3",
    ));
    assert_eq!(trace_ids(&body), vec![hex(0xaa, 16)]);
    // Outside the window: nothing.
    let body = search(server, &[("q", "{}"), ("start", "1000"), ("end", "2000")]);
    assert_eq!(body["traces"], json!([]));

    // Legacy tag search, as Grafana's older search sent it (tags, minDuration, limit,
    // start, end; encodeURIComponent).
    let path = format!(
        "/api/search?tags=%20service.name%3D%22shop%22&minDuration=40ms&limit=20&start={s}&end={e}"
    );
    let (status, body) = get_json(server, &path, &[]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(trace_ids(&body), vec![hex(0xaa, 16)]);
}

/// Series of a `QueryRangeResponse`, asserted 200.
fn query_range(server: &Server, q: &str, s: &str, e: &str, step: &str) -> Vec<Json> {
    let path = format!(
        "/api/metrics/query_range?{}",
        go_query(&[("q", q), ("start", s), ("end", e), ("step", step)])
    );
    let (status, body) = get_json(server, &path, &[ACCEPT_JSON]);
    assert_eq!(status, 200, "{q}: {body}");
    body["series"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .clone()
}

/// The labels of a series as (key, string value).
fn labels(series: &Json) -> Vec<(String, Json)> {
    series["labels"]
        .as_array()
        .expect("labels")
        .iter()
        .map(|l| {
            (
                l["key"].as_str().expect("key").to_owned(),
                l["value"].clone(),
            )
        })
        .collect()
}

/// TraceQL metrics, with the queries Traces Drilldown builds (`generateMetricsQuery`,
/// primary signal "Server spans", no filters) and the step its query runner sets.
fn check_metrics(server: &Server, t0_ns: u64) {
    let (s, e) = (t0_ns / 1_000_000_000 - 60, t0_ns / 1_000_000_000 + 60);
    let (s, e) = (s.to_string(), e.to_string());

    let series = query_range(
        server,
        "{kind=server && true && resource.service.name != nil} | rate() by(resource.service.name)",
        &s,
        &e,
        "30s",
    );
    assert_eq!(series.len(), 1, "{series:?}");
    assert_eq!(
        labels(&series[0]),
        vec![(
            "resource.service.name".to_owned(),
            json!({"stringValue": "shop"})
        )]
    );
    assert_eq!(series[0]["promLabels"], "{resource.service.name=\"shop\"}");
    let samples = series[0]["samples"].as_array().expect("samples");
    let mut spans = 0.0;
    for sample in samples {
        let ms: i64 = sample["timestampMs"]
            .as_str()
            .expect("timestampMs is a string")
            .parse()
            .expect("ms");
        assert_eq!(ms % 30_000, 0, "on the step grid: {sample}");
        spans += sample["value"].as_f64().unwrap_or(0.0) * 30.0;
    }
    assert!((spans - 2.0).abs() < 1e-9, "two server spans: {samples:?}");

    let series = query_range(
        server,
        "{kind=server && true && status=error} | rate() ",
        &s,
        &e,
        "30s",
    );
    assert_eq!(series.len(), 1, "{series:?}");
    let errors: f64 = series[0]["samples"]
        .as_array()
        .expect("samples")
        .iter()
        .map(|x| x["value"].as_f64().unwrap_or(0.0) * 30.0)
        .sum();
    assert!((errors - 1.0).abs() < 1e-9, "{series:?}");

    let series = query_range(
        server,
        "{kind=server && true} | quantile_over_time(duration, 0.9) ",
        &s,
        &e,
        "30s",
    );
    assert!(!series.is_empty());
    for x in &series {
        assert!(labels(x).iter().any(|(k, _)| k == "p"), "{x}");
        // Steps with spans hold a duration in seconds, from Tempo's power-of-two buckets
        // around the two spans' 5 and 50 ms (at most 2^26 ns); empty steps are 0.
        let values: Vec<f64> = x["samples"]
            .as_array()
            .expect("samples")
            .iter()
            .map(|v| v["value"].as_f64().expect("value"))
            .filter(|v| *v != 0.0)
            .collect();
        assert!(!values.is_empty(), "{x}");
        for v in values {
            assert!((0.004..=0.068).contains(&v), "seconds: {v}");
        }
    }

    // Instant: one value per series over the whole range.
    let path = format!(
        "/api/metrics/query?{}",
        go_query(&[
            (
                "q",
                "{true && true} | count_over_time() by(resource.service.name)"
            ),
            ("start", &s),
            ("end", &e),
        ])
    );
    let (status, body) = get_json(server, &path, &[ACCEPT_JSON]);
    assert_eq!(status, 200, "{body}");
    let mut got: Vec<(String, f64)> = body["series"]
        .as_array()
        .expect("series")
        .iter()
        .map(|x| {
            assert!(x.get("promLabels").is_none(), "{x}");
            let l = labels(x);
            (
                l[0].1["stringValue"].as_str().expect("service").to_owned(),
                x["value"].as_f64().expect("value"),
            )
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, vec![("db".to_owned(), 1.0), ("shop".to_owned(), 3.0)]);
}

/// Bad input: 400s with a message, counted by route and code.
fn check_errors(server: &Server) {
    let long = format!("{{ .a = \"{}\" }}", "x".repeat(300));
    let search_bad: Vec<(String, &str)> = vec![
        (go_query(&[("q", "{ .a = }")]), "line 1, col 8"),
        (go_query(&[("q", &long)]), "max_traceql_length"),
        (go_query(&[("q", "{}"), ("tags", "a=b")]), "tags and q"),
        (go_query(&[("q", "{}"), ("limit", "-1")]), "limit"),
        (go_query(&[("q", "{}"), ("spss", "x")]), "spss"),
        (go_query(&[("q", "{} | rate()")]), "metrics"),
        (go_query(&[("tags", "a=\"open")]), "quote"),
        (
            go_query(&[("q", "{}"), ("start", "200"), ("end", "100")]),
            "start",
        ),
    ];
    for (q, why) in &search_bad {
        let r = server.get(&format!("/api/search?{q}"), &[]).expect("GET");
        assert_eq!(r.status, 400, "{q}: {}", r.text());
        assert!(r.text().contains(why), "{q}: {} lacks {why}", r.text());
    }
    for q in [
        go_query(&[("q", "{}")]),
        go_query(&[("q", "{} | rate()"), ("step", "0")]),
        go_query(&[("q", "{} | rate() by(")]),
        go_query(&[("q", &format!("{long} | rate()"))]),
        String::new(),
    ] {
        let r = server
            .get(&format!("/api/metrics/query_range?{q}"), &[])
            .expect("GET");
        assert_eq!(r.status, 400, "{q}: {}", r.text());
    }
    // Each refusal is counted.
    let metrics = server.get("/metrics", &[]).expect("GET").text();
    let line = format!(
        "strata_http_requests_total{{endpoint=\"/api/search\",code=\"400\"}} {}\n",
        search_bad.len()
    );
    assert!(metrics.contains(&line), "{line} in {metrics}");
}

/// Echo and build info (the datasource's health check).
fn check_health(server: &Server) {
    let r = server.get("/api/echo", &[]).expect("GET");
    assert_eq!((r.status, r.text()), (200, "echo".to_owned()));
    let (status, body) = get_json(server, "/api/status/buildinfo", &[]);
    assert_eq!(status, 200);
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
    for k in ["revision", "branch", "buildUser", "buildDate", "goVersion"] {
        assert!(body[k].is_string(), "{k}: {body}");
    }
}

fn send(server: &Server, headers: &[(&str, &str)], t0: u64) {
    // Trace 0xaa: shop GET /cart (server, 50 ms) -> shop render -> db SELECT (client).
    // Trace 0xbb, 10 s later: shop GET /cart (server, 5 ms), failed.
    let shop = spans_request(
        "shop",
        vec![
            span(0xaa, 1, None, "GET /cart", 2, t0, 50, false),
            span(0xaa, 2, Some(1), "render", 1, t0 + 1_000_000, 10, false),
            span(0xbb, 3, None, "GET /cart", 2, t0 + 10_000_000_000, 5, true),
        ],
    );
    let db = spans_request(
        "db",
        vec![span(
            0xaa,
            4,
            Some(1),
            "SELECT",
            3,
            t0 + 2_000_000,
            20,
            false,
        )],
    );
    for body in [shop, db] {
        let mut h = vec![PROTOBUF];
        h.extend_from_slice(headers);
        let r = server.post("/v1/traces", &h, &body).expect("spans");
        assert_eq!(r.status, 200, "{}", r.text());
    }
}

fn check(server: &Server, t0: u64) {
    check_health(server);
    check_traces(server, t0);
    check_tags(server, t0);
    check_search(server, t0);
    check_metrics(server, t0);
    check_errors(server);
}

#[test]
fn tempo_api_from_memory_and_from_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), CONFIG);
    server.wait_ready(common::READY);
    let t0 = u64::try_from(common::now_ms()).expect("now") * 1_000_000 - 120_000_000_000;
    send(&server, &[], t0);
    check(&server, t0);
    assert!(server.terminate().success());

    // After a restart: the shutdown flushed everything to Parquet.
    let server = Server::start(common::bin(), dir.path(), CONFIG);
    server.wait_ready(common::READY);
    check(&server, t0);
    assert!(server.terminate().success());
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// Tokens: acme's writer and reader, globex's read-write token, and an operator token
/// that may choose its tenant with `X-Scope-OrgID` (what Grafana sends when the
/// datasource has a tenant header configured).
const AUTH: &str = r#"
[[auth.tokens]]
sha256 = "SHA_ACME_WRITER"
tenant = "acme"
scopes = ["write"]
[[auth.tokens]]
sha256 = "SHA_ACME_READER"
tenant = "acme"
scopes = ["read"]
[[auth.tokens]]
sha256 = "SHA_GLOBEX"
tenant = "globex"
scopes = ["read", "write"]
[[auth.tokens]]
sha256 = "SHA_OPERATOR"
tenant = "acme"
scopes = ["read"]
choose_tenant = true
"#;

#[test]
fn tempo_api_auth_and_tenancy() {
    let config = AUTH
        .replace("SHA_ACME_WRITER", &sha256_hex("acme-writer"))
        .replace("SHA_ACME_READER", &sha256_hex("acme-reader"))
        .replace("SHA_GLOBEX", &sha256_hex("globex-rw"))
        .replace("SHA_OPERATOR", &sha256_hex("operator"));
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), &config);
    server.wait_ready(common::READY);
    let t0 = u64::try_from(common::now_ms()).expect("now") * 1_000_000 - 120_000_000_000;
    // acme gets the shop and db spans (traces 0xaa and 0xbb); globex one trace 0xee.
    send(&server, &[("Authorization", "Bearer acme-writer")], t0);
    let globex = spans_request(
        "billing",
        vec![span(0xee, 9, None, "charge", 2, t0, 7, false)],
    );
    let r = server
        .post(
            "/v1/traces",
            &[PROTOBUF, ("Authorization", "Bearer globex-rw")],
            &globex,
        )
        .expect("spans");
    assert_eq!(r.status, 200, "{}", r.text());

    let acme = ("Authorization", "Bearer acme-reader");
    let globex = ("Authorization", "Bearer globex-rw");
    let operator = ("Authorization", "Bearer operator");
    let trace = |id: u8, headers: &[(&str, &str)]| -> u16 {
        let mut h = vec![ACCEPT_PROTOBUF];
        h.extend_from_slice(headers);
        server
            .get(&format!("/api/v2/traces/{}", hex(id, 16)), &h)
            .expect("GET")
            .status
    };

    // No token, a bad token: 401, on every route (the health check included).
    for path in ["/api/echo", "/api/search?q=%7B%7D", "/api/v2/search/tags"] {
        assert_eq!(server.get(path, &[]).expect("GET").status, 401, "{path}");
        let bad = [("Authorization", "Bearer nope")];
        assert_eq!(server.get(path, &bad).expect("GET").status, 401, "{path}");
    }
    assert_eq!(trace(0xaa, &[]), 401);
    let r = server.get("/api/echo", &[acme]).expect("GET");
    assert_eq!((r.status, r.text()), (200, "echo".to_owned()));
    // A write-only token may not read.
    assert_eq!(trace(0xaa, &[("Authorization", "Bearer acme-writer")]), 403);

    // Each token sees its own tenant only.
    assert_eq!(trace(0xaa, &[acme]), 200);
    assert_eq!(trace(0xee, &[acme]), 404);
    assert_eq!(trace(0xee, &[globex]), 200);
    assert_eq!(trace(0xaa, &[globex]), 404);
    // X-Scope-OrgID: refused for a bound token naming another tenant, obeyed for a
    // token that may choose.
    assert_eq!(trace(0xee, &[acme, ("X-Scope-OrgID", "globex")]), 403);
    assert_eq!(trace(0xee, &[operator, ("X-Scope-OrgID", "globex")]), 200);
    assert_eq!(trace(0xaa, &[operator, ("X-Scope-OrgID", "globex")]), 404);
    assert_eq!(trace(0xaa, &[operator]), 200, "its own tenant by default");

    let values = |headers: &[(&str, &str)]| -> Json {
        let (status, body) = get_json(
            &server,
            "/api/v2/search/tag/resource.service.name/values",
            headers,
        );
        assert_eq!(status, 200, "{body}");
        body["tagValues"].clone()
    };
    assert_eq!(
        values(&[acme]),
        json!([{"type": "string", "value": "db"}, {"type": "string", "value": "shop"}])
    );
    assert_eq!(
        values(&[globex]),
        json!([{"type": "string", "value": "billing"}])
    );
    assert_eq!(
        values(&[operator, ("X-Scope-OrgID", "globex")]),
        json!([{"type": "string", "value": "billing"}])
    );
    let (s, e) = (t0 / 1_000_000_000 - 60, t0 / 1_000_000_000 + 60);
    let q = go_query(&[
        ("q", "{}"),
        ("start", &s.to_string()),
        ("end", &e.to_string()),
    ]);
    let (status, body) = get_json(&server, &format!("/api/search?{q}"), &[globex]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(trace_ids(&body), vec![hex(0xee, 16)]);
    assert!(server.terminate().success());
}
