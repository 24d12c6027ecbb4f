//! The mapping against the real engine: translated series are stored and read back, and the
//! engine's rejections reach `partial_success`.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value::Value};
use opentelemetry_proto::tonic::metrics::v1::{
    Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint, ResourceMetrics, ScopeMetrics,
    metric::Data, number_data_point,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use strata_engine::{
    Clock, Engine, EngineConfig, Limits, MatchOp, Matcher, RejectReason, SystemClock, TenantId,
};

use crate::ingest::otlp::{TranslateOptions, partial_success, translate_metrics};

fn kv(key: &str, v: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(Value::StringValue(v.into())),
        }),
        ..Default::default()
    }
}

#[test]
fn translated_series_are_stored_and_engine_rejections_are_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    // Three labels at most (`__name__` counts): histogram buckets, with `le`, have four.
    let config = EngineConfig {
        limits: Limits {
            max_labels_per_series: 3,
            ..Limits::default()
        },
        ..EngineConfig::default()
    };
    let engine = Engine::open(dir.path(), config).expect("engine");
    let tenant = TenantId::new("acme").expect("tenant id");
    let now_ms = SystemClock.now_ms();
    let t = u64::try_from(now_ms).expect("after 1970") * 1_000_000 + 999_999;

    let req = ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![kv("service.name", "api"), kv("host.name", "web-3")],
                ..Default::default()
            }),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![
                    Metric {
                        name: "queue.depth".into(),
                        data: Some(Data::Gauge(Gauge {
                            data_points: vec![NumberDataPoint {
                                time_unix_nano: t,
                                value: Some(number_data_point::Value::AsInt(17)),
                                ..Default::default()
                            }],
                        })),
                        ..Default::default()
                    },
                    Metric {
                        name: "latency".into(),
                        unit: "s".into(),
                        data: Some(Data::Histogram(Histogram {
                            data_points: vec![HistogramDataPoint {
                                attributes: vec![kv("route", "/a")],
                                time_unix_nano: t,
                                count: 2,
                                sum: Some(0.75),
                                bucket_counts: vec![1, 1],
                                explicit_bounds: vec![0.5],
                                ..Default::default()
                            }],
                            aggregation_temporality: 2,
                        })),
                        ..Default::default()
                    },
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    };

    let translated = translate_metrics(&req, &TranslateOptions::default());
    assert_eq!(translated.rejected_points, 0, "{:?}", translated.errors);
    let outcome = engine.write(&tenant, &translated.series).expect("write");
    // queue_depth, target_info, latency_seconds_sum and _count stored; both buckets rejected.
    assert_eq!(outcome.accepted, 4);
    assert_eq!(outcome.rejected.get(&RejectReason::TooManyLabels), Some(&2));

    let resp = partial_success(&translated, &outcome);
    let p = resp.partial_success.expect("rejections reported");
    assert_eq!(p.rejected_data_points, 2);
    assert!(
        p.error_message.contains("too_many_labels"),
        "{}",
        p.error_message
    );

    let read = |name: &str| {
        let m = Matcher::new("__name__", MatchOp::Equal, name).expect("matcher");
        engine
            .select(&tenant, &[m], now_ms - 1000, now_ms + 1000)
            .expect("select")
    };
    let depth = read("queue_depth");
    assert_eq!(depth.len(), 1);
    assert_eq!(depth[0].labels.get("job"), Some("api"));
    assert_eq!(depth[0].samples[0].ts, now_ms);
    assert_eq!(depth[0].samples[0].value, 17.0);
    let info = read("target_info");
    assert_eq!(info[0].labels.get("host_name"), Some("web-3"));
    assert_eq!(read("latency_seconds_sum")[0].samples[0].value, 0.75);
    assert!(read("latency_seconds_bucket").is_empty());
    engine.close().expect("close");
}
