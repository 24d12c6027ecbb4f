//! The OpenTelemetry Rust SDK (`opentelemetry_sdk` + `opentelemetry-otlp` 0.33) exporting to
//! the real `strata` binary over OTLP/gRPC, OTLP/HTTP protobuf and OTLP/HTTP JSON: a counter,
//! an up-down counter, a gauge and a histogram with attributes, from a resource with
//! `service.name` and `service.instance.id`, read back through PromQL under the names and
//! labels of `docs/otlp-mapping.md`.
//!
//! The HTTP exporter uses opentelemetry-otlp's hyper client (the reqwest ones would bring a
//! second HTTP stack). An async client needs a tokio runtime to export on, so the metrics go
//! through the SDK's tokio-driven `PeriodicReader` (`periodic_reader_with_async_runtime`);
//! `force_flush` exports at once, so no test waits for an interval.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry_otlp::{MetricExporter, Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::metrics::SdkMeterProvider;
use opentelemetry_sdk::metrics::periodic_reader_with_async_runtime::PeriodicReader;
use strata_tests::server::Server;

const SERVICE: &str = "checkout";
const INSTANCE: &str = "pod-1";

#[derive(Debug, Clone, Copy)]
enum Transport {
    Grpc,
    HttpProtobuf,
    HttpJson,
}

fn exporter(server: &Server, transport: Transport) -> MetricExporter {
    let timeout = Duration::from_secs(10);
    let built = match transport {
        Transport::Grpc => MetricExporter::builder()
            .with_tonic()
            .with_endpoint(format!("http://{}", server.grpc))
            .with_timeout(timeout)
            .build(),
        Transport::HttpProtobuf | Transport::HttpJson => MetricExporter::builder()
            .with_http()
            .with_protocol(if matches!(transport, Transport::HttpJson) {
                Protocol::HttpJson
            } else {
                Protocol::HttpBinary
            })
            .with_endpoint(format!("http://{}/v1/metrics", server.http))
            .with_timeout(timeout)
            .build(),
    };
    built.unwrap_or_else(|e| panic!("{transport:?} exporter: {e}"))
}

/// An instant query's result: each series' labels (without `__name__`) and value.
fn query(server: &Server, q: &str, t_ms: i64) -> Vec<(BTreeMap<String, String>, f64)> {
    let resp = server.instant_query(q, t_ms, &[]);
    let body: serde_json::Value = serde_json::from_slice(&resp.body).expect("JSON answer");
    let Some(result) = body["data"]["result"].as_array() else {
        panic!("{q}: no vector result in {body}");
    };
    result
        .iter()
        .map(|r| {
            let labels = r["metric"]
                .as_object()
                .expect("labels")
                .iter()
                .filter(|(k, _)| *k != "__name__")
                .map(|(k, v)| (k.clone(), v.as_str().expect("label value").to_owned()))
                .collect();
            let value = r["value"][1]
                .as_str()
                .and_then(|v| v.parse::<f64>().ok())
                .expect("sample value");
            (labels, value)
        })
        .collect()
}

/// The value of the one series `q` selects, checking the labels every series of the
/// resource carries.
fn value(server: &Server, q: &str, t_ms: i64) -> f64 {
    let got = query(server, q, t_ms);
    assert_eq!(got.len(), 1, "{q}: {got:?}");
    let (labels, v) = &got[0];
    assert_eq!(labels.get("job").map(String::as_str), Some(SERVICE), "{q}");
    assert_eq!(
        labels.get("instance").map(String::as_str),
        Some(INSTANCE),
        "{q}"
    );
    *v
}

fn sdk_export_reads_back(transport: Transport) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");

    // The exporter's client and the reader's task live on `rt`; the test thread records and
    // flushes (force_flush blocks until the export is answered).
    let provider = {
        let _guard = rt.enter();
        let reader = PeriodicReader::builder(
            exporter(&server, transport),
            opentelemetry_sdk::runtime::Tokio,
        )
        .with_interval(Duration::from_secs(3600))
        .build();
        SdkMeterProvider::builder()
            .with_resource(
                Resource::builder()
                    .with_service_name(SERVICE)
                    .with_attribute(KeyValue::new("service.instance.id", INSTANCE))
                    .with_attribute(KeyValue::new("host.name", "node-3"))
                    .build(),
            )
            .with_reader(reader)
            .build()
    };
    let meter = provider.meter("strata-e2e");

    let route = [KeyValue::new("http.route", "/cart")];
    let orders = [3, 4];
    let counter = meter
        .u64_counter("shop.orders")
        .with_unit("{order}")
        .build();
    for n in orders {
        counter.add(n, &route);
    }
    let queue = [10, -3, 2];
    let up_down = meter
        .i64_up_down_counter("shop.queue.items")
        .with_unit("{item}")
        .build();
    for n in queue {
        up_down.add(n, &route);
    }
    let temperature = 21.5;
    let gauge = meter.f64_gauge("shop.temperature").with_unit("Cel").build();
    gauge.record(temperature, &[KeyValue::new("room", "cold-store")]);
    let bounds = [0.1, 1.0];
    let latencies = [0.05, 0.25, 0.5, 2.0];
    let histogram = meter
        .f64_histogram("shop.checkout.duration")
        .with_unit("s")
        .with_boundaries(bounds.to_vec())
        .build();
    for v in latencies {
        histogram.record(v, &route);
    }

    provider
        .force_flush()
        .unwrap_or_else(|e| panic!("{transport:?}: export failed: {e}"));
    let now = common::now_ms() + 1_000;

    let q = r#"shop_orders_total{http_route="/cart"}"#;
    assert_eq!(value(&server, q, now), orders.iter().sum::<u64>() as f64);
    // A non-monotonic sum is a gauge: no `_total`; `{item}` adds no unit word.
    let q = r#"shop_queue_items{http_route="/cart"}"#;
    assert_eq!(value(&server, q, now), queue.iter().sum::<i64>() as f64);
    let q = r#"shop_temperature_celsius{room="cold-store"}"#;
    assert_eq!(value(&server, q, now), temperature);
    for le in bounds.iter().map(|b| Some(*b)).chain([None]) {
        let (label, expected) = match le {
            Some(b) => (b.to_string(), latencies.iter().filter(|v| **v <= b).count()),
            None => ("+Inf".to_owned(), latencies.len()),
        };
        let q =
            format!(r#"shop_checkout_duration_seconds_bucket{{http_route="/cart",le="{label}"}}"#);
        assert_eq!(value(&server, &q, now), expected as f64, "{q}");
    }
    let q = "shop_checkout_duration_seconds_sum";
    assert_eq!(value(&server, q, now), latencies.iter().sum::<f64>());
    let q = "shop_checkout_duration_seconds_count";
    assert_eq!(value(&server, q, now), latencies.len() as f64);

    // The other resource attributes (ours and the SDK's telemetry.sdk.*) are on target_info.
    let info = query(&server, "target_info", now);
    assert_eq!(info.len(), 1, "{info:?}");
    let (labels, v) = &info[0];
    assert_eq!(*v, 1.0);
    assert_eq!(labels.get("job").map(String::as_str), Some(SERVICE));
    assert_eq!(labels.get("instance").map(String::as_str), Some(INSTANCE));
    assert_eq!(labels.get("host_name").map(String::as_str), Some("node-3"));
    assert_eq!(
        labels.get("telemetry_sdk_language").map(String::as_str),
        Some("rust")
    );

    provider
        .shutdown()
        .unwrap_or_else(|e| panic!("{transport:?}: shutdown: {e}"));
    drop(rt);
    assert!(server.terminate().success());
}

#[test]
fn sdk_exports_over_grpc() {
    sdk_export_reads_back(Transport::Grpc);
}

#[test]
fn sdk_exports_over_http_protobuf() {
    sdk_export_reads_back(Transport::HttpProtobuf);
}

#[test]
fn sdk_exports_over_http_json() {
    sdk_export_reads_back(Transport::HttpJson);
}
