//! Shared by the Tempo API tests (`tempo_api.rs`, `tempo_auth.rs`): the spans they send
//! over OTLP/HTTP, Tempo's `TraceByIDResponse` to decode, and requests built as Grafana's
//! Go datasource builds them (`url.Values.Encode()`).

#![allow(dead_code, unreachable_pub)]

pub mod search;

use base64::Engine as _;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, InstrumentationScope, KeyValue, any_value::Value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, Link};
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, TracesData};
use prost::Message;
use serde_json::Value as Json;
use strata_tests::server::Server;

/// A TraceQL length limit the test can pass (Tempo's default is 128 KiB).
pub const CONFIG: &str = "[tempo]\nmax_traceql_length = 200\n";

pub const PROTOBUF: (&str, &str) = ("Content-Type", "application/x-protobuf");
pub const ACCEPT_PROTOBUF: (&str, &str) = ("Accept", "application/protobuf");
pub const ACCEPT_JSON: (&str, &str) = ("Accept", "application/json");

/// Tempo's `TraceByIDResponse` (`pkg/tempopb/tempo.proto`), to decode v2 answers.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TraceByIdResponse {
    #[prost(message, optional, tag = "1")]
    pub trace: Option<TracesData>,
    #[prost(int32, tag = "3")]
    pub status: i32,
    #[prost(string, tag = "4")]
    pub message: String,
}

pub fn kv(key: &str, v: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    }
}

/// A span of trace `t` (all bytes `t`), id `s`, child of `parent`, with an int `retries`
/// attribute `s`, `http.route`, and `http.response.status_code` (200, or 500 on error).
#[allow(clippy::too_many_arguments)]
pub fn span(
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

/// A request of `service`'s `spans`, their instrumentation scope `tempo-test` 1 with the
/// attributes `team` = `team-<service>` and `shard` = 1 (an int).
pub fn spans_request(service: &str, spans: Vec<Span>) -> Vec<u8> {
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
                scope: Some(InstrumentationScope {
                    name: "tempo-test".into(),
                    version: "1".into(),
                    attributes: vec![
                        kv("team", Value::StringValue(format!("team-{service}"))),
                        kv("shard", Value::IntValue(1)),
                    ],
                    ..Default::default()
                }),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

/// Go's `url.QueryEscape`: unreserved bytes kept, space as `+`, the rest `%XX`.
pub fn query_escape(s: &str) -> String {
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
pub fn go_query(pairs: &[(&str, &str)]) -> String {
    let mut pairs = pairs.to_vec();
    pairs.sort_by_key(|(k, _)| *k);
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", query_escape(k), query_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn get_json(server: &Server, path: &str, headers: &[(&str, &str)]) -> (u16, Json) {
    let r = server.get(path, headers).expect("GET");
    let body = serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {}", r.text()));
    (r.status, body)
}

pub fn hex(b: u8, n: usize) -> String {
    format!("{b:02x}").repeat(n)
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Every span of decoded resource spans as (service, span).
pub fn flatten(rs: &[ResourceSpans]) -> Vec<(String, Span)> {
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

pub fn trace_ids(body: &Json) -> Vec<String> {
    let mut ids: Vec<String> = body["traces"]
        .as_array()
        .unwrap_or_else(|| panic!("no traces: {body}"))
        .iter()
        .map(|t| t["traceID"].as_str().expect("traceID").to_owned())
        .collect();
    ids.sort();
    ids
}

pub fn send(server: &Server, headers: &[(&str, &str)], t0: u64) {
    // Trace 0xaa: shop GET /cart (server, 50 ms) -> shop render (an event "cache miss",
    // cache.key = cart:1) -> db SELECT (client; a link to trace 0xbb, link.kind = retry).
    // Trace 0xbb, 10 s later: shop GET /cart (server, 5 ms), failed.
    let mut render = span(0xaa, 2, Some(1), "render", 1, t0 + 1_000_000, 10, false);
    render.events.push(Event {
        time_unix_nano: t0 + 2_000_000,
        name: "cache miss".into(),
        attributes: vec![kv("cache.key", Value::StringValue("cart:1".into()))],
        ..Default::default()
    });
    let shop = spans_request(
        "shop",
        vec![
            span(0xaa, 1, None, "GET /cart", 2, t0, 50, false),
            render,
            span(0xbb, 3, None, "GET /cart", 2, t0 + 10_000_000_000, 5, true),
        ],
    );
    let mut select = span(0xaa, 4, Some(1), "SELECT", 3, t0 + 2_000_000, 20, false);
    select.links.push(Link {
        trace_id: vec![0xbb; 16],
        span_id: vec![3; 8],
        attributes: vec![kv("link.kind", Value::StringValue("retry".into()))],
        ..Default::default()
    });
    let db = spans_request("db", vec![select]);
    for body in [shop, db] {
        let mut h = vec![PROTOBUF];
        h.extend_from_slice(headers);
        let r = server.post("/v1/traces", &h, &body).expect("spans");
        assert_eq!(r.status, 200, "{}", r.text());
    }
}
