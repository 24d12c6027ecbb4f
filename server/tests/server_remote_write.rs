//! The real `strata` binary takes a realistic remote-write stream, answers health and
//! self-metrics, shuts down cleanly on SIGTERM, and every sample is in the data directory.

mod common;

use strata_tests::remote_write::{HEADERS, encode, node_and_http_series, uncompressed_len};
use strata_tests::server::{Server, data_dir};

#[test]
fn remote_write_round_trip_through_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), "[wal]\ndurability = \"fsync\"\n");
    assert_eq!(server.get("/live", &[]).expect("live").status, 200);
    server.wait_ready(common::READY);

    let series = node_and_http_series(6, 40, common::now_ms());
    let total: usize = series.iter().map(|s| s.samples.len()).sum();
    assert!(total > 6_000, "{total}");
    let protos: Vec<_> = series.iter().map(|s| s.to_proto()).collect();
    for batch in protos.chunks(25) {
        let r = server
            .post("/api/v1/write", &HEADERS, &encode(batch))
            .expect("remote-write");
        assert_eq!(r.status, 204, "{}", r.text());
    }
    // An identical re-send is harmless.
    let r = server
        .post("/api/v1/write", &HEADERS, &encode(&protos[..25]))
        .expect("re-send");
    assert_eq!(r.status, 204, "{}", r.text());

    let metrics = server.get("/metrics", &[]).expect("metrics").text();
    let want =
        format!("strata_ingested_samples_total{{tenant=\"default\",signal=\"metrics\"}} {total}\n");
    assert!(metrics.contains(&want), "{metrics}");
    let dup = "strata_duplicate_samples_total{tenant=\"default\",signal=\"metrics\"} ";
    assert!(
        metrics.contains(&format!("{dup}{}\n", 25 * 40)),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "strata_series{{tenant=\"default\"}} {}\n",
        series.len()
    )));
    assert!(
        metrics.contains("strata_http_requests_total{endpoint=\"/api/v1/write\",code=\"204\"}")
    );
    assert!(metrics.contains("strata_ready 1\n"));

    let status = server.terminate();
    assert!(status.success(), "exit after SIGTERM: {status}");
    let got = common::read_back(&data_dir(dir.path()), "default");
    let want = common::expected(&series);
    assert_eq!(got.len(), want.len());
    for (labels, samples) in &want {
        assert_eq!(got.get(labels), Some(samples), "series {labels:?}");
    }
}

/// Requests over 1 MiB uncompressed are decoded on the blocking pool, smaller ones on the
/// async worker that received them; both kinds, sent at the same time, are stored whole.
#[test]
fn large_and_small_requests_at_once_are_all_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), "[wal]\ndurability = \"fsync\"\n");
    server.wait_ready(common::READY);
    let now = common::now_ms();
    let large = node_and_http_series(40, 60, now);
    let large: Vec<_> = large.iter().map(|s| s.to_proto()).collect();
    assert!(
        uncompressed_len(&large) > 1 << 20,
        "{}",
        uncompressed_len(&large)
    );
    // Other hosts (the series differ), fewer steps: many small requests.
    let small: Vec<_> =
        node_and_http_series(46, 8, now).split_off(node_and_http_series(40, 8, now).len());
    let small_protos: Vec<_> = small.iter().map(|s| s.to_proto()).collect();
    std::thread::scope(|s| {
        let big = s.spawn(|| {
            server
                .post("/api/v1/write", &HEADERS, &encode(&large))
                .expect("large remote-write")
        });
        for batch in small_protos.chunks(10) {
            assert!(uncompressed_len(batch) < 1 << 20);
            let r = server
                .post("/api/v1/write", &HEADERS, &encode(batch))
                .expect("small remote-write");
            assert_eq!(r.status, 204, "{}", r.text());
        }
        let r = big.join().expect("sender thread");
        assert_eq!(r.status, 204, "{}", r.text());
    });
    assert!(server.terminate().success());
    let got = common::read_back(&data_dir(dir.path()), "default");
    let mut sent = node_and_http_series(40, 60, now);
    sent.extend(small);
    let want = common::expected(&sent);
    assert_eq!(got.len(), want.len());
    for (labels, samples) in &want {
        assert_eq!(got.get(labels), Some(samples), "series {labels:?}");
    }
}

/// A snappy body of 2,000,001 label-less samples is 4 MB decompressed and ~190 KB on the
/// wire, and would take ~0.5 GB to read (15 M of them took 3.9 GB): past 2 M samples per
/// request it is 413 before anything is stored, counted, and the server goes on.
#[test]
fn a_request_of_too_many_tiny_samples_is_413_and_stores_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    // WriteRequest { timeseries: [{ samples: [{}; 2_000_001] }] }, framed by hand.
    let samples = [0x12, 0x00].repeat(2_000_001);
    let mut raw = vec![0x0a];
    prost::encoding::encode_varint(samples.len() as u64, &mut raw);
    raw.extend_from_slice(&samples);
    let body = snap::raw::Encoder::new()
        .compress_vec(&raw)
        .expect("snappy");
    let r = server
        .post("/api/v1/write", &HEADERS, &body)
        .expect("remote-write");
    assert_eq!(r.status, 413, "{}", r.text());
    assert!(
        r.text()
            .contains("more than 2000000 samples in one request"),
        "{}",
        r.text()
    );

    let series = node_and_http_series(1, 5, common::now_ms());
    let protos: Vec<_> = series.iter().map(|s| s.to_proto()).collect();
    let r = server
        .post("/api/v1/write", &HEADERS, &encode(&protos))
        .expect("remote-write");
    assert_eq!(r.status, 204, "{}", r.text());
    let metrics = server.get("/metrics", &[]).expect("metrics").text();
    assert!(
        metrics.contains("strata_http_requests_total{endpoint=\"/api/v1/write\",code=\"413\"} 1\n"),
        "{metrics}"
    );
    assert!(server.terminate().success());
    let got = common::read_back(&data_dir(dir.path()), "default");
    assert_eq!(
        got,
        common::expected(&series),
        "only the small request is stored"
    );
}
