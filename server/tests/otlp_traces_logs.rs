//! OTLP spans and log records into the real `strata` binary with hand-built requests, where
//! the SDK (`otel_sdk_traces.rs`) cannot go: invalid ids (wrong length, all zeros) rejected
//! per record and counted in `partial_success` and the self-metrics; a huge attribute
//! truncated and a too-deep one dropped, both reported; nesting past the decoders' limits
//! and malformed bodies refused with 400 / INVALID_ARGUMENT; the tenant's records/s rate
//! answered 429 + Retry-After / UNAVAILABLE + RetryInfo; the OTLP specification's JSON
//! examples stored field by field. The ingest memory budget is `otlp_ingest_budget.rs`. Stored
//! data is read back with the engine after SIGTERM.

mod common;
mod otlp_common;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::LogRecord as OtlpLog;
use opentelemetry_proto::tonic::trace::v1::Span;
use otlp_common::*;
use prost::Message;
use strata_engine::{AnyValue, Engine, EngineConfig, TenantId};
use strata_tests::server::{Server, data_dir};
use tonic::Code;
use tonic_types::StatusExt;

const CAPS: &str = "[limits]\nmax_attribute_value_len = 64\nmax_attribute_depth = 4\n";

#[test]
fn bad_ids_are_rejected_and_counted_and_caps_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), CAPS);
    server.wait_ready(common::READY);

    let huge = "x".repeat(10_000);
    let good = [7u8; 16];
    let req = traces(vec![
        span(
            &good,
            &[1; 8],
            "huge",
            vec![kv("blob", Value::StringValue(huge.clone()))],
        ),
        span(
            &good,
            &[2; 8],
            "deep",
            vec![kv("ok", Value::IntValue(1)), kv("deep", nested(6))],
        ),
        span(&[7; 8], &[3; 8], "short-trace", vec![]),
        span(&[0; 16], &[4; 8], "zero-trace", vec![]),
        span(&good, &[0; 8], "zero-span", vec![]),
        span(&good, &[5; 9], "long-span", vec![]),
    ]);
    let resp = server
        .post("/v1/traces", &[PROTOBUF], &req.encode_to_vec())
        .expect("post");
    assert_eq!(resp.status, 200, "{}", resp.text());
    let partial = ExportTraceServiceResponse::decode(resp.body.as_slice())
        .expect("an OTLP response")
        .partial_success
        .expect("partial_success set");
    assert_eq!(partial.rejected_spans, 4, "{}", partial.error_message);
    let msg = &partial.error_message;
    for part in [
        "2 spans rejected: invalid_trace_id (span \"short-trace\" of service \"api\": trace id: \
         id has 8 bytes, expected 16",
        "2 spans rejected: invalid_span_id (span \"zero-span\" of service \"api\": span id: id \
         is all zeros",
        "2 truncations in stored spans by the tenant's attribute caps (stored, not rejected): \
         attribute_too_deep 1, value_truncated 1",
    ] {
        assert!(msg.contains(part), "{part:?} in {msg:?}");
    }
    let metric = |reason: &str| {
        self_metric(
            &server,
            &format!(
                "strata_rejected_samples_total{{tenant=\"default\",signal=\"traces\",reason=\"{reason}\"}}"
            ),
        )
    };
    assert_eq!(metric("invalid_trace_id"), 2.0);
    assert_eq!(metric("invalid_span_id"), 2.0);
    assert_eq!(
        self_metric(
            &server,
            "strata_truncated_total{tenant=\"default\",signal=\"traces\",kind=\"value_truncated\"}"
        ),
        1.0
    );
    // The two stored spans are in memory (no flush in the default 10 min), counted against
    // max_head_bytes as they hold them: the 10,000-byte value as capped, not as sent.
    let held = |signal: &str| {
        self_metric(
            &server,
            &format!("strata_records_memory_bytes{{tenant=\"default\",signal=\"{signal}\"}}"),
        )
    };
    let spans = held("traces");
    assert!((400.0..5_000.0).contains(&spans), "{spans} bytes");
    assert_eq!(held("logs"), 0.0);

    gzipped_json_ids_are_rejected_alike(&server);
    log_trace_ids_checked_and_leaves_capped(&server, &huge);

    let status = server.terminate();
    assert!(status.success(), "{status}");
    let data = data_dir(dir.path());
    let engine = Engine::open(&data, EngineConfig::default()).expect("open");
    let tenant = TenantId::new("default").expect("tenant");
    let stored = engine
        .find_trace(&tenant, good, 0, i64::MAX)
        .expect("find_trace");
    engine.close().expect("close");
    let names: Vec<&str> = stored.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let by_name = |n: &str| stored.iter().find(|s| s.name == n).expect("stored");
    let huge_span = by_name("huge");
    assert_eq!(
        huge_span.attributes,
        vec![("blob".into(), AnyValue::String(huge[..64].to_owned()))]
    );
    let deep_span = by_name("deep");
    assert_eq!(deep_span.attributes, vec![("ok".into(), AnyValue::Int(1))]);
    assert_eq!(deep_span.dropped_attributes_count, 1);
    assert_eq!(deep_span.service_name, "api");

    let mut stored_logs = common::read_logs(&data, &EngineConfig::default(), "default");
    stored_logs.sort_by_key(|r| r.trace_id.is_some());
    assert_eq!(stored_logs.len(), 2);
    assert_eq!(stored_logs[0].service_name, "unknown_service");
    assert!(
        matches!(&stored_logs[0].body, Some(AnyValue::KvList(_))),
        "{:?}",
        stored_logs[0].body
    );
    assert_eq!(
        stored_logs[1].body,
        Some(AnyValue::String(huge[..64].to_owned()))
    );
}

/// The same over gzipped OTLP/JSON: ids are hex, a wrong length is the same rejection.
fn gzipped_json_ids_are_rejected_alike(server: &Server) {
    let json =
        serde_json::to_vec(&traces(vec![span(&[9; 15], &[1; 8], "j", vec![])])).expect("json");
    assert!(
        String::from_utf8_lossy(&json).contains("\"traceId\":\"090909"),
        "ids are hex in OTLP/JSON"
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &json).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let resp = server
        .post("/v1/traces", &[JSON, ("Content-Encoding", "gzip")], &gz)
        .expect("post");
    assert_eq!(resp.status, 200, "{}", resp.text());
    let body: serde_json::Value = serde_json::from_slice(&resp.body).expect("json response");
    assert_eq!(body["partialSuccess"]["rejectedSpans"], 1, "{body}");
}

/// Logs: a set trace id must be valid; none is fine. The body is never dropped for depth,
/// its leaves are capped.
fn log_trace_ids_checked_and_leaves_capped(server: &Server, huge: &str) {
    let req = logs(vec![
        log(&[], nested(6)),
        log(&[1; 16], Value::StringValue(huge.to_owned())),
        log(&[0; 16], Value::BoolValue(true)),
    ]);
    let resp = server
        .post("/v1/logs", &[PROTOBUF], &req.encode_to_vec())
        .expect("post");
    assert_eq!(resp.status, 200, "{}", resp.text());
    let partial = ExportLogsServiceResponse::decode(resp.body.as_slice())
        .expect("an OTLP response")
        .partial_success
        .expect("partial_success set");
    assert_eq!(partial.rejected_log_records, 1, "{}", partial.error_message);
    assert!(
        partial.error_message.contains(
            "1 log records rejected: invalid_trace_id (log record of service \
             \"unknown_service\": trace id: id is all zeros"
        ),
        "{}",
        partial.error_message
    );
    assert!(
        partial.error_message.contains("value_truncated 1"),
        "{}",
        partial.error_message
    );
}

#[test]
fn nesting_past_the_decoders_and_malformed_bodies_are_400_and_store_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);

    // 200 levels: past prost's recursion limit (100) and serde_json's (128).
    let deep = traces(vec![span(
        &[1; 16],
        &[1; 8],
        "deep",
        vec![kv("a", nested(200))],
    )]);
    let resp = server
        .post("/v1/traces", &[PROTOBUF], &deep.encode_to_vec())
        .expect("post");
    assert_eq!(resp.status, 400, "{}", resp.text());
    assert!(resp.header("content-type") == Some("application/x-protobuf"));
    let json = format!(
        "{{\"resourceSpans\":[{{\"scopeSpans\":[{{\"spans\":[{{\"traceId\":\"{}\",\"spanId\":\"{}\",\
         \"attributes\":[{{\"key\":\"a\",\"value\":{}{}}}]}}]}}]}}]}}",
        "01".repeat(16),
        "01".repeat(8),
        "{\"arrayValue\":{\"values\":[".repeat(200),
        "]}}".repeat(200)
    );
    let resp = server
        .post("/v1/traces", &[JSON], json.as_bytes())
        .expect("post");
    assert_eq!(resp.status, 400, "{}", resp.text());
    let err: serde_json::Value = serde_json::from_slice(&resp.body).expect("a JSON Status");
    assert!(
        err["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("invalid OTLP traces JSON: recursion limit")),
        "{err}"
    );

    for (path, ct, body) in [
        ("/v1/traces", PROTOBUF, &b"\x0a\xff\xff"[..]),
        ("/v1/logs", PROTOBUF, &b"\x0a\x05\x0a"[..]),
        ("/v1/traces", JSON, &b"{\"resourceSpans\": [{"[..]),
        ("/v1/logs", JSON, &b"{\"resourceLogs\": 7}"[..]),
        // Ids in OTLP/JSON are hex, not base64.
        (
            "/v1/traces",
            JSON,
            &br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"AQEBAQEBAQEBAQEBAQEBAQ==","spanId":"0101010101010101"}]}]}]}"#[..],
        ),
    ] {
        let resp = server.post(path, &[ct], body).expect("post");
        assert_eq!(resp.status, 400, "{path} {ct:?}: {}", resp.text());
    }
    let status = server.terminate();
    assert!(status.success(), "{status}");
    assert!(
        common::read_spans(&data_dir(dir.path()), &EngineConfig::default(), "default").is_empty()
    );
    assert!(
        common::read_logs(&data_dir(dir.path()), &EngineConfig::default(), "default").is_empty()
    );
}

#[test]
fn the_specs_json_examples_are_stored_field_by_field() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The examples are from 2018: keep them.
    let config = "[retention]\ntraces = \"36500d\"\nlogs = \"36500d\"\n";
    let server = Server::start(common::bin(), dir.path(), config);
    server.wait_ready(common::READY);
    for (path, file) in [
        ("/v1/traces", "src/ingest/otlp/testdata/trace.json"),
        ("/v1/logs", "src/ingest/otlp/testdata/logs.json"),
    ] {
        let body = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
            .expect("the example");
        let resp = server.post(path, &[JSON], &body).expect("post");
        assert_eq!(resp.status, 200, "{path}: {}", resp.text());
        assert_eq!(resp.text(), "{}", "{path}: nothing to report");
    }
    let status = server.terminate();
    assert!(status.success(), "{status}");

    // Opened with the server's configuration: the default retention would drop them.
    let engine_config = strata_server::Config::from_toml(config)
        .expect("config")
        .engine;
    let data = data_dir(dir.path());
    let spans = common::read_spans(&data, &engine_config, "default");
    assert_eq!(spans.len(), 1, "{spans:?}");
    let s = &spans[0];
    let trace_id: [u8; 16] = [
        0x5B, 0x8E, 0xFF, 0xF7, 0x98, 0x03, 0x81, 0x03, 0xD2, 0x69, 0xB6, 0x33, 0x81, 0x3F, 0xC6,
        0x0C,
    ];
    assert_eq!(s.trace_id, trace_id);
    assert_eq!(s.span_id, [0xEE, 0xE1, 0x9B, 0x7E, 0xC3, 0xC1, 0xB1, 0x74]);
    assert_eq!(
        s.parent_span_id,
        Some([0xEE, 0xE1, 0x9B, 0x7E, 0xC3, 0xC1, 0xB1, 0x73])
    );
    assert_eq!(
        (s.name.as_str(), s.kind, s.service_name.as_str()),
        ("I'm a server span", 2, "my.service")
    );
    assert_eq!(
        (s.start_ns, s.end_ns),
        (1_544_712_660_000_000_000, 1_544_712_661_000_000_000)
    );
    assert_eq!(
        (s.scope.name.as_str(), s.scope.version.as_str()),
        ("my.library", "1.0.0")
    );
    let logs = common::read_logs(&data, &engine_config, "default");
    assert_eq!(logs.len(), 1, "{logs:?}");
    let l = &logs[0];
    assert_eq!((l.trace_id, l.span_id), (Some(trace_id), Some(s.span_id)));
    assert_eq!(l.body, Some(AnyValue::String("Example log record".into())));
    let types: Vec<Option<&str>> = l.attributes.iter().map(|(_, v)| v.type_name()).collect();
    assert_eq!(
        types,
        [
            None,
            Some("bool"),
            Some("int"),
            Some("double"),
            Some("array"),
            Some("kvlist")
        ]
    );
    assert_eq!(l.attributes[3].1, AnyValue::Double(637.704));
}

#[test]
fn over_the_record_rate_is_429_and_unavailable_with_retry_info() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A bucket of 2 spans refilled at 1/s, for tenant `slow` only.
    let config = "[limits.tenants.slow]\nsignal_record_rate = 1\nsignal_record_burst = 2\n";
    let server = Server::start(common::bin(), dir.path(), config);
    server.wait_ready(common::READY);
    let five = |first: u8| {
        traces(
            (first..first + 5)
                .map(|i| span(&[i; 16], &[i; 8], "op", vec![]))
                .collect(),
        )
    };
    let slow = ("X-Scope-OrgID", "slow");
    let resp = server
        .post("/v1/traces", &[PROTOBUF, slow], &five(1).encode_to_vec())
        .expect("post");
    assert_eq!(resp.status, 429, "{}", resp.text());
    assert_eq!(
        resp.header("retry-after"),
        Some(strata_server::RETRY_AFTER_SECS.to_string().as_str())
    );
    assert!(
        resp.text().contains(
            "over the tenant's ingest rate, retry the request: 3 of 5 spans were not stored"
        ),
        "{}",
        resp.text()
    );
    // Other tenants keep the defaults.
    let resp = server
        .post("/v1/traces", &[PROTOBUF], &five(1).encode_to_vec())
        .expect("post");
    assert_eq!(resp.status, 200, "{}", resp.text());

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (partial, status) = rt.block_on(async {
        let mut client = TraceServiceClient::connect(format!("http://{}", server.grpc))
            .await
            .expect("connect");
        // A bad id over gRPC: the same partial_success as over HTTP.
        let bad = traces(vec![span(&[0; 16], &[1; 8], "zero", vec![])]);
        let partial = client
            .export(bad)
            .await
            .expect("a partial success is OK")
            .into_inner()
            .partial_success;
        let mut req = tonic::Request::new(five(10));
        req.metadata_mut()
            .insert("x-scope-orgid", "slow".parse().expect("ascii"));
        (partial, client.export(req).await)
    });
    let partial = partial.expect("partial_success set");
    assert_eq!(partial.rejected_spans, 1, "{}", partial.error_message);
    assert!(partial.error_message.contains("invalid_trace_id"));
    let status = status.expect_err("over the rate");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    // The bucket refilled a little since the HTTP request: parse how many were refused.
    let refused: u64 = status
        .message()
        .strip_prefix("over the tenant's ingest rate, retry the request: ")
        .and_then(|m| m.split_once(" of 5 spans were not stored"))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("{status:?}"));
    assert!((3..=5).contains(&refused), "{status:?}");
    assert_eq!(
        status.get_details_retry_info().and_then(|r| r.retry_delay),
        Some(std::time::Duration::from_secs(
            strata_server::RETRY_AFTER_SECS
        )),
        "{status:?}"
    );
    drop(rt);
    assert_eq!(
        self_metric(
            &server,
            "strata_rejected_samples_total{tenant=\"slow\",signal=\"traces\",reason=\"rate_limited\"}"
        ),
        (3 + refused) as f64
    );
    let status = server.terminate();
    assert!(status.success(), "{status}");
}

/// A body of many tiny records expands ~100× once decoded (an empty log record is 2 bytes
/// of protobuf and ~200 as a struct; a 60 MB body of them once took 6.2 GB): more than
/// 500,000 records, or 4 M JSON objects, are refused with 413 / `RESOURCE_EXHAUSTED`
/// before decoding, counted, and nothing is stored.
#[test]
fn requests_of_too_many_tiny_records_are_413_and_store_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    let over = 500_001;
    let empty_spans = traces(vec![Span::default(); over]).encode_to_vec();
    let empty_logs = logs(vec![OtlpLog::default(); over]).encode_to_vec();
    let empty_points = [
        // ExportMetricsServiceRequest → ResourceMetrics → ScopeMetrics → Metric "m" → Gauge
        // → empty data points, written out: opentelemetry-proto's Gauge is not imported here.
        framed(
            0x0a,
            &framed(
                0x12,
                &framed(0x12, &{
                    let gauge = [0x0a, 0x00].repeat(over);
                    [framed(0x0a, b"m"), framed(0x2a, &gauge)].concat()
                }),
            ),
        ),
    ]
    .concat();
    let json_objects = format!("{{\"resourceLogs\":[{}]}}", "{},".repeat(4_000_000) + "{}");
    for (path, ct, body, what) in [
        ("/v1/traces", PROTOBUF, &empty_spans[..], "500001 spans"),
        ("/v1/logs", PROTOBUF, &empty_logs[..], "500001 log records"),
        (
            "/v1/metrics",
            PROTOBUF,
            &empty_points[..],
            "500001 data points",
        ),
        (
            "/v1/logs",
            JSON,
            json_objects.as_bytes(),
            "4000002 JSON objects",
        ),
    ] {
        let resp = server.post(path, &[ct], body).expect("post");
        assert_eq!(resp.status, 413, "{path}: {}", resp.text());
        assert!(
            resp.text()
                .contains(&format!("request holds {what}, over the limit")),
            "{path}: {}",
            resp.text()
        );
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let status = rt.block_on(async {
        let mut client = TraceServiceClient::connect(format!("http://{}", server.grpc))
            .await
            .expect("connect");
        client
            .export(traces(vec![Span::default(); over]))
            .await
            .expect_err("too many spans")
    });
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(status.message().contains("500001 spans"), "{status:?}");

    // Refusals are counted; the server goes on storing.
    for path in ["/v1/traces", "/v1/logs", "/v1/metrics"] {
        let series = format!("strata_http_requests_total{{endpoint=\"{path}\",code=\"413\"}}");
        assert!(self_metric(&server, &series) >= 1.0, "{series}");
    }
    let one = traces(vec![span(&[7; 16], &[7; 8], "after", vec![])]);
    let resp = server
        .post("/v1/traces", &[PROTOBUF], &one.encode_to_vec())
        .expect("post");
    assert_eq!(resp.status, 200, "{}", resp.text());
    let status = server.terminate();
    assert!(status.success(), "{status}");
    let spans = common::read_spans(&data_dir(dir.path()), &EngineConfig::default(), "default");
    assert_eq!(spans.len(), 1, "only the last span is stored");
    assert!(
        common::read_logs(&data_dir(dir.path()), &EngineConfig::default(), "default").is_empty()
    );
}

/// A length-delimited protobuf field: `key`, the length as a varint, `payload`.
fn framed(key: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![key];
    prost::encoding::encode_varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}
