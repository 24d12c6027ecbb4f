//! SIGKILL the real server while several OTLP/HTTP clients are sending spans; on restart,
//! every acknowledged span is back, field for field, its instrumentation scope's
//! attributes included (as `server_crash.rs` does for samples).

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue as OtlpValue, InstrumentationScope, KeyValue, any_value,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use prost::Message;
use strata_engine::{AnyValue, Scope, SpanRecord};
use strata_tests::http::{Framing, request};
use strata_tests::server::{Server, data_dir};

fn int(key: &str, v: i64) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(OtlpValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

/// Batch `n` of writer `w`: 100 spans of one trace unique to (w, n), their scope's
/// attributes naming (w, n), and what the engine should hold for each (the translation is
/// tested on its own; this checks durability).
fn batch(w: u8, n: u32, start_ns: i64) -> (Vec<u8>, Vec<SpanRecord>) {
    let mut trace_id = [0u8; 16];
    trace_id[0] = w + 1;
    trace_id[12..].copy_from_slice(&n.to_be_bytes());
    let service = format!("writer-{w}");
    let attr = |i: u32| ("i".to_owned(), AnyValue::Int(i64::from(i)));
    let resource = vec![("service.name".to_owned(), AnyValue::String(service.clone()))];
    let scope = InstrumentationScope {
        name: "crash-test".into(),
        version: "1".into(),
        attributes: vec![int("writer", i64::from(w)), int("batch", i64::from(n))],
        ..Default::default()
    };
    let stored_scope = std::sync::Arc::new(Scope {
        name: "crash-test".into(),
        version: "1".into(),
        attributes: vec![
            ("writer".into(), AnyValue::Int(i64::from(w))),
            ("batch".into(), AnyValue::Int(i64::from(n))),
        ],
    });
    let mut spans = Vec::new();
    let mut want = Vec::new();
    for i in 0..100u32 {
        let mut span_id = [0u8; 8];
        span_id[..4].copy_from_slice(&(i + 1).to_be_bytes());
        let start = start_ns + i64::from(i) * 1_000;
        spans.push(Span {
            trace_id: trace_id.to_vec(),
            span_id: span_id.to_vec(),
            name: format!("op-{i}"),
            kind: 1,
            start_time_unix_nano: start as u64,
            end_time_unix_nano: start as u64 + 500,
            attributes: vec![int("i", i64::from(i))],
            ..Default::default()
        });
        want.push(SpanRecord {
            trace_id,
            span_id,
            service_name: service.clone(),
            name: format!("op-{i}"),
            kind: 1,
            start_ns: start,
            end_ns: start + 500,
            attributes: vec![attr(i)],
            resource_attributes: resource.clone().into(),
            scope: stored_scope.clone(),
            ..Default::default()
        });
    }
    let req = ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![KeyValue {
                    key: "service.name".into(),
                    value: Some(OtlpValue {
                        value: Some(any_value::Value::StringValue(service)),
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(scope),
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    };
    (req.encode_to_vec(), want)
}

fn key(s: &SpanRecord) -> ([u8; 16], [u8; 8]) {
    (s.trace_id, s.span_id)
}

#[test]
fn acknowledged_spans_survive_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The rate limit is not under test.
    let config = "[wal]\ndurability = \"fsync\"\n[limits]\nsignal_record_rate = 100000000\n\
                  signal_record_burst = 100000000\n";
    let server = Server::start(common::bin(), dir.path(), config);
    server.wait_ready(common::READY);
    let addr = server.http;
    let start_ns = (common::now_ms() - 60_000) * 1_000_000;
    let acked: Arc<Mutex<Vec<SpanRecord>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..4u8)
        .map(|w| {
            let acked = acked.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    let (body, want) = batch(w, n, start_ns);
                    let headers = [("Content-Type", "application/x-protobuf")];
                    match request(addr, "POST", "/v1/traces", &headers, &body, Framing::Length) {
                        // 200 with no partial_success: every span stored.
                        Ok(r) if r.status == 200 && r.body.is_empty() => {
                            acked.lock().expect("lock").extend(want);
                        }
                        Ok(r) => panic!("writer {w} batch {n}: {} {}", r.status, r.text()),
                        Err(_) => return, // the server died under this request
                    }
                    n += 1;
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(2500));
    server.kill();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().expect("writer thread");
    }
    let mut acked = std::mem::take(&mut *acked.lock().expect("lock"));
    assert!(
        acked.len() >= 2_000,
        "too few acknowledged batches to mean anything: {}",
        acked.len() / 100
    );

    // Restart: ready once the WAL is replayed; then stop and read the directory.
    let server = Server::start(common::bin(), dir.path(), config);
    server.wait_ready(common::READY);
    let status = server.terminate();
    assert!(status.success(), "{status}");

    let engine_config = strata_server::Config::from_toml(config)
        .expect("config")
        .engine;
    let mut got = common::read_spans(&data_dir(dir.path()), &engine_config, "default");
    got.sort_by_key(key);
    acked.sort_by_key(key);
    // Spans acknowledged are all there, as sent; unacknowledged ones may be there too
    // (written before the kill, answer lost), but nothing twice.
    let mut got_iter = got.iter().peekable();
    for want in &acked {
        while got_iter.peek().is_some_and(|g| key(g) < key(want)) {
            got_iter.next();
        }
        assert_eq!(
            got_iter.next(),
            Some(want),
            "acknowledged span {:02x?}",
            key(want)
        );
    }
    let mut keys: Vec<_> = got.iter().map(key).collect();
    keys.dedup();
    assert_eq!(keys.len(), got.len(), "a span stored twice");
}
