//! OTLP/gRPC into the real `strata` binary with tonic clients (opentelemetry-proto's
//! generated `MetricsServiceClient`, and a raw-bytes client for malformed messages): every
//! point type read back through the Prometheus API, `partial_success` under a tenant limit,
//! and the status codes of the OTLP specification (INVALID_ARGUMENT, RESOURCE_EXHAUSTED,
//! UNAUTHENTICATED, UNIMPLEMENTED for an unknown encoding, and UNAVAILABLE with `RetryInfo`
//! when rate limited). Spans and logs in depth: `otlp_traces_logs.rs`.

mod common;

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_client::MetricsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value;
use opentelemetry_proto::tonic::metrics::v1::summary_data_point::ValueAtQuantile;
use opentelemetry_proto::tonic::metrics::v1::{
    AggregationTemporality, Gauge, Histogram, HistogramDataPoint, Metric, NumberDataPoint,
    ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use strata_tests::server::Server;
use tonic::Code;
use tonic::transport::Channel;
use tonic_types::StatusExt;

const SERVICE: &str = "grpc-e2e";
const INSTANCE: &str = "i-7";

fn attr(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.into())),
        }),
        ..Default::default()
    }
}

fn nanos(ts_ms: i64) -> u64 {
    u64::try_from(ts_ms).expect("a timestamp after 1970") * 1_000_000
}

fn number(ts_ms: i64, value: Value, attrs: Vec<KeyValue>) -> NumberDataPoint {
    NumberDataPoint {
        time_unix_nano: nanos(ts_ms),
        value: Some(value),
        attributes: attrs,
        ..Default::default()
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

fn gauge(name: &str, points: Vec<NumberDataPoint>) -> Metric {
    metric(
        name,
        "",
        Data::Gauge(Gauge {
            data_points: points,
        }),
    )
}

/// One resource (`service.name`, `service.instance.id`) holding `metrics`.
fn request(metrics: Vec<Metric>) -> ExportMetricsServiceRequest {
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: Some(Resource {
                attributes: vec![
                    attr("service.name", SERVICE),
                    attr("service.instance.id", INSTANCE),
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

/// A single-threaded runtime: the client's connection only makes progress inside
/// `block_on`, as in a test that mixes async gRPC calls with blocking HTTP queries.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

async fn metrics_client(server: &Server) -> MetricsServiceClient<Channel> {
    MetricsServiceClient::connect(format!("http://{}", server.grpc))
        .await
        .expect("connect to the gRPC port")
}

/// `request` with `metadata` (e.g. `x-scope-orgid`, `authorization`).
fn with_metadata<T>(msg: T, metadata: &[(&'static str, &str)]) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    for (k, v) in metadata {
        req.metadata_mut()
            .insert(*k, v.parse().expect("ASCII metadata"));
    }
    req
}

/// An instant query's result: each series' labels (without `__name__`) and value.
fn query(
    server: &Server,
    headers: &[(&str, &str)],
    q: &str,
    t_ms: i64,
) -> Vec<(BTreeMap<String, String>, f64)> {
    let resp = server.instant_query(q, t_ms, headers);
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

/// The one series `q` selects, which must carry the resource's `job` and `instance`: its
/// value.
fn value(server: &Server, q: &str, t_ms: i64) -> f64 {
    let got = query(server, &[], q, t_ms);
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

#[test]
fn every_point_type_over_grpc_reads_back_through_promql() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    let now = common::now_ms();
    let ts = now - 1_000;

    let temperature = 21.5;
    let requests = 42;
    let bounds = vec![0.1, 1.0];
    let buckets = vec![3, 4, 5];
    let (hist_count, hist_sum) = (buckets.iter().sum::<u64>(), 7.25);
    let quantiles = [(0.5, 3.0), (0.99, 9.5)];
    let (summary_count, summary_sum) = (20, 80.0);
    let metrics = vec![
        metric(
            "room.temperature",
            "Cel",
            Data::Gauge(Gauge {
                data_points: vec![number(
                    ts,
                    Value::AsDouble(temperature),
                    vec![attr("room", "a")],
                )],
            }),
        ),
        metric(
            "http.requests",
            "{request}",
            Data::Sum(Sum {
                data_points: vec![number(ts, Value::AsInt(requests), vec![])],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
                is_monotonic: true,
            }),
        ),
        metric(
            "rpc.duration",
            "s",
            Data::Histogram(Histogram {
                data_points: vec![HistogramDataPoint {
                    time_unix_nano: nanos(ts),
                    count: hist_count,
                    sum: Some(hist_sum),
                    bucket_counts: buckets.clone(),
                    explicit_bounds: bounds.clone(),
                    ..Default::default()
                }],
                aggregation_temporality: AggregationTemporality::Cumulative as i32,
            }),
        ),
        metric(
            "job.latency",
            "ms",
            Data::Summary(Summary {
                data_points: vec![SummaryDataPoint {
                    time_unix_nano: nanos(ts),
                    count: summary_count,
                    sum: summary_sum,
                    quantile_values: quantiles
                        .iter()
                        .map(|&(quantile, value)| ValueAtQuantile { quantile, value })
                        .collect(),
                    ..Default::default()
                }],
            }),
        ),
    ];

    let rt = runtime();
    let mut client = rt.block_on(metrics_client(&server));
    let resp = rt
        .block_on(client.export(request(metrics)))
        .expect("export over gRPC")
        .into_inner();
    assert_eq!(resp.partial_success, None, "everything was stored");

    assert_eq!(
        value(&server, r#"room_temperature_celsius{room="a"}"#, now),
        temperature
    );
    assert_eq!(value(&server, "http_requests_total", now), requests as f64);
    // Buckets are cumulative in Prometheus; the last is +Inf, the count.
    let mut cumulative = 0;
    for (i, n) in buckets.iter().enumerate() {
        cumulative += n;
        let le = bounds.get(i).map_or("+Inf".to_owned(), f64::to_string);
        let q = format!(r#"rpc_duration_seconds_bucket{{le="{le}"}}"#);
        assert_eq!(value(&server, &q, now), cumulative as f64, "{q}");
    }
    assert_eq!(value(&server, "rpc_duration_seconds_sum", now), hist_sum);
    assert_eq!(
        value(&server, "rpc_duration_seconds_count", now),
        hist_count as f64
    );
    for (quantile, v) in quantiles {
        let q = format!(r#"job_latency_milliseconds{{quantile="{quantile}"}}"#);
        assert_eq!(value(&server, &q, now), v, "{q}");
    }
    assert_eq!(
        value(&server, "job_latency_milliseconds_sum", now),
        summary_sum
    );
    assert_eq!(
        value(&server, "job_latency_milliseconds_count", now),
        summary_count as f64
    );
    // Close the connection first: its task runs only inside `block_on` (see
    // `shutdown_is_bounded_with_an_unresponsive_grpc_client`).
    drop(client);
    drop(rt);
    assert!(server.terminate().success());
}

/// The server's state letter in `/proc/<pid>/stat` (`Z` once it has exited).
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// The hang of the first gRPC test: the client's connection task lives in a
/// single-threaded runtime that the test no longer polls, so it never answers the ping of
/// HTTP/2's graceful close (GOAWAY, PING, wait for the PONG), and tonic's graceful
/// shutdown waited for that connection forever. The server now gives its connections a
/// bounded time (10 s, `DRAIN_WAIT` in serve.rs) after SIGTERM, then closes them.
#[test]
fn shutdown_is_bounded_with_an_unresponsive_grpc_client() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    let rt = runtime();
    let mut client = rt.block_on(metrics_client(&server));
    let points = vec![number(common::now_ms(), Value::AsDouble(1.0), vec![])];
    rt.block_on(client.export(request(vec![gauge("idle.client", points)])))
        .expect("export");

    let pid = server.pid();
    let start = std::time::Instant::now();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    assert!(sent.is_ok_and(|s| s.success()), "kill -TERM {pid}");
    while proc_state(pid) != Some('Z') {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "the server did not exit within 20 s of SIGTERM while a gRPC client was connected"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(server.terminate().success(), "a clean exit");
    drop(client);
    drop(rt);
}

/// Messages as bytes, to send what no generated client would.
#[derive(Debug, Clone, Copy, Default)]
struct RawCodec;

impl tonic::codec::Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> Self::Encoder {
        RawCodec
    }

    fn decoder(&mut self) -> Self::Decoder {
        RawCodec
    }
}

impl tonic::codec::Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        use prost::bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl tonic::codec::Decoder for RawCodec {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn decode(
        &mut self,
        src: &mut tonic::codec::DecodeBuf<'_>,
    ) -> Result<Option<Vec<u8>>, tonic::Status> {
        use prost::bytes::Buf;
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

/// Calls `/<service>/Export` with `body` as the message.
async fn raw_export(server: &Server, service: &str, body: Vec<u8>) -> tonic::Status {
    let channel = Channel::from_shared(format!("http://{}", server.grpc))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let path = format!("/{service}/Export")
        .parse()
        .expect("path and query");
    match grpc.unary(tonic::Request::new(body), path, RawCodec).await {
        Ok(resp) => panic!("{service}: accepted {:?}", resp.into_inner()),
        Err(status) => status,
    }
}

const CONFIG: &str = r#"
[server]
max_body_bytes = 4096
[limits.tenants.small]
max_active_series = 2
"#;

#[test]
fn partial_success_and_error_codes_over_grpc() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), CONFIG);
    server.wait_ready(common::READY);
    let now = common::now_ms();
    let rt = runtime();
    let mut client = rt.block_on(metrics_client(&server));

    // Five new series for a tenant allowed two: two stored, three rejected and reported.
    let hosts = ["h0", "h1", "h2", "h3", "h4"];
    let points = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            number(
                now - 1_000,
                Value::AsDouble(i as f64),
                vec![attr("host", h)],
            )
        })
        .collect();
    let req = with_metadata(
        request(vec![gauge("disk.free", points)]),
        &[("x-scope-orgid", "small")],
    );
    let resp = rt
        .block_on(client.export(req))
        .expect("a partial success is OK")
        .into_inner();
    let partial = resp.partial_success.expect("partial_success set");
    assert_eq!(partial.rejected_data_points, 3, "{}", partial.error_message);
    let tenant = [("X-Scope-OrgID", "small")];
    let stored = query(&server, &tenant, "disk_free", now);
    assert_eq!(stored.len(), 2, "{stored:?}");
    for (labels, v) in &stored {
        let sent = hosts
            .iter()
            .position(|h| *h == labels["host"])
            .expect("a sent host");
        assert_eq!(*v, sent as f64, "{labels:?}");
    }
    let stored_hosts: Vec<&str> = stored.iter().map(|(l, _)| l["host"].as_str()).collect();
    // The engine names the first series it refused: the first host, in request order, that
    // was not stored.
    let first_refused = hosts
        .iter()
        .find(|h| !stored_hosts.contains(h))
        .expect("three hosts were refused");
    assert_eq!(
        partial.error_message,
        format!(
            "3 samples rejected: series_limit (new series disk_free{{host=\"{first_refused}\", \
             instance=\"{INSTANCE}\", job=\"{SERVICE}\"}} rejected: the tenant has \
             max_active_series = 2 active series)"
        )
    );

    // A message that is not protobuf: INVALID_ARGUMENT naming the decoder's complaint.
    let metrics_service = "opentelemetry.proto.collector.metrics.v1.MetricsService";
    let status = rt.block_on(raw_export(&server, metrics_service, vec![0x0a, 0xff]));
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status
            .message()
            .starts_with("invalid OTLP metrics protobuf:"),
        "{status:?}"
    );

    // A message over max_body_bytes (4096): RESOURCE_EXHAUSTED, not retryable (no
    // RetryInfo), and nothing of it stored.
    let many: Vec<Metric> = (0..200)
        .map(|i| {
            gauge(
                &format!("big.metric.{i}"),
                vec![number(now - 1_000, Value::AsInt(i), vec![])],
            )
        })
        .collect();
    let big = request(many);
    assert!(big.encoded_len() > 4096);
    let status = rt.block_on(client.export(big)).expect_err("over the limit");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    assert!(
        status.message().contains("server.max_body_bytes"),
        "{status:?}"
    );
    assert!(status.get_details_retry_info().is_none(), "{status:?}");
    assert!(query(&server, &[], "big_metric_0", now).is_empty());

    spans_and_logs_over_grpc(&rt, &server);

    // Every call is counted by service and code in the self-metrics.
    let text = server.get("/metrics", &[]).expect("metrics").text();
    let count = |service: &str, code: &str| {
        let series = format!(
            "strata_grpc_requests_total{{service=\"opentelemetry.proto.collector.{service}\",code=\"{code}\"}} "
        );
        text.lines()
            .find_map(|l| l.strip_prefix(&series)?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    assert!(count("metrics.v1.MetricsService", "OK") >= 1.0, "{text}");
    assert_eq!(count("metrics.v1.MetricsService", "INVALID_ARGUMENT"), 1.0);
    assert_eq!(
        count("metrics.v1.MetricsService", "RESOURCE_EXHAUSTED"),
        1.0
    );
    assert_eq!(count("trace.v1.TraceService", "OK"), 1.0);
    assert_eq!(count("trace.v1.TraceService", "INVALID_ARGUMENT"), 1.0);
    assert_eq!(count("logs.v1.LogsService", "OK"), 1.0);
    assert_eq!(count("logs.v1.LogsService", "INVALID_ARGUMENT"), 1.0);
    assert!(text.contains(
        "strata_grpc_request_duration_seconds_count{service=\"opentelemetry.proto.collector.metrics.v1.MetricsService\"}"
    ));

    drop(client);
    drop(rt);
    assert!(server.terminate().success());
}

/// Spans and logs are stored (see `otlp_traces_logs.rs`): an empty export succeeds with
/// nothing to report; malformed ones are INVALID_ARGUMENT like metrics.
fn spans_and_logs_over_grpc(rt: &tokio::runtime::Runtime, server: &Server) {
    let channel = rt
        .block_on(
            Channel::from_shared(format!("http://{}", server.grpc))
                .expect("uri")
                .connect(),
        )
        .expect("connect");
    let resp = rt
        .block_on(
            TraceServiceClient::new(channel.clone()).export(ExportTraceServiceRequest::default()),
        )
        .expect("an empty export succeeds")
        .into_inner();
    assert_eq!(resp.partial_success, None);
    let resp = rt
        .block_on(LogsServiceClient::new(channel).export(ExportLogsServiceRequest::default()))
        .expect("an empty export succeeds")
        .into_inner();
    assert_eq!(resp.partial_success, None);
    let status = rt.block_on(raw_export(
        server,
        "opentelemetry.proto.collector.trace.v1.TraceService",
        vec![0x0a, 0xff],
    ));
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let status = rt.block_on(raw_export(
        server,
        "opentelemetry.proto.collector.logs.v1.LogsService",
        vec![0x0a, 0xff],
    ));
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(
        status.message().starts_with("invalid OTLP logs protobuf:"),
        "{status:?}"
    );
}

// sha256 of "grpc-writer".
const AUTH_CONFIG: &str = r#"
[[auth.tokens]]
sha256 = "SHA"
tenant = "acme"
scopes = ["read", "write"]
"#;

#[test]
fn grpc_needs_a_token_when_auth_is_on() {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(b"grpc-writer"));
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        common::bin(),
        dir.path(),
        &AUTH_CONFIG.replace("SHA", &digest),
    );
    server.wait_ready(common::READY);
    let now = common::now_ms();
    let rt = runtime();
    let mut client = rt.block_on(metrics_client(&server));
    let points = vec![number(now - 1_000, Value::AsDouble(1.0), vec![])];
    let req = || request(vec![gauge("authed", points.clone())]);

    let status = rt.block_on(client.export(req())).expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    assert!(status.message().contains("Authorization"), "{status:?}");
    let bad = with_metadata(req(), &[("authorization", "Bearer nope")]);
    let status = rt.block_on(client.export(bad)).expect_err("unknown token");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    let good = with_metadata(req(), &[("authorization", "Bearer grpc-writer")]);
    let resp = rt.block_on(client.export(good)).expect("a valid token");
    assert_eq!(resp.into_inner().partial_success, None);
    let read = [("Authorization", "Bearer grpc-writer")];
    assert_eq!(query(&server, &read, "authed", now).len(), 1);
    drop(client);
    drop(rt);
    assert!(server.terminate().success());
}

#[test]
fn rate_limited_export_is_unavailable_with_retry_info() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = "[limits]\ningest_rate = 1\ningest_burst = 2\n";
    let server = Server::start(common::bin(), dir.path(), config);
    server.wait_ready(common::READY);
    let now = common::now_ms();
    let rt = runtime();
    let mut client = rt.block_on(metrics_client(&server));
    // Ten points in one request, with a bucket of two: most are refused.
    let points = |metric: &str| {
        let points = (0..10)
            .map(|i| number(now - 10_000 + i * 1_000, Value::AsInt(i), vec![]))
            .collect();
        request(vec![gauge(metric, points)])
    };

    let status = rt
        .block_on(client.export(points("limited")))
        .expect_err("over the ingest rate");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(status.message().contains("ingest rate"), "{status:?}");
    let retry = status.get_details_retry_info().and_then(|r| r.retry_delay);
    assert_eq!(
        retry,
        Some(std::time::Duration::from_secs(
            strata_server::RETRY_AFTER_SECS
        )),
        "{status:?}"
    );
    drop(client);
    drop(rt);

    // OTLP/HTTP says the same with 429 and Retry-After.
    let body = points("limited.http").encode_to_vec();
    let resp = server
        .post(
            "/v1/metrics",
            &[("Content-Type", "application/x-protobuf")],
            &body,
        )
        .expect("post");
    assert_eq!(resp.status, 429, "{}", resp.text());
    assert_eq!(
        resp.header("retry-after"),
        Some(strata_server::RETRY_AFTER_SECS.to_string().as_str())
    );
    assert!(server.terminate().success());
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut enc, bytes).expect("gzip");
    enc.finish().expect("gzip")
}

/// Sends one Export call as raw HTTP/2: `payload` framed with the compressed `flag`, under
/// `grpc-encoding: encoding`, as the OpenTelemetry Collector does by default (gzip); our
/// tonic client cannot, since tonic's `gzip` feature is off. Returns the `grpc-status`, its
/// message, and the response message bytes.
async fn export_framed(
    server: &Server,
    encoding: &str,
    flag: u8,
    payload: &[u8],
) -> (String, String, Vec<u8>) {
    use http_body_util::BodyExt;
    use tonic::codegen::Service;

    let mut framed = vec![flag];
    framed.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    framed.extend_from_slice(payload);

    let mut channel = Channel::from_shared(format!("http://{}", server.grpc))
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let req = tonic::codegen::http::Request::builder()
        .method("POST")
        .uri(format!(
            "http://{}/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
            server.grpc
        ))
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .header("grpc-encoding", encoding)
        .body(tonic::body::Body::new(http_body_util::Full::new(
            prost::bytes::Bytes::from(framed),
        )))
        .expect("request");
    std::future::poll_fn(|cx| channel.poll_ready(cx))
        .await
        .expect("ready");
    let resp = channel.call(req).await.expect("HTTP/2 exchange");
    let headers = resp.headers().clone();
    let collected = resp.into_body().collect().await.expect("response body");
    let trailers = collected.trailers().cloned().unwrap_or_default();
    let field = |name: &str| {
        trailers
            .get(name)
            .or_else(|| headers.get(name))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let body = collected.to_bytes();
    let message = body.get(5..).unwrap_or_default().to_vec();
    (field("grpc-status"), field("grpc-message"), message)
}

fn code(c: Code) -> String {
    (c as i32).to_string()
}

#[test]
fn gzip_compressed_messages_are_inflated_within_the_limit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), CONFIG);
    server.wait_ready(common::READY);
    let now = common::now_ms();
    let rt = runtime();

    let req = request(vec![gauge(
        "compressed.gauge",
        vec![number(now - 1_000, Value::AsDouble(42.5), vec![])],
    )]);
    let compressed = gzip(&req.encode_to_vec());
    let (status, message, body) = rt.block_on(export_framed(&server, "gzip", 1, &compressed));
    assert_eq!(
        (status.as_str(), message.as_str()),
        ("0", ""),
        "gzip export"
    );
    let resp =
        opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse::decode(
            body.as_slice(),
        )
        .expect("response message");
    assert_eq!(resp.partial_success, None, "{resp:?}");
    assert_eq!(value(&server, "compressed_gauge", now), 42.5);

    // The header with an uncompressed message (allowed by the gRPC spec) works too.
    let req = request(vec![gauge(
        "plain.gauge",
        vec![number(now - 1_000, Value::AsDouble(7.0), vec![])],
    )]);
    let (status, _, _) = rt.block_on(export_framed(&server, "gzip", 0, &req.encode_to_vec()));
    assert_eq!(status, "0");
    assert_eq!(value(&server, "plain_gauge", now), 7.0);

    // 1 MiB of zeros gzips to ~1 KiB, under max_body_bytes (4096) as sent; inflated it is
    // far over: RESOURCE_EXHAUSTED.
    let bomb = gzip(&vec![0u8; 1 << 20]);
    assert!(bomb.len() < 4096);
    let (status, message, _) = rt.block_on(export_framed(&server, "gzip", 1, &bomb));
    assert_eq!(status, code(Code::ResourceExhausted), "{message}");
    assert!(message.contains("4096"), "{message}");

    // Not gzip under the compressed flag, and a prefix that lies about the length:
    // INVALID_ARGUMENT. An encoding we do not speak: UNIMPLEMENTED, naming it.
    let (status, message, _) = rt.block_on(export_framed(&server, "gzip", 1, b"not gzip at all"));
    assert_eq!(status, code(Code::InvalidArgument), "{message}");
    let (status, message, _) = rt.block_on(export_framed(&server, "gzip", 7, &compressed));
    assert_eq!(status, code(Code::InvalidArgument), "{message}");
    let (status, message, _) = rt.block_on(export_framed(&server, "zstd", 1, &compressed));
    assert_eq!(status, code(Code::Unimplemented), "{message}");
    assert!(message.contains("zstd"), "{message}");

    drop(rt);
    assert!(server.terminate().success());
}
