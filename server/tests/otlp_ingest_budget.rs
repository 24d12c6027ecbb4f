//! The ingest memory budget (`server.max_inflight_bytes`) of the real `strata` binary under
//! hand-built OTLP requests: under a small budget concurrent requests are admitted in turn
//! and nothing is lost; a body being read (declared, gzip, chunked) or a gRPC message being
//! received holds its share of the budget, shown in the self-metrics, and gives it back once
//! answered. Stored data is read back with the engine after SIGTERM.

mod common;
mod otlp_common;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::logs::v1::LogRecord as OtlpLog;
use opentelemetry_proto::tonic::trace::v1::Span;
use otlp_common::*;
use prost::Message;
use strata_engine::EngineConfig;
use strata_tests::server::{Server, data_dir};

/// Under the smallest ingest memory budget (`server.max_inflight_bytes`, 1 MiB) every
/// request of this test needs the whole budget, so concurrent requests are admitted one at
/// a time: each waits its turn, none is refused, and every span and log record sent is
/// stored. The budget and what is held show in the self-metrics.
#[test]
fn a_small_ingest_memory_budget_admits_requests_in_turn_and_loses_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        common::bin(),
        dir.path(),
        "[server]\nmax_inflight_bytes = 1048576\n",
    );
    server.wait_ready(common::READY);
    let (threads, requests, per) = (6u8, 4u8, 300u16);
    // A 1 KiB attribute per record: ~330 KB per request, estimated at ~1.3 MB.
    let big = || vec![kv("payload", Value::StringValue("x".repeat(1024)))];
    std::thread::scope(|s| {
        for t in 0..threads {
            let server = &server;
            s.spawn(move || {
                for r in 0..requests {
                    let id = |i: u16| {
                        let mut id = [1u8; 16];
                        id[..4].copy_from_slice(&[t, r, (i >> 8) as u8, i as u8]);
                        id
                    };
                    let (path, body) = if t % 2 == 0 {
                        let spans = (0..per)
                            .map(|i| span(&id(i), &[t + 1, r + 1, 1, 1, 1, 1, 1, 1], "op", big()))
                            .collect();
                        ("/v1/traces", traces(spans).encode_to_vec())
                    } else {
                        let records = (0..per)
                            .map(|i| OtlpLog {
                                attributes: big(),
                                ..log(&id(i), Value::StringValue("line".into()))
                            })
                            .collect();
                        ("/v1/logs", logs(records).encode_to_vec())
                    };
                    let resp = server.post(path, &[PROTOBUF], &body).expect("post");
                    assert_eq!(resp.status, 200, "{path}: {}", resp.text());
                }
            });
        }
    });
    assert_eq!(
        self_metric(&server, "strata_ingest_inflight_budget_bytes"),
        1_048_576.0
    );
    assert_eq!(self_metric(&server, "strata_ingest_inflight_bytes"), 0.0);
    assert_eq!(
        self_metric(&server, "strata_ingest_inflight_refused_total"),
        0.0
    );
    let status = server.terminate();
    assert!(status.success(), "{status}");
    let data = data_dir(dir.path());
    let sent = usize::from(threads / 2) * usize::from(requests) * usize::from(per);
    let spans = common::read_spans(&data, &EngineConfig::default(), "default");
    let logs = common::read_logs(&data, &EngineConfig::default(), "default");
    assert_eq!((spans.len(), logs.len()), (sent, sent));
}

/// A request is charged its declared `Content-Length` against the ingest memory budget
/// before its body is read: while a gzip body is half sent, the budget shows it held (at
/// the guess of 8× inflation: the body, its inflated copy and 3× that decoded). Once it is
/// answered the budget is free again, and both requests' spans are stored.
#[test]
fn a_body_being_read_holds_its_declared_share_of_the_budget() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        common::bin(),
        dir.path(),
        "[server]\nmax_inflight_bytes = 1048576\n",
    );
    server.wait_ready(common::READY);
    let body_of = |n: u8| {
        let spans = (0..50u8)
            .map(|i| {
                span(
                    &[n, i, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2],
                    &[n, i, 1, 1, 1, 1, 1, 1],
                    "op",
                    vec![],
                )
            })
            .collect();
        let plain = traces(spans).encode_to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&plain).expect("gzip");
        gz.finish().expect("gzip")
    };
    let first = body_of(1);
    let wire = first.len() as u64;
    let charge = wire + 8 * wire + 3 * 8 * wire;
    let mut conn = std::net::TcpStream::connect(server.http).expect("connect");
    let head = format!(
        "POST /v1/traces HTTP/1.1\r\nHost: strata\r\nContent-Type: application/x-protobuf\r\n\
         Content-Encoding: gzip\r\nContent-Length: {wire}\r\nConnection: close\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).expect("head");
    let half = first.len() / 2;
    conn.write_all(&first[..half]).expect("half the body");
    conn.flush().expect("flush");
    // The share is taken before the body is read: wait until the server has it.
    let held = charge.div_ceil(1024) * 1024;
    let deadline = std::time::Instant::now() + common::READY;
    while self_metric(&server, "strata_ingest_inflight_bytes") != held as f64 {
        assert!(
            std::time::Instant::now() < deadline,
            "the body's share never showed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    conn.write_all(&first[half..]).expect("the rest");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let resp = server
        .post(
            "/v1/traces",
            &[PROTOBUF, ("content-encoding", "gzip")],
            &body_of(2),
        )
        .expect("post");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert_eq!(self_metric(&server, "strata_ingest_inflight_bytes"), 0.0);
    assert_eq!(
        self_metric(&server, "strata_ingest_inflight_refused_total"),
        0.0
    );
    let status = server.terminate();
    assert!(status.success(), "{status}");
    let spans = common::read_spans(&data_dir(dir.path()), &EngineConfig::default(), "default");
    assert_eq!(spans.len(), 100);
}

/// A server with a 16 MiB ingest budget, ready.
fn budget_server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        common::bin(),
        dir.path(),
        "[server]\nmax_inflight_bytes = 16777216\n",
    );
    server.wait_ready(common::READY);
    (dir, server)
}

/// `n` spans with distinct ids, tagged `tag` in their ids' first byte.
fn numbered_spans(tag: u8, n: u32) -> Vec<Span> {
    (0..n)
        .map(|i| {
            let b = i.to_be_bytes();
            let trace = [tag, b[0], b[1], b[2], b[3], 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2];
            span(
                &trace,
                &[tag, b[0], b[1], b[2], b[3], 1, 1, 1],
                "op",
                vec![],
            )
        })
        .collect()
}

/// A chunked body (no Content-Length) holds a share of the ingest budget that grows with
/// what it has read, at least the cost of what it has read and at most twice that (or the
/// first step, 64 KiB): while half of it is read, the self-metric shows that share; once
/// answered, it is given back, and every span is stored.
#[test]
fn a_chunked_body_being_read_holds_a_share_that_grows_with_it() {
    use std::io::{Read, Write};
    let (dir, server) = budget_server();
    let n = 12_000u32;
    let body = traces(numbered_spans(1, n)).encode_to_vec();
    let half = body.len() / 2;
    assert!(half > 256 * 1024, "the body is too small to show growth");
    let mut conn = std::net::TcpStream::connect(server.http).expect("connect");
    let head = "POST /v1/traces HTTP/1.1\r\nHost: strata\r\n\
                Content-Type: application/x-protobuf\r\nTransfer-Encoding: chunked\r\n\
                Connection: close\r\n\r\n";
    conn.write_all(head.as_bytes()).expect("head");
    let chunk = |conn: &mut std::net::TcpStream, data: &[u8]| {
        conn.write_all(format!("{:x}\r\n", data.len()).as_bytes())
            .expect("chunk size");
        conn.write_all(data).expect("chunk");
        conn.write_all(b"\r\n").expect("chunk end");
        conn.flush().expect("flush");
    };
    chunk(&mut conn, &body[..half]);
    // An uncompressed body is charged its bytes and ~3x them decoded (`request_cost`).
    let read_cost = 4 * half as u64;
    let deadline = std::time::Instant::now() + common::READY;
    let held = loop {
        let held = self_metric(&server, "strata_ingest_inflight_bytes") as u64;
        if held >= read_cost {
            break held;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a chunked body's share never grew past {held} bytes ({half} bytes read)"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(
        held <= 2 * read_cost + 1024,
        "{held} bytes held for {half} bytes read"
    );
    chunk(&mut conn, &body[half..]);
    conn.write_all(b"0\r\n\r\n").expect("last chunk");
    let mut answer = String::new();
    conn.read_to_string(&mut answer).expect("answer");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert_eq!(self_metric(&server, "strata_ingest_inflight_bytes"), 0.0);
    let status = server.terminate();
    assert!(status.success(), "{status}");
    let spans = common::read_spans(&data_dir(dir.path()), &EngineConfig::default(), "default");
    assert_eq!(spans.len(), n as usize);
}

/// A gRPC message is admitted into the ingest budget on the length its 5-byte prefix
/// declares, as soon as the prefix has arrived: while half of it is sent (a raw HTTP/2
/// stream, left open), the self-metric shows that share; once the rest is sent, it is
/// stored, answered OK, and the share given back.
#[test]
fn a_grpc_message_being_read_holds_its_declared_share_of_the_budget() {
    use prost::bytes::Bytes;
    let (dir, server) = budget_server();
    let n = 2_000u32;
    let message = traces(numbered_spans(3, n)).encode_to_vec();
    let mut framed = vec![0u8];
    framed.extend_from_slice(&u32::try_from(message.len()).expect("len").to_be_bytes());
    framed.extend_from_slice(&message);
    // An uncompressed message is charged its bytes and ~3x them decoded (`request_cost`).
    let held = (4 * message.len() as u64).div_ceil(1024) * 1024;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let tcp = tokio::net::TcpStream::connect(server.grpc)
            .await
            .expect("connect");
        let (client, conn) = h2::client::handshake(tcp).await.expect("handshake");
        tokio::spawn(async move { conn.await.expect("connection") });
        let mut client = client.ready().await.expect("ready");
        let req = tonic::codegen::http::Request::builder()
            .method("POST")
            .uri(format!(
                "http://{}/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                server.grpc
            ))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())
            .expect("request");
        let (answer, mut stream) = client.send_request(req, false).expect("send");
        let half = framed.len() / 2;
        stream
            .send_data(Bytes::copy_from_slice(&framed[..half]), false)
            .expect("half the message");
        let deadline = std::time::Instant::now() + common::READY;
        loop {
            let now = self_metric(&server, "strata_ingest_inflight_bytes");
            if now == held as f64 {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the message's share never showed: {now} bytes held, {held} declared"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        stream
            .send_data(Bytes::copy_from_slice(&framed[half..]), true)
            .expect("the rest");
        let answer = answer.await.expect("answer");
        assert_eq!(answer.status(), 200);
        let mut body = answer.into_body();
        while let Some(data) = body.data().await {
            data.expect("response data");
        }
        let trailers = body.trailers().await.expect("trailers").expect("trailers");
        assert_eq!(
            trailers.get("grpc-status").map(|v| v.as_bytes()),
            Some(&b"0"[..]),
            "{trailers:?}"
        );
    });
    assert_eq!(self_metric(&server, "strata_ingest_inflight_bytes"), 0.0);
    let status = server.terminate();
    assert!(status.success(), "{status}");
    let spans = common::read_spans(&data_dir(dir.path()), &EngineConfig::default(), "default");
    assert_eq!(spans.len(), n as usize);
}
