//! Exemplars on the real `strata` binary (`docs/exemplars.md`): the OpenTelemetry Python
//! SDK records a histogram inside a span and exports its exemplar over OTLP/HTTP and gRPC;
//! remote-write sends exemplars in `TimeSeries.exemplars`. They come back from
//! `/api/v1/query_exemplars` and the SQL table `exemplars`; refusals are counted and
//! reported while their samples are stored; over `max_exemplars` the oldest go; they survive
//! a SIGKILL (WAL) and a restart after a flush (the partitions' exemplars files).
//!
//! The Python SDK runs in the `python3` found on PATH: `.ci/test.sh` puts the virtualenv
//! `$CARGO_TARGET_DIR/venv` (with `opentelemetry-sdk` and its OTLP exporters) first.

mod common;

use std::process::Command;

use prost::Message;
use serde_json::Value;
use strata_tests::remote_write::HEADERS;
use strata_tests::server::{Server, data_dir};

/// Remote-write 1.0 with exemplars, from `prompb/types.proto`, independent of the server's.
mod prompb {
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct WriteRequest {
        #[prost(message, repeated, tag = "1")]
        pub(crate) timeseries: Vec<TimeSeries>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct TimeSeries {
        #[prost(message, repeated, tag = "1")]
        pub(crate) labels: Vec<Label>,
        #[prost(message, repeated, tag = "2")]
        pub(crate) samples: Vec<Sample>,
        #[prost(message, repeated, tag = "3")]
        pub(crate) exemplars: Vec<Exemplar>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Label {
        #[prost(string, tag = "1")]
        pub(crate) name: String,
        #[prost(string, tag = "2")]
        pub(crate) value: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Sample {
        #[prost(double, tag = "1")]
        pub(crate) value: f64,
        #[prost(int64, tag = "2")]
        pub(crate) timestamp: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Exemplar {
        #[prost(message, repeated, tag = "1")]
        pub(crate) labels: Vec<Label>,
        #[prost(double, tag = "2")]
        pub(crate) value: f64,
        #[prost(int64, tag = "3")]
        pub(crate) timestamp: i64,
    }
}

const TRACE_A: &str = "0af7651916cd43dd8448eb211c80319c";
const TRACE_B: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

fn label(n: &str, v: &str) -> prompb::Label {
    prompb::Label {
        name: n.into(),
        value: v.into(),
    }
}

fn exemplar(trace: &str, value: f64, ts: i64) -> prompb::Exemplar {
    prompb::Exemplar {
        labels: vec![label("trace_id", trace)],
        value,
        timestamp: ts,
    }
}

/// One series `name{job="rw"}` with `samples` and `exemplars`, snappy-encoded.
fn body(name: &str, samples: &[(i64, f64)], exemplars: Vec<prompb::Exemplar>) -> Vec<u8> {
    let req = prompb::WriteRequest {
        timeseries: vec![prompb::TimeSeries {
            labels: vec![label("__name__", name), label("job", "rw")],
            samples: samples
                .iter()
                .map(|&(timestamp, value)| prompb::Sample { value, timestamp })
                .collect(),
            exemplars,
        }],
    };
    snap::raw::Encoder::new()
        .compress_vec(&req.encode_to_vec())
        .expect("snappy")
}

fn start(dir: &std::path::Path, config: &str) -> Server {
    let server = Server::start(common::bin(), dir, config);
    server.wait_ready(common::READY);
    server
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `/api/v1/query_exemplars` for `q` over the last hour to now, as JSON (asserted 200).
fn query_exemplars(server: &Server, q: &str) -> Value {
    let now = common::now_ms();
    let path = format!(
        "/api/v1/query_exemplars?query={}&start={:.3}&end={:.3}",
        encode(q),
        (now - 3_600_000) as f64 / 1000.0,
        (now + 60_000) as f64 / 1000.0
    );
    let resp = server.get(&path, &[]).expect("query_exemplars");
    assert_eq!(resp.status, 200, "{}", resp.text());
    serde_json::from_slice(&resp.body).expect("JSON")
}

/// The trace ids of every exemplar in a `query_exemplars` answer, in order.
fn trace_ids(v: &Value) -> Vec<String> {
    v["data"]
        .as_array()
        .expect("data array")
        .iter()
        .flat_map(|s| s["exemplars"].as_array().expect("exemplars").clone())
        .map(|e| {
            e["labels"]["trace_id"]
                .as_str()
                .expect("trace_id")
                .to_owned()
        })
        .collect()
}

fn sql(server: &Server, q: &str) -> Value {
    let resp = server
        .post("/api/v1/sql", &[], q.as_bytes())
        .expect("POST /api/v1/sql");
    assert_eq!(resp.status, 200, "{}", resp.text());
    serde_json::from_slice(&resp.body).expect("JSON rows")
}

fn write(server: &Server, body: &[u8]) -> strata_tests::http::Response {
    server
        .post("/api/v1/write", &HEADERS, body)
        .expect("remote-write")
}

#[test]
fn remote_write_exemplars_are_stored_checked_and_read_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), "");
    let now = common::now_ms();

    let r = write(
        &server,
        &body(
            "rw_latency_bucket",
            &[(now - 2_000, 3.0)],
            vec![exemplar(TRACE_A, 0.25, now - 2_000)],
        ),
    );
    assert_eq!(r.status, 204, "{}", r.text());
    // Prometheus sends exemplars in a TimeSeries of their own, without samples.
    let r = write(
        &server,
        &body(
            "rw_latency_bucket",
            &[],
            vec![exemplar(TRACE_B, 0.5, now - 1_000)],
        ),
    );
    assert_eq!(r.status, 204, "{}", r.text());

    let v = query_exemplars(&server, r#"sum(rate(rw_latency_bucket{job="rw"}[5m]))"#);
    assert_eq!(v["status"], "success");
    let series = &v["data"][0];
    assert_eq!(series["seriesLabels"]["__name__"], "rw_latency_bucket");
    assert_eq!(series["seriesLabels"]["job"], "rw");
    assert_eq!(series["exemplars"][0]["value"], "0.25");
    let ts = series["exemplars"][0]["timestamp"]
        .as_f64()
        .expect("seconds");
    assert!((ts - (now - 2_000) as f64 / 1000.0).abs() < 0.0005, "{ts}");
    assert_eq!(trace_ids(&v), vec![TRACE_A, TRACE_B]);
    // A selector that matches nothing, and an expression without any.
    assert_eq!(
        query_exemplars(&server, "nothing_here")["data"],
        Value::Array(vec![])
    );
    assert_eq!(query_exemplars(&server, "1 + 1")["data"], Value::Null);
    let bad = server
        .get("/api/v1/query_exemplars?query=sum(", &[])
        .expect("bad query");
    assert_eq!(bad.status, 400, "{}", bad.text());

    // A duplicate of the newest (a sender's retry) is counted but answered as a stored
    // write, as a duplicate sample is.
    let r = write(
        &server,
        &body(
            "rw_latency_bucket",
            &[(now, 7.0)],
            vec![exemplar(TRACE_B, 0.5, now - 1_000)],
        ),
    );
    assert_eq!(r.status, 204, "duplicate: {}", r.text());
    // Refusals: out of order, a bad trace id. Each is named in the 400, counted, and the
    // samples of the request are stored all the same.
    for (ex, reason) in [
        (exemplar(TRACE_A, 0.1, now - 5_000), "out_of_order"),
        (exemplar("abc123", 0.9, now), "bad_trace_id"),
    ] {
        let r = write(&server, &body("rw_latency_bucket", &[(now, 7.0)], vec![ex]));
        assert_eq!(r.status, 400, "{reason}: {}", r.text());
        assert!(r.text().contains(reason), "{reason}: {}", r.text());
        assert!(r.text().contains("stored 1 of 1 samples"), "{}", r.text());
    }
    assert_eq!(
        trace_ids(&query_exemplars(&server, "rw_latency_bucket")),
        vec![TRACE_A, TRACE_B]
    );
    let q = server.instant_query("rw_latency_bucket", now + 1, &[]);
    assert!(
        q.text().contains(r#""value":["#) && q.text().contains(r#","7"]"#),
        "{}",
        q.text()
    );
    let metrics = server.get("/metrics", &[]).expect("metrics").text();
    for reason in ["out_of_order", "duplicate", "bad_trace_id"] {
        let want = format!(
            "strata_exemplars_rejected_total{{tenant=\"default\",reason=\"{reason}\"}} 1\n"
        );
        assert!(metrics.contains(&want), "{want} in {metrics}");
        let stored = format!(
            "strata_engine_exemplars_rejected_total{{tenant=\"default\",reason=\"{reason}\"}} 1\n"
        );
        assert!(metrics.contains(&stored), "{stored} in {metrics}");
    }
    assert!(
        metrics.contains("strata_exemplars_accepted_total{tenant=\"default\"} 2\n"),
        "{metrics}"
    );

    // SQL.
    let rows = sql(
        &server,
        "SELECT metric, labels['job'] AS job, value, trace_id FROM exemplars ORDER BY ts",
    );
    assert_eq!(
        rows,
        serde_json::json!([
            {"metric": "rw_latency_bucket", "job": "rw", "value": 0.25, "trace_id": TRACE_A},
            {"metric": "rw_latency_bucket", "job": "rw", "value": 0.5, "trace_id": TRACE_B},
        ])
    );

    // A SIGKILL after the 204s: the WAL brings them back.
    server.kill();
    let server = start(dir.path(), "");
    assert_eq!(
        trace_ids(&query_exemplars(&server, "rw_latency_bucket")),
        vec![TRACE_A, TRACE_B]
    );
    // A clean stop flushes them into the partition's exemplars file; read from there.
    assert!(server.terminate().success());
    let files = find_files(&data_dir(dir.path()).join("metrics"), "exemplars-");
    assert!(!files.is_empty(), "no exemplars file after the flush");
    let server = start(dir.path(), "");
    assert_eq!(
        trace_ids(&query_exemplars(&server, "rw_latency_bucket")),
        vec![TRACE_A, TRACE_B]
    );
    assert!(server.terminate().success());
}

/// Files under `dir` whose name starts with `prefix`.
fn find_files(dir: &std::path::Path, prefix: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(find_files(&p, prefix));
        } else if e.file_name().to_string_lossy().starts_with(prefix) {
            out.push(p);
        }
    }
    out
}

#[test]
fn over_max_exemplars_the_oldest_go() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), "[limits]\nmax_exemplars = 3\n");
    let now = common::now_ms();
    let traces: Vec<String> = (0..5).map(|i| format!("{i:032x}")).collect();
    for (i, t) in traces.iter().enumerate() {
        let ts = now - 10_000 + i as i64 * 1_000;
        let name = if i % 2 == 0 {
            "even_bucket"
        } else {
            "odd_bucket"
        };
        let r = write(
            &server,
            &body(name, &[(ts, 1.0)], vec![exemplar(t, i as f64, ts)]),
        );
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let v = query_exemplars(&server, r#"{__name__=~"even_bucket|odd_bucket"}"#);
    let mut got = trace_ids(&v);
    got.sort();
    assert_eq!(got, traces[2..].to_vec());
    let metrics = server.get("/metrics", &[]).expect("metrics").text();
    assert!(
        metrics.contains("strata_exemplars_evicted_total{tenant=\"default\"} 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("strata_exemplars_in_memory{tenant=\"default\"} 3\n"),
        "{metrics}"
    );
}

const PYTHON_SCRIPT: &str = r#"
import sys, time
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource

transport, endpoint, service = sys.argv[1], sys.argv[2], sys.argv[3]
if transport == "grpc":
    from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
    exporter = OTLPMetricExporter(endpoint=endpoint, insecure=True)
else:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    exporter = OTLPMetricExporter(endpoint=endpoint)
resource = Resource.create({"service.name": service})
reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
meters = MeterProvider(resource=resource, metric_readers=[reader])
tracer = TracerProvider(resource=resource).get_tracer("exemplar-test")
meter = meters.get_meter("exemplar-test")
latency = meter.create_histogram("checkout_latency", unit="s")
requests = meter.create_counter("checkout_requests")
with tracer.start_as_current_span("checkout") as span:
    latency.record(0.3, {"route": "/pay"})
    requests.add(2, {"route": "/pay"})
    ctx = span.get_span_context()
meters.force_flush()
meters.shutdown()
print(format(ctx.trace_id, "032x"), format(ctx.span_id, "016x"))
"#;

#[test]
fn the_otel_python_sdk_exports_a_histogram_exemplar_over_http_and_grpc() {
    let probe = Command::new("python3")
        .args(["-c", "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.otlp.proto.http"])
        .output();
    let missing = match &probe {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(String::from_utf8_lossy(&out.stderr).into_owned()),
        Err(e) => Some(format!("python3: {e}")),
    };
    if let Some(why) = missing {
        panic!(
            "the OpenTelemetry Python SDK is not importable in the python3 on PATH ({why}): \
             .ci/test.sh installs it in $CARGO_TARGET_DIR/venv and puts that first on PATH"
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), "");
    let script = dir.path().join("exemplar.py");
    std::fs::write(&script, PYTHON_SCRIPT).expect("write the script");
    for (transport, endpoint, service) in [
        (
            "http",
            format!("http://{}/v1/metrics", server.http),
            "svc-http",
        ),
        ("grpc", format!("http://{}", server.grpc), "svc-grpc"),
    ] {
        let out = Command::new("python3")
            .arg(&script)
            .args([transport, &endpoint, service])
            .output()
            .expect("python3 runs");
        assert!(
            out.status.success(),
            "{transport}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8_lossy(&out.stdout);
        let mut ids = printed.split_whitespace();
        let (trace, span) = (ids.next().expect("trace id"), ids.next().expect("span id"));
        assert_eq!((trace.len(), span.len()), (32, 16), "{printed}");

        // 0.3 s falls in the SDK's default bucket (0, 5]: the exemplar is on le="5".
        let q = format!(r#"checkout_latency_seconds_bucket{{job="{service}"}}"#);
        let v = query_exemplars(&server, &q);
        let data = v["data"].as_array().expect("data");
        assert_eq!(data.len(), 1, "{transport}: {v}");
        assert_eq!(data[0]["seriesLabels"]["le"], "5", "{v}");
        assert_eq!(data[0]["seriesLabels"]["route"], "/pay", "{v}");
        let ex = &data[0]["exemplars"][0];
        assert_eq!(ex["labels"]["trace_id"], trace, "{transport}: {v}");
        assert_eq!(ex["labels"]["span_id"], span, "{transport}: {v}");
        assert_eq!(ex["value"], "0.3");

        // The counter's exemplar, on its own series (the protobuf fast path hands points
        // with exemplars to the general translation).
        let v = query_exemplars(
            &server,
            &format!(r#"checkout_requests_total{{job="{service}"}}"#),
        );
        assert_eq!(
            v["data"][0]["exemplars"][0]["labels"]["trace_id"], trace,
            "{v}"
        );
        assert_eq!(
            v["data"][0]["exemplars"][0]["labels"]["span_id"], span,
            "{v}"
        );
        assert_eq!(v["data"][0]["exemplars"][0]["value"], "2", "{v}");

        let rows = sql(
            &server,
            &format!(
                "SELECT metric, labels['le'] AS le, value, trace_id, span_id FROM exemplars \
                 WHERE labels['job'] = '{service}' AND metric LIKE '%bucket'"
            ),
        );
        assert_eq!(
            rows,
            serde_json::json!([{
                "metric": "checkout_latency_seconds_bucket", "le": "5", "value": 0.3,
                "trace_id": trace, "span_id": span,
            }]),
            "{transport}"
        );
    }
}

#[test]
fn otlp_json_exemplars_of_sums_and_gauges_and_refusals_in_partial_success() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path(), "");
    let now_ns = common::now_ms() as u128 * 1_000_000;
    let body = serde_json::json!({"resourceMetrics": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "json-svc"}}]},
        "scopeMetrics": [{"metrics": [
            {"name": "jobs_done", "sum": {"aggregationTemporality": 2, "isMonotonic": true,
             "dataPoints": [{"asInt": "5", "timeUnixNano": now_ns.to_string(), "exemplars": [{
                "asInt": "1", "timeUnixNano": now_ns.to_string(),
                "traceId": TRACE_A, "spanId": "00f067aa0ba902b7",
                "filteredAttributes": [{"key": "user", "value": {"stringValue": "u1"}}]}]}]}},
            {"name": "temperature", "gauge": {"dataPoints": [{"asDouble": 21.5,
             "timeUnixNano": now_ns.to_string(), "exemplars": [{"asDouble": 21.5,
                "timeUnixNano": now_ns.to_string(), "traceId": "0af7651916cd43dd8448eb211c8031"}]}]}}
        ]}]
    }]});
    let r = server
        .post(
            "/v1/metrics",
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        )
        .expect("OTLP JSON");
    assert_eq!(r.status, 200, "{}", r.text());
    let answer: Value = serde_json::from_slice(&r.body).expect("JSON answer");
    let message = answer["partialSuccess"]["errorMessage"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("bad_trace_id 1"), "{answer}");
    // Both points are stored; the sum's exemplar too, with its attribute as a label.
    let now = common::now_ms();
    assert!(
        server
            .instant_query("temperature", now, &[])
            .text()
            .contains(r#""21.5""#)
    );
    let v = query_exemplars(&server, "jobs_done_total");
    let ex = &v["data"][0]["exemplars"][0];
    assert_eq!(ex["labels"]["trace_id"], TRACE_A, "{v}");
    assert_eq!(ex["labels"]["span_id"], "00f067aa0ba902b7", "{v}");
    assert_eq!(ex["labels"]["user"], "u1", "{v}");
    assert_eq!(ex["value"], "1", "{v}");
    assert_eq!(
        query_exemplars(&server, "temperature")["data"],
        Value::Array(vec![])
    );
    let metrics = server.get("/metrics", &[]).expect("metrics").text();
    assert!(
        metrics.contains(
            "strata_exemplars_rejected_total{tenant=\"default\",reason=\"bad_trace_id\"} 1\n"
        ),
        "{metrics}"
    );
}

#[test]
fn relabel_rules_rewrite_and_drop_exemplar_series_as_they_do_samples() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = r#"
[[relabel.metrics]]
name = "no job"
action = "labeldrop"
regex = "job"

[[relabel.metrics]]
name = "no debug metrics"
action = "drop"
source_labels = ["__name__"]
regex = "debug_.*"
"#;
    let server = start(dir.path(), config);
    let now = common::now_ms();
    for name in ["kept_bucket", "debug_bucket"] {
        let r = write(
            &server,
            &body(name, &[(now, 1.0)], vec![exemplar(TRACE_A, 1.0, now)]),
        );
        assert_eq!(r.status, 204, "{}", r.text());
    }
    let v = query_exemplars(&server, r#"{__name__=~"kept_bucket|debug_bucket"}"#);
    let data = v["data"].as_array().expect("data");
    assert_eq!(data.len(), 1, "{v}");
    assert_eq!(
        data[0]["seriesLabels"],
        serde_json::json!({"__name__": "kept_bucket"}),
        "the job label is dropped from the exemplar's series too"
    );
}
