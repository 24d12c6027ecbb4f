//! OTLP metrics into the real `strata` binary over OTLP/HTTP (protobuf, and gzipped JSON),
//! read back through the Prometheus API; partial success counts, a gzip bomb, bad bodies.
//! Spans and logs are `otlp_traces_logs.rs`. gRPC is `otlp_grpc.rs`, a real SDK
//! `otel_sdk.rs`.

mod common;

use std::io::Write;

use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use strata_tests::server::Server;

const PROTOBUF: (&str, &str) = ("Content-Type", "application/x-protobuf");

fn attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn point(ts_ms: i64, v: f64) -> NumberDataPoint {
    NumberDataPoint {
        time_unix_nano: (ts_ms as u64) * 1_000_000,
        value: Some(Value::AsDouble(v)),
        ..Default::default()
    }
}

/// One resource (`service.name` = `service`) with a cumulative counter `name` (unit
/// bytes) and, when `delta`, a delta sum the Prometheus mapping refuses.
fn request(
    service: &str,
    name: &str,
    points: Vec<NumberDataPoint>,
    delta: bool,
) -> ExportMetricsServiceRequest {
    let mut metrics = vec![Metric {
        name: name.into(),
        unit: "By".into(),
        data: Some(Data::Sum(Sum {
            data_points: points.clone(),
            aggregation_temporality: AggregationTemporality::Cumulative as i32,
            is_monotonic: true,
        })),
        ..Default::default()
    }];
    metrics.push(Metric {
        name: format!("{name}.gauge"),
        data: Some(Data::Gauge(Gauge {
            data_points: points.clone(),
        })),
        ..Default::default()
    });
    if delta {
        metrics.push(Metric {
            name: "delta.things".into(),
            data: Some(Data::Sum(Sum {
                data_points: points,
                aggregation_temporality: AggregationTemporality::Delta as i32,
                is_monotonic: true,
            })),
            ..Default::default()
        });
    }
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    attr("service.name", service),
                    attr("service.instance.id", "i-1"),
                ],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn query(server: &Server, q: &str, t_ms: i64) -> String {
    server.instant_query(q, t_ms, &[]).text()
}

#[test]
fn otlp_metrics_over_http_read_back_through_promql() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = "[server]\nmax_body_bytes = 1048576\n";
    let server = Server::start(common::bin(), dir.path(), config);
    server.wait_ready(common::READY);
    let now = common::now_ms();

    // OTLP/HTTP protobuf: the counter and gauge are stored, the delta sum is refused and
    // counted in partial_success.
    let points = vec![point(now - 2_000, 10.0), point(now - 1_000, 12.5)];
    let body = request("shop", "http.sent", points, true).encode_to_vec();
    let resp = server
        .post("/v1/metrics", &[PROTOBUF], &body)
        .expect("post");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("content-type"), Some("application/x-protobuf"));
    let answer = ExportMetricsServiceResponse::decode(resp.body.as_slice()).expect("response");
    let partial = answer.partial_success.expect("partial success");
    assert_eq!(partial.rejected_data_points, 2, "{}", partial.error_message);
    assert!(
        partial.error_message.contains("delta"),
        "{}",
        partial.error_message
    );

    let got = query(&server, "http_sent_bytes_total", now);
    assert!(
        got.contains(r#""job":"shop""#) && got.contains(r#""12.5""#),
        "{got}"
    );
    let got = query(&server, "http_sent_gauge", now);
    assert!(got.contains(r#""12.5""#), "{got}");
    let got = query(&server, "delta_things_total", now);
    assert!(
        got.contains(r#""result":[]"#),
        "a refused point was stored: {got}"
    );

    // OTLP/JSON, gzip-compressed, answered in JSON.
    let json = format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"json"}}}}]}},"scopeMetrics":[{{"metrics":[{{"name":"queue.depth","gauge":{{"dataPoints":[{{"timeUnixNano":"{}","asInt":"42"}}]}}}}]}}]}}]}}"#,
        (now - 200) * 1_000_000
    );
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(json.as_bytes()).expect("gzip");
    let gz = gz.finish().expect("gzip");
    let headers = [
        ("Content-Type", "application/json"),
        ("Content-Encoding", "gzip"),
    ];
    let resp = server.post("/v1/metrics", &headers, &gz).expect("post");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let got = query(&server, r#"queue_depth{job="json"}"#, now);
    assert!(got.contains(r#""42""#), "{got}");

    // proto3 JSON's quoted non-finite doubles are values, not missing ones.
    let json = format!(
        r#"{{"resourceMetrics":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"json"}}}}]}},"scopeMetrics":[{{"metrics":[{{"name":"ratio","gauge":{{"dataPoints":[{{"timeUnixNano":"{t}","asDouble":"Infinity","attributes":[{{"key":"k","value":{{"stringValue":"inf"}}}}]}},{{"timeUnixNano":"{t}","asDouble":"NaN","attributes":[{{"key":"k","value":{{"stringValue":"nan"}}}}]}}]}}}}]}}]}}]}}"#,
        t = (now - 200) * 1_000_000
    );
    let resp = server
        .post(
            "/v1/metrics",
            &[("Content-Type", "application/json")],
            json.as_bytes(),
        )
        .expect("post");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(!resp.text().contains("rejected"), "{}", resp.text());
    let got = query(&server, r#"ratio{k="inf"}"#, now);
    assert!(got.contains(r#""+Inf""#), "{got}");
    let got = query(&server, r#"ratio{k="nan"}"#, now);
    assert!(got.contains(r#""NaN""#), "{got}");

    // A gzip bomb: 64 MiB of zeros in ~64 KiB, over the 1 MiB limit once inflated: one
    // gzip member of 1 MiB repeated 64 times (gzip bodies may hold several members), which
    // spares the test compressing 64 MiB with an unoptimised deflate (~30 s).
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![0u8; 1 << 20]).expect("gzip");
    let bomb = gz.finish().expect("gzip").repeat(64);
    assert!(bomb.len() < 1 << 20);
    let headers = [PROTOBUF, ("Content-Encoding", "gzip")];
    let resp = server.post("/v1/metrics", &headers, &bomb).expect("post");
    assert_eq!(resp.status, 413, "{}", resp.text());

    // Malformed protobuf: 400; a wrong content type: 415.
    let resp = server
        .post("/v1/metrics", &[PROTOBUF], b"\xff\xff\xff")
        .expect("post");
    assert_eq!(resp.status, 400);
    let resp = server
        .post("/v1/metrics", &[("Content-Type", "text/plain")], b"x")
        .expect("post");
    assert_eq!(resp.status, 415);

    // Spans and logs are stored (`otlp_traces_logs.rs`): an empty export is a success with
    // nothing to report, a malformed one a 400.
    for path in ["/v1/traces", "/v1/logs"] {
        let resp = server.post(path, &[PROTOBUF], b"").expect("post");
        assert_eq!(resp.status, 200, "{path}: {}", resp.text());
        assert!(resp.body.is_empty(), "{path}: {:?}", resp.body);
        let resp = server.post(path, &[PROTOBUF], b"\xff\xff").expect("post");
        assert_eq!(resp.status, 400, "{path}: {}", resp.text());
    }
    assert!(server.terminate().success());
}
