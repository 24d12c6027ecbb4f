use std::io::Write;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
};

use super::*;
use crate::ingest::otlp::decompress;

const METRICS_JSON: &[u8] = include_bytes!("testdata/metrics.json");
const TRACE_JSON: &[u8] = include_bytes!("testdata/trace.json");
const LOGS_JSON: &[u8] = include_bytes!("testdata/logs.json");

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).expect("in-memory write");
    enc.finish().expect("in-memory finish")
}

fn gauge_request() -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric {
                    name: "queue.depth".into(),
                    data: Some(Data::Gauge(Gauge {
                        data_points: vec![NumberDataPoint {
                            attributes: vec![KeyValue {
                                key: "queue".into(),
                                value: Some(AnyValue {
                                    value: Some(Value::StringValue("jobs".into())),
                                }),
                                ..Default::default()
                            }],
                            time_unix_nano: 1_700_000_000_123_456_789,
                            value: Some(Number::AsInt(-7)),
                            ..Default::default()
                        }],
                    })),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

#[test]
fn protobuf_round_trip() {
    let req = gauge_request();
    let body = req.encode_to_vec();
    let back = decode_metrics(&body, Encoding::Protobuf).expect("valid protobuf");
    assert_eq!(back, req);
}

#[test]
fn the_specs_metrics_example_decodes() {
    let req = decode_metrics(METRICS_JSON, Encoding::Json).expect("spec example");
    let rm = &req.resource_metrics[0];
    let attrs = &rm.resource.as_ref().expect("resource").attributes;
    assert_eq!(attrs[0].key, "service.name");
    let sm = &rm.scope_metrics[0];
    assert_eq!(sm.scope.as_ref().map(|s| s.version.as_str()), Some("1.0.0"));
    assert_eq!(sm.metrics.len(), 3);
    match &sm.metrics[0].data {
        Some(Data::Sum(s)) => {
            assert_eq!(s.aggregation_temporality, 1);
            assert!(s.is_monotonic);
            assert_eq!(s.data_points[0].value, Some(Number::AsDouble(5.0)));
            assert_eq!(s.data_points[0].time_unix_nano, 1_544_712_660_300_000_000);
        }
        other => panic!("sum expected, got {other:?}"),
    }
    assert!(
        matches!(&sm.metrics[1].data, Some(Data::Gauge(g)) if g.data_points[0].value == Some(Number::AsDouble(10.0)))
    );
    match &sm.metrics[2].data {
        Some(Data::Histogram(h)) => {
            let p = &h.data_points[0];
            assert_eq!(
                (p.count, p.sum, p.min, p.max),
                (3, Some(3.0), Some(1.0), Some(1.0))
            );
            assert_eq!(p.bucket_counts, vec![1, 1, 1]);
            assert_eq!(p.explicit_bounds, vec![1.0]);
        }
        other => panic!("histogram expected, got {other:?}"),
    }
}

#[test]
fn json_int64_fields_may_be_strings_and_unknown_keys_are_ignored() {
    let body = br#"{"resourceMetrics":[{"futureField":{"x":1},"scopeMetrics":[{"metrics":[
        {"name":"h","histogram":{"aggregationTemporality":2,"dataPoints":[{
            "timeUnixNano":"1700000000000000000","count":"5","bucketCounts":["2","3"],
            "explicitBounds":[0.5],"attributes":[{"key":"k","value":{"intValue":"-12"}}]}]}},
        {"name":"g","gauge":{"dataPoints":[{"timeUnixNano":"1","asInt":"9007199254740993","unknown":true}]}}
    ]}]}]}"#;
    let req = decode_metrics(body, Encoding::Json).expect("OTLP/JSON with string int64s");
    let metrics = &req.resource_metrics[0].scope_metrics[0].metrics;
    match &metrics[0].data {
        Some(Data::Histogram(h)) => {
            let p = &h.data_points[0];
            assert_eq!(p.time_unix_nano, 1_700_000_000_000_000_000);
            assert_eq!(p.count, 5);
            assert_eq!(p.bucket_counts, vec![2, 3]);
            let v = p.attributes[0].value.as_ref().and_then(|v| v.value.clone());
            assert_eq!(v, Some(Value::IntValue(-12)));
        }
        other => panic!("histogram expected, got {other:?}"),
    }
    match &metrics[1].data {
        // 2^53 + 1: exact only if read as an integer, not through a double.
        Some(Data::Gauge(g)) => {
            assert_eq!(
                g.data_points[0].value,
                Some(Number::AsInt(9_007_199_254_740_993))
            )
        }
        other => panic!("gauge expected, got {other:?}"),
    }
}

#[test]
fn the_specs_trace_example_decodes_with_hex_ids() {
    let req = decode_traces(TRACE_JSON, Encoding::Json).expect("spec example");
    let span = &req.resource_spans[0].scope_spans[0].spans[0];
    assert_eq!(
        span.trace_id,
        vec![
            0x5B, 0x8E, 0xFF, 0xF7, 0x98, 0x03, 0x81, 0x03, 0xD2, 0x69, 0xB6, 0x33, 0x81, 0x3F,
            0xC6, 0x0C
        ]
    );
    assert_eq!(
        span.span_id,
        vec![0xEE, 0xE1, 0x9B, 0x7E, 0xC3, 0xC1, 0xB1, 0x74]
    );
    assert_eq!(span.kind, 2);
    assert_eq!(
        span.end_time_unix_nano - span.start_time_unix_nano,
        1_000_000_000
    );
}

#[test]
fn the_specs_logs_example_decodes() {
    let req = decode_logs_request(LOGS_JSON, Encoding::Json).expect("spec example");
    let rec = &req.resource_logs[0].scope_logs[0].log_records[0];
    assert_eq!(rec.severity_text, "Information");
    assert_eq!(rec.attributes.len(), 6);
    let int = rec.attributes[2]
        .value
        .as_ref()
        .and_then(|v| v.value.clone());
    assert_eq!(int, Some(Value::IntValue(10)));
    assert!(matches!(
        rec.attributes[5].value.as_ref().and_then(|v| v.value.as_ref()),
        Some(Value::KvlistValue(kv)) if kv.values[0].key == "some.map.key"
    ));
}

#[test]
fn malformed_bodies_are_clear_errors() {
    let e = decode_metrics(b"\xff\xff\xff\xff", Encoding::Protobuf).expect_err("garbage");
    assert!(
        matches!(
            e,
            OtlpError::Protobuf {
                signal: "metrics",
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string().starts_with("invalid OTLP metrics protobuf"),
        "{e}"
    );

    // A valid request cut short.
    let body = gauge_request().encode_to_vec();
    let e = decode_metrics(&body[..body.len() - 3], Encoding::Protobuf).expect_err("truncated");
    assert!(matches!(e, OtlpError::Protobuf { .. }), "{e:?}");

    let e = decode_metrics(&METRICS_JSON[..100], Encoding::Json).expect_err("truncated JSON");
    assert!(e.to_string().contains("line"), "{e}");
    let e = decode_metrics(br#"{"resourceMetrics": 5}"#, Encoding::Json).expect_err("wrong type");
    assert!(
        matches!(
            e,
            OtlpError::Json {
                signal: "metrics",
                ..
            }
        ),
        "{e:?}"
    );
    let e = decode_traces(
        br#"{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"not-hex"}]}]}]}"#,
        Encoding::Json,
    )
    .expect_err("bad trace id");
    assert!(e.to_string().starts_with("invalid OTLP traces JSON"), "{e}");
    let e = decode_metrics(METRICS_JSON, Encoding::Protobuf).expect_err("JSON sent as protobuf");
    assert!(matches!(e, OtlpError::Protobuf { .. }), "{e:?}");
}

#[test]
fn a_malformed_metric_body_is_an_error_not_a_metric_without_data() {
    // `data` is a flattened oneof: a wrong shape inside it must not decode as "no data".
    let body = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
        {"name":"g","gauge":{"dataPoints":"oops"}}]}]}]}"#;
    let got = decode_metrics(body, Encoding::Json);
    assert!(
        matches!(
            got,
            Err(OtlpError::MalformedMetricData { kind: "gauge", .. })
        ),
        "{got:?}"
    );
    // A metric that really has no data still decodes (translation reports it).
    let body = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g"}]}]}]}"#;
    let req = decode_metrics(body, Encoding::Json).expect("valid, if useless");
    assert_eq!(
        req.resource_metrics[0].scope_metrics[0].metrics[0].data,
        None
    );
}

#[test]
fn content_types() {
    assert_eq!(
        Encoding::from_content_type("application/x-protobuf"),
        Some(Encoding::Protobuf)
    );
    assert_eq!(
        Encoding::from_content_type("Application/JSON; charset=utf-8"),
        Some(Encoding::Json)
    );
    assert_eq!(Encoding::from_content_type("text/plain"), None);
    assert_eq!(Encoding::Json.content_type(), "application/json");
}

#[test]
fn identity_and_gzip() {
    let body = gauge_request().encode_to_vec();
    assert_eq!(
        decompress(&body, None, body.len()).expect("fits").as_ref(),
        body.as_slice()
    );
    assert_eq!(
        decompress(&body, Some("identity"), 1 << 20)
            .expect("fits")
            .as_ref(),
        body.as_slice()
    );
    let e = decompress(&body, None, body.len() - 1).expect_err("over the limit");
    assert!(matches!(e, OtlpError::BodyTooLarge { .. }), "{e:?}");

    let gz = gzip(&body);
    let plain = decompress(&gz, Some("GZIP"), body.len()).expect("exactly at the limit");
    assert_eq!(
        decode_metrics(&plain, Encoding::Protobuf).ok(),
        Some(gauge_request())
    );
    // Its trailer says so: refused without inflating; a trailer lying short, after
    // inflating to the limit.
    let e = decompress(&gz, Some("gzip"), body.len() - 1).expect_err("inflates past the limit");
    assert!(
        matches!(e, OtlpError::DeclaredTooLarge { limit, .. } if limit == body.len() - 1),
        "{e:?}"
    );
    let mut lying = gz.clone();
    let n = lying.len();
    lying[n - 4..].copy_from_slice(&1u32.to_le_bytes());
    let e = decompress(&lying, Some("gzip"), body.len() - 1).expect_err("inflates past the limit");
    assert!(
        matches!(e, OtlpError::BodyTooLarge { limit } if limit == body.len() - 1),
        "{e:?}"
    );

    let e = decompress(&gz, Some("br"), 1 << 20).expect_err("brotli");
    assert_eq!(
        e.to_string(),
        "unsupported content encoding \"br\": use gzip or identity"
    );
}

#[test]
fn truncated_or_corrupt_gzip_is_an_error() {
    let gz = gzip(METRICS_JSON);
    for cut in [1, 10, gz.len() / 2, gz.len() - 4] {
        // A cut body's last 4 bytes are taken for its trailer: when they declare more
        // than the limit, it is refused as too large, without inflating it.
        let e = decompress(&gz[..cut], Some("gzip"), 1 << 20).expect_err("truncated");
        assert!(
            matches!(
                e,
                OtlpError::Gzip { .. } | OtlpError::DeclaredTooLarge { .. }
            ),
            "cut at {cut}: {e:?}"
        );
    }
    let mut bad = gz.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    let e = decompress(&bad, Some("gzip"), 1 << 20).expect_err("corrupt");
    assert!(matches!(e, OtlpError::Gzip { .. }), "{e:?}");
    let e = decompress(b"plain text", Some("gzip"), 1 << 20).expect_err("not gzip");
    assert!(e.to_string().starts_with("invalid gzip body"), "{e}");
}

/// proto3 JSON's quoted non-finite doubles decode to the doubles, in every double field,
/// while a string attribute spelled `"NaN"` stays a string. Compared as protobuf bytes, so
/// NaN compares by its bits.
#[test]
fn json_quoted_nonfinite_doubles_decode_everywhere() {
    use opentelemetry_proto::tonic::metrics::v1::{Histogram, HistogramDataPoint};
    let json = br#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[
        {"name":"g","gauge":{"dataPoints":[
            {"timeUnixNano":"1","asDouble":"NaN","attributes":[
                {"key":"d","value":{"doubleValue":"-Infinity"}},
                {"key":"s","value":{"stringValue":"NaN"}}]},
            {"timeUnixNano":"2","asDouble":"Infinity"},
            {"timeUnixNano":"3","asDouble":"-Infinity"},
            {"timeUnixNano":"4","asDouble":9007199254740881}]}},
        {"name":"h","histogram":{"aggregationTemporality":2,"dataPoints":[
            {"timeUnixNano":"5","count":"2","sum":"NaN","min":"-Infinity","max":"Infinity",
             "bucketCounts":["1","1"],"explicitBounds":["-Infinity"]}]}}]}]}]}"#;
    let got = decode_metrics(json, Encoding::Json).expect("valid OTLP/JSON");
    let kv = |key: &str, v: Value| KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..Default::default()
    };
    let point = |t: u64, v: f64| NumberDataPoint {
        time_unix_nano: t,
        value: Some(Number::AsDouble(v)),
        ..Default::default()
    };
    let mut first = point(1, f64::NAN);
    first.attributes = vec![
        kv("d", Value::DoubleValue(f64::NEG_INFINITY)),
        kv("s", Value::StringValue("NaN".into())),
    ];
    let want = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    Metric {
                        name: "g".into(),
                        data: Some(Data::Gauge(Gauge {
                            data_points: vec![
                                first,
                                point(2, f64::INFINITY),
                                point(3, f64::NEG_INFINITY),
                                // A real value equal to the first sentinel set: kept as it is
                                // (the next set stands in for the non-finite values).
                                point(4, 9_007_199_254_740_881.0),
                            ],
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "h".into(),
                        data: Some(Data::Histogram(Histogram {
                            aggregation_temporality: 2,
                            data_points: vec![HistogramDataPoint {
                                time_unix_nano: 5,
                                count: 2,
                                sum: Some(f64::NAN),
                                min: Some(f64::NEG_INFINITY),
                                max: Some(f64::INFINITY),
                                bucket_counts: vec![1, 1],
                                explicit_bounds: vec![f64::NEG_INFINITY],
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    assert_eq!(got.encode_to_vec(), want.encode_to_vec(), "{got:?}");
}

#[test]
fn json_quoted_nonfinite_doubles_decode_in_spans_and_logs() {
    let traces = br#"{"resourceSpans":[{"resource":{"attributes":[
        {"key":"r","value":{"doubleValue":"Infinity"}}]},"scopeSpans":[{"spans":[
        {"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","name":"s",
         "attributes":[{"key":"a","value":{"arrayValue":{"values":[{"doubleValue":"NaN"},
            {"doubleValue":1.5}]}}}],
         "events":[{"name":"e","attributes":[{"key":"x","value":{"doubleValue":"-Infinity"}}]}]}
    ]}]}]}"#;
    let got = decode_traces(traces, Encoding::Json).expect("valid OTLP/JSON");
    let rs = &got.resource_spans[0];
    let double = |kv: &KeyValue| match kv.value.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Value::DoubleValue(d)) => *d,
        other => panic!("not a double: {other:?}"),
    };
    let resource = rs.resource.as_ref().expect("resource");
    assert_eq!(double(&resource.attributes[0]), f64::INFINITY);
    let span = &rs.scope_spans[0].spans[0];
    let Some(Value::ArrayValue(items)) = span.attributes[0]
        .value
        .as_ref()
        .and_then(|v| v.value.clone())
    else {
        panic!("not an array: {:?}", span.attributes[0]);
    };
    assert!(matches!(items.values[0].value, Some(Value::DoubleValue(d)) if d.is_nan()));
    assert!(matches!(items.values[1].value, Some(Value::DoubleValue(d)) if d == 1.5));
    assert_eq!(double(&span.events[0].attributes[0]), f64::NEG_INFINITY);

    let logs = br#"{"resourceLogs":[{"scopeLogs":[{"logRecords":[
        {"timeUnixNano":"1","body":{"doubleValue":"-Infinity"}},
        {"timeUnixNano":"2","body":{"stringValue":"Infinity"}}]}]}]}"#;
    let got = decode_logs_request(logs, Encoding::Json).expect("valid OTLP/JSON");
    let records = &got.resource_logs[0].scope_logs[0].log_records;
    assert_eq!(
        records[0].body.as_ref().and_then(|b| b.value.clone()),
        Some(Value::DoubleValue(f64::NEG_INFINITY))
    );
    assert_eq!(
        records[1].body.as_ref().and_then(|b| b.value.clone()),
        Some(Value::StringValue("Infinity".into())),
        "a string that spells a non-finite double stays a string"
    );
}

/// A body that is not JSON but holds a spelling still fails with the decoder's error.
#[test]
fn json_with_a_nonfinite_spelling_but_malformed_is_still_a_json_error() {
    let err = decode_metrics(br#"{"resourceMetrics":[{"asDouble":"NaN""#, Encoding::Json)
        .expect_err("malformed");
    assert!(matches!(err, OtlpError::Json { .. }), "{err}");
}
