use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as Number;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    ExponentialHistogram, ExponentialHistogramDataPoint, Gauge, Histogram, ResourceMetrics,
    ScopeMetrics, Sum, Summary,
};
use opentelemetry_proto::tonic::resource::v1::Resource;

use super::*;
use crate::ingest::otlp::decode::{Encoding, decode_metrics};
use crate::ingest::otlp::metrics::point::STALE_NAN;

const T0: u64 = 1_700_000_000_123_456_789; // ns
const T0_MS: i64 = 1_700_000_000_123;
const CUMULATIVE: i32 = AggregationTemporality::Cumulative as i32;
const DELTA: i32 = AggregationTemporality::Delta as i32;

fn kv(key: &str, v: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

fn request(resource: Vec<KeyValue>, metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: resource,
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "my.lib".into(),
                    version: "2.1".into(),
                    ..Default::default()
                }),
                metrics,
                schema_url: "https://opentelemetry.io/schemas/1.26.0".into(),
            }],
            schema_url: String::new(),
        }],
    }
}

fn metric(name: &str, unit: &str, data: Data) -> Metric {
    Metric {
        name: name.into(),
        unit: unit.into(),
        data: Some(data),
        ..Default::default()
    }
}

fn number(attrs: Vec<KeyValue>, t: u64, v: Number) -> NumberDataPoint {
    NumberDataPoint {
        attributes: attrs,
        time_unix_nano: t,
        value: Some(v),
        ..Default::default()
    }
}

fn translate(req: &ExportMetricsServiceRequest) -> Translated {
    translate_metrics(req, &TranslateOptions::default())
}

/// Series as (`name{a="b",...}`, samples), for readable assertions.
fn render(t: &Translated) -> Vec<(String, Vec<(i64, f64)>)> {
    let mut out: Vec<_> = t
        .series
        .iter()
        .map(|s| {
            let name = s
                .labels
                .iter()
                .find(|(k, _)| k == "__name__")
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            let rest: Vec<String> = s
                .labels
                .iter()
                .filter(|(k, _)| k != "__name__")
                .map(|(k, v)| format!("{k}={v:?}"))
                .collect();
            let samples = s.samples.iter().map(|x| (x.ts, x.value)).collect();
            (format!("{name}{{{}}}", rest.join(",")), samples)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn gauge(points: Vec<NumberDataPoint>) -> Data {
    Data::Gauge(Gauge {
        data_points: points,
    })
}

fn sum(monotonic: bool, temporality: i32, points: Vec<NumberDataPoint>) -> Data {
    Data::Sum(Sum {
        data_points: points,
        aggregation_temporality: temporality,
        is_monotonic: monotonic,
    })
}

#[test]
fn gauge_point_with_job_instance_and_millisecond_timestamp() {
    let req = request(
        vec![
            kv("service.name", "api"),
            kv("service.namespace", "shop"),
            kv("service.instance.id", "i-1"),
        ],
        vec![metric(
            "process.memory.usage",
            "By",
            gauge(vec![number(
                vec![kv("memory.type", "heap")],
                T0,
                Number::AsDouble(1.5e9),
            )]),
        )],
    );
    let t = translate(&req);
    assert_eq!(t.points, 1);
    assert_eq!(t.rejected_points, 0, "{:?}", t.errors);
    assert_eq!(
        render(&t),
        vec![(
            r#"process_memory_usage_bytes{instance="i-1",job="shop/api",memory_type="heap"}"#
                .to_owned(),
            vec![(T0_MS, 1.5e9)]
        )]
    );
}

#[test]
fn monotonic_cumulative_sum_gets_total_and_int_values_become_floats() {
    let req = request(
        vec![kv("service.name", "api")],
        vec![
            metric(
                "http.requests",
                "{request}",
                sum(
                    true,
                    CUMULATIVE,
                    vec![number(vec![], T0, Number::AsInt(42))],
                ),
            ),
            metric(
                "queue.items",
                "1",
                sum(
                    false,
                    CUMULATIVE,
                    vec![number(vec![], T0, Number::AsInt(-3))],
                ),
            ),
        ],
    );
    let t = translate(&req);
    assert_eq!(
        render(&t),
        vec![
            (
                r#"http_requests_total{job="api"}"#.to_owned(),
                vec![(T0_MS, 42.0)]
            ),
            (r#"queue_items{job="api"}"#.to_owned(), vec![(T0_MS, -3.0)]),
        ]
    );
}

#[test]
fn delta_and_unspecified_temporality_are_rejected_with_reasons() {
    let req = request(
        vec![],
        vec![
            metric(
                "a",
                "",
                sum(
                    true,
                    DELTA,
                    vec![
                        number(vec![], T0, Number::AsInt(1)),
                        number(vec![], T0 + 1, Number::AsInt(2)),
                    ],
                ),
            ),
            metric(
                "b",
                "",
                sum(false, 0, vec![number(vec![], T0, Number::AsInt(1))]),
            ),
            metric(
                "c",
                "s",
                Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        time_unix_nano: T0,
                        count: 1,
                        ..Default::default()
                    }],
                    aggregation_temporality: DELTA,
                }),
            ),
            metric(
                "ok",
                "",
                sum(true, CUMULATIVE, vec![number(vec![], T0, Number::AsInt(1))]),
            ),
        ],
    );
    let t = translate(&req);
    assert_eq!((t.points, t.rejected_points), (5, 4));
    assert_eq!(render(&t).len(), 1);
    assert!(
        t.errors[0].contains("\"a\": delta temporality"),
        "{:?}",
        t.errors
    );
    assert!(
        t.errors[1].contains("\"b\": unspecified temporality"),
        "{:?}",
        t.errors
    );
    assert!(
        t.errors[2].contains("\"c\": delta temporality"),
        "{:?}",
        t.errors
    );
}

#[test]
fn histogram_becomes_cumulative_buckets_sum_and_count() {
    let req = request(
        vec![kv("service.name", "api")],
        vec![metric(
            "http.server.request.duration",
            "s",
            Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    attributes: vec![kv("http.route", "/a")],
                    time_unix_nano: T0,
                    count: 10,
                    sum: Some(2.5),
                    bucket_counts: vec![1, 2, 3, 4],
                    explicit_bounds: vec![0.005, 0.1, 1.0],
                    ..Default::default()
                }],
                aggregation_temporality: CUMULATIVE,
            }),
        )],
    );
    let t = translate(&req);
    let s = |labels: &str, v: f64| {
        (
            format!("http_server_request_duration_seconds{labels}"),
            vec![(T0_MS, v)],
        )
    };
    assert_eq!(
        render(&t),
        vec![
            s(r#"_bucket{http_route="/a",job="api",le="+Inf"}"#, 10.0),
            s(r#"_bucket{http_route="/a",job="api",le="0.005"}"#, 1.0),
            s(r#"_bucket{http_route="/a",job="api",le="0.1"}"#, 3.0),
            s(r#"_bucket{http_route="/a",job="api",le="1"}"#, 6.0),
            s(r#"_count{http_route="/a",job="api"}"#, 10.0),
            s(r#"_sum{http_route="/a",job="api"}"#, 2.5),
        ]
    );
}

#[test]
fn histogram_without_sum_or_buckets_has_count_and_inf_bucket_only() {
    let req = request(
        vec![],
        vec![metric(
            "h",
            "",
            Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    time_unix_nano: T0,
                    count: 4,
                    ..Default::default()
                }],
                aggregation_temporality: CUMULATIVE,
            }),
        )],
    );
    let names: Vec<String> = render(&translate(&req))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, vec![r#"h_bucket{le="+Inf"}"#, "h_count{}"]);
}

#[test]
fn summary_becomes_quantiles_sum_and_count() {
    let req = request(
        vec![],
        vec![metric(
            "rpc.latency",
            "ms",
            Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: T0,
                    count: 7,
                    sum: 70.0,
                    quantile_values: vec![
                        ValueAtQuantile {
                            quantile: 0.5,
                            value: 9.0,
                        },
                        ValueAtQuantile {
                            quantile: 0.99,
                            value: 20.0,
                        },
                    ],
                    ..Default::default()
                }],
            }),
        )],
    );
    assert_eq!(
        render(&translate(&req)),
        vec![
            (
                r#"rpc_latency_milliseconds_count{}"#.to_owned(),
                vec![(T0_MS, 7.0)]
            ),
            (
                r#"rpc_latency_milliseconds_sum{}"#.to_owned(),
                vec![(T0_MS, 70.0)]
            ),
            (
                r#"rpc_latency_milliseconds{quantile="0.5"}"#.to_owned(),
                vec![(T0_MS, 9.0)]
            ),
            (
                r#"rpc_latency_milliseconds{quantile="0.99"}"#.to_owned(),
                vec![(T0_MS, 20.0)]
            ),
        ]
    );
}

#[test]
fn exponential_histograms_become_native_histograms() {
    use opentelemetry_proto::tonic::metrics::v1::exponential_histogram_data_point::Buckets;
    let point = |t: u64, scale: i32| ExponentialHistogramDataPoint {
        time_unix_nano: t,
        count: 3,
        sum: Some(2.5),
        scale,
        zero_count: 1,
        positive: Some(Buckets {
            offset: 0,
            bucket_counts: vec![2],
        }),
        exemplars: vec![opentelemetry_proto::tonic::metrics::v1::Exemplar {
            time_unix_nano: t,
            value: Some(exemplar::Value::AsDouble(1.5)),
            ..Default::default()
        }],
        ..Default::default()
    };
    let exp = |points, temporality| {
        Data::ExponentialHistogram(ExponentialHistogram {
            data_points: points,
            aggregation_temporality: temporality,
        })
    };
    let req = request(
        vec![],
        vec![
            metric(
                "latency",
                "s",
                exp(
                    vec![point(T0, 0), point(T0 + 1_000_000, 0), point(T0, -5)],
                    CUMULATIVE,
                ),
            ),
            metric("delta", "", exp(vec![point(T0, 0)], 1)),
        ],
    );
    let t = translate(&req);
    // Two stored; the scale -5 point and the delta one refused with their reasons.
    assert_eq!((t.points, t.rejected_points, t.series.len()), (4, 2, 0));
    assert!(
        t.errors
            .iter()
            .any(|e| e.contains("Scale must be >= -4, was -5")),
        "{:?}",
        t.errors
    );
    assert!(
        t.errors
            .iter()
            .any(|e| e.contains("delta temporality is not supported")),
        "{:?}",
        t.errors
    );
    assert_eq!(t.histograms.len(), 1);
    let s = &t.histograms[0];
    assert_eq!(
        s.labels,
        vec![("__name__".to_owned(), "latency_seconds".to_owned())]
    );
    let ts: Vec<i64> = s.histograms.iter().map(|h| h.ts).collect();
    assert_eq!(ts, vec![T0_MS, T0_MS + 1]);
    // OTel bucket 0 is Prometheus bucket 1.
    let h = &s.histograms[0].h;
    assert_eq!((h.schema, h.sum, h.zero_threshold), (0, 2.5, 1e-128));
    assert_eq!(
        h.positive_spans,
        vec![strata_engine::Span {
            offset: 1,
            length: 1
        }]
    );
    // The exemplars go to the histogram series itself.
    assert_eq!(t.exemplars.len(), 1);
    assert_eq!(t.exemplars[0].series, s.labels);
    assert_eq!(t.exemplars[0].exemplars.len(), 2);
}

#[test]
fn no_recorded_value_becomes_the_staleness_marker() {
    let stale_gauge = NumberDataPoint {
        flags: 1,
        value: None,
        ..number(vec![], T0, Number::AsInt(0))
    };
    let req = request(
        vec![],
        vec![
            metric("g", "", gauge(vec![stale_gauge])),
            metric(
                "h",
                "",
                Data::Histogram(Histogram {
                    data_points: vec![HistogramDataPoint {
                        time_unix_nano: T0,
                        flags: 1,
                        count: 2,
                        sum: Some(1.0),
                        bucket_counts: vec![1, 1],
                        explicit_bounds: vec![1.0],
                        ..Default::default()
                    }],
                    aggregation_temporality: CUMULATIVE,
                }),
            ),
        ],
    );
    let t = translate(&req);
    assert_eq!(t.rejected_points, 0, "{:?}", t.errors);
    assert_eq!(t.series.len(), 1 + 4);
    for s in &t.series {
        assert_eq!(s.samples.len(), 1);
        assert_eq!(s.samples[0].value.to_bits(), STALE_NAN, "{:?}", s.labels);
    }
}

#[test]
fn points_without_timestamp_or_value_are_rejected() {
    let no_value = NumberDataPoint {
        value: None,
        ..number(vec![], T0, Number::AsInt(0))
    };
    let req = request(
        vec![],
        vec![metric(
            "g",
            "",
            gauge(vec![
                number(vec![], 0, Number::AsInt(1)),
                no_value,
                number(vec![], T0, Number::AsInt(3)),
            ]),
        )],
    );
    let t = translate(&req);
    assert_eq!((t.points, t.rejected_points), (3, 2));
    assert_eq!(render(&t), vec![("g{}".to_owned(), vec![(T0_MS, 3.0)])]);
    assert!(
        t.errors[0].contains("without a timestamp"),
        "{:?}",
        t.errors
    );
    assert!(t.errors[1].contains("without a value"), "{:?}", t.errors);
}

#[test]
fn bad_names_reject_their_points() {
    let req = request(
        vec![],
        vec![
            metric(
                "...",
                "",
                gauge(vec![number(vec![], T0, Number::AsInt(1)); 2]),
            ),
            metric(
                "g",
                "",
                gauge(vec![number(vec![kv("__", "x")], T0, Number::AsInt(1))]),
            ),
        ],
    );
    let t = translate(&req);
    assert_eq!((t.points, t.rejected_points, t.series.len()), (3, 3, 0));
    assert!(
        t.errors[0].contains("normalises to the invalid name"),
        "{:?}",
        t.errors
    );
    assert!(t.errors[1].contains("invalid label name"), "{:?}", t.errors);
}

#[test]
fn equal_label_sets_share_one_series() {
    let pts = vec![
        number(vec![kv("k", "v")], T0, Number::AsInt(1)),
        number(vec![kv("k", "v")], T0 + 15_000_000_000, Number::AsInt(2)),
        number(vec![kv("k", "w")], T0, Number::AsInt(3)),
    ];
    let t = translate(&request(vec![], vec![metric("g", "", gauge(pts))]));
    assert_eq!(
        render(&t),
        vec![
            (
                r#"g{k="v"}"#.to_owned(),
                vec![(T0_MS, 1.0), (T0_MS + 15_000, 2.0)]
            ),
            (r#"g{k="w"}"#.to_owned(), vec![(T0_MS, 3.0)]),
        ]
    );
}

#[test]
fn target_info_carries_the_other_resource_attributes_over_the_time_range() {
    let minute = 60_000_000_000u64;
    let req = request(
        vec![
            kv("service.name", "api"),
            kv("service.instance.id", "i-1"),
            kv("host.name", "web-3"),
            kv("k8s.pod.name", "api-7f"),
        ],
        vec![metric(
            "g",
            "",
            gauge(vec![
                number(vec![], T0, Number::AsInt(1)),
                number(vec![], T0 + 10 * minute, Number::AsInt(1)),
            ]),
        )],
    );
    let t = translate(&req);
    let info = render(&t)
        .into_iter()
        .find(|(n, _)| n.starts_with("target_info"))
        .expect("target_info");
    assert_eq!(
        info.0,
        r#"target_info{host_name="web-3",instance="i-1",job="api",k8s_pod_name="api-7f"}"#
    );
    let step = 150_000; // half of the 5 min lookback delta
    let want: Vec<(i64, f64)> = (0..=4).map(|i| (T0_MS + i * step, 1.0)).collect();
    assert_eq!(info.1, want);
}

#[test]
fn no_target_info_without_other_attributes_or_without_job_and_instance() {
    let pts = || vec![number(vec![], T0, Number::AsInt(1))];
    let only_identifying = request(
        vec![kv("service.name", "api"), kv("service.namespace", "ns")],
        vec![metric("g", "", gauge(pts()))],
    );
    let no_identity = request(
        vec![kv("host.name", "web-3")],
        vec![metric("g", "", gauge(pts()))],
    );
    for req in [only_identifying, no_identity] {
        assert!(
            render(&translate(&req))
                .iter()
                .all(|(n, _)| !n.starts_with("target_info"))
        );
    }
    let off = TranslateOptions {
        target_info: false,
        ..Default::default()
    };
    let req = request(
        vec![kv("service.name", "api"), kv("host.name", "h")],
        vec![metric("g", "", gauge(pts()))],
    );
    assert_eq!(translate_metrics(&req, &off).series.len(), 1);
}

#[test]
fn target_info_samples_are_capped() {
    let year_ns = 365 * 24 * 3600 * 1_000_000_000u64;
    let req = request(
        vec![kv("service.name", "api"), kv("host.name", "h")],
        vec![metric(
            "g",
            "",
            gauge(vec![
                number(vec![], T0, Number::AsInt(1)),
                number(vec![], T0 + year_ns, Number::AsInt(1)),
            ]),
        )],
    );
    let t = translate(&req);
    let info = render(&t)
        .into_iter()
        .find(|(n, _)| n.starts_with("target_info"))
        .expect("target_info");
    assert_eq!(info.1.len(), 1000);
    assert_eq!(info.1.last().map(|s| s.0), Some(millis(T0 + year_ns)));
}

#[test]
fn scope_labels_only_when_promoted() {
    let req = request(
        vec![],
        vec![metric(
            "g",
            "",
            gauge(vec![number(vec![], T0, Number::AsInt(1))]),
        )],
    );
    assert_eq!(render(&translate(&req))[0].0, "g{}");
    let opts = TranslateOptions {
        promote_scope_metadata: true,
        ..Default::default()
    };
    assert_eq!(
        render(&translate_metrics(&req, &opts))[0].0,
        r#"g{otel_scope_name="my.lib",otel_scope_schema_url="https://opentelemetry.io/schemas/1.26.0",otel_scope_version="2.1"}"#
    );
}

#[test]
fn reasons_are_capped_but_counts_stay_exact() {
    let pts: Vec<NumberDataPoint> = (0..40)
        .map(|_| number(vec![], 0, Number::AsInt(1)))
        .collect();
    let t = translate(&request(vec![], vec![metric("g", "", gauge(pts))]));
    assert_eq!(t.rejected_points, 40);
    assert_eq!(t.errors.len(), 17);
    assert_eq!(t.errors[16], "... and 24 more");
}

#[test]
fn the_specs_metrics_example_end_to_end() {
    let req = decode_metrics(include_bytes!("../testdata/metrics.json"), Encoding::Json)
        .expect("spec example");
    let t = translate(&req);
    // The counter and the histogram are delta: Prometheus rejects them, and so do we.
    assert_eq!((t.points, t.rejected_points), (3, 2));
    assert_eq!(
        render(&t),
        vec![(
            r#"my_gauge_ratio{job="my.service",my_gauge_attr="some value"}"#.to_owned(),
            vec![(1_544_712_660_300, 10.0)]
        )]
    );
}

#[test]
fn explicit_histograms_become_nhcb_when_asked() {
    let point = |bucket_counts: Vec<u64>, bounds: Vec<f64>, flags: u32| HistogramDataPoint {
        attributes: vec![kv("http.route", "/a")],
        time_unix_nano: T0,
        count: bucket_counts.iter().sum(),
        sum: Some(2.5),
        bucket_counts,
        explicit_bounds: bounds,
        flags,
        ..Default::default()
    };
    let req = |p: HistogramDataPoint| {
        request(
            vec![kv("service.name", "api")],
            vec![metric(
                "latency",
                "s",
                Data::Histogram(Histogram {
                    data_points: vec![p],
                    aggregation_temporality: CUMULATIVE,
                }),
            )],
        )
    };
    let opts = TranslateOptions {
        convert_histograms_to_nhcb: true,
        ..Default::default()
    };
    // Buckets 1, 0, 3, 4 over bounds 0.005, 0.1, 1: the empty one is a gap between spans.
    let t = translate_metrics(
        &req(point(vec![1, 0, 3, 4], vec![0.005, 0.1, 1.0], 0)),
        &opts,
    );
    assert!(t.series.is_empty(), "no classic series: {:?}", render(&t));
    assert_eq!(t.histograms.len(), 1);
    let h = &t.histograms[0];
    let name = h
        .labels
        .iter()
        .find(|(n, _)| n == "__name__")
        .map(|(_, v)| v.as_str());
    assert_eq!(name, Some("latency_seconds"));
    let got = &h.histograms[0];
    assert_eq!(got.ts, T0_MS);
    let want = strata_engine::Histogram {
        schema: strata_engine::SCHEMA_CUSTOM,
        zero_threshold: 0.0,
        sum: 2.5,
        reset_hint: strata_engine::ResetHint::Unknown,
        positive_spans: vec![
            strata_engine::Span {
                offset: 0,
                length: 1,
            },
            strata_engine::Span {
                offset: 1,
                length: 2,
            },
        ],
        negative_spans: vec![],
        custom_values: vec![0.005, 0.1, 1.0],
        counts: strata_engine::Counts::Int {
            count: 8,
            zero_count: 0,
            positive_deltas: vec![1, 2, 1],
            negative_deltas: vec![],
        },
    };
    assert_eq!(*got.h, want);
    got.h.validate(160).expect("a valid histogram");
    // No recorded value: a staleness marker. Counts that do not fit the bounds: refused.
    let stale = translate_metrics(&req(point(vec![1, 1], vec![1.0], 1)), &opts);
    assert_eq!(
        stale.histograms[0].histograms[0].h.sum.to_bits(),
        0x7ff0_0000_0000_0002
    );
    let bad = translate_metrics(&req(point(vec![1, 1, 1], vec![1.0], 0)), &opts);
    assert_eq!((bad.histograms.len(), bad.rejected_points), (0, 1));
    // Without the option, the classic series.
    assert_eq!(
        translate(&req(point(vec![1, 1], vec![1.0], 0)))
            .series
            .len(),
        4
    );
}
