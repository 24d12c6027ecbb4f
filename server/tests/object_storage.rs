//! `[storage] backend = "s3"` against a real S3-compatible server on loopback (moto's
//! `moto_server`, from PyPI, installed by `.ci/test.sh`): what `strata serve` acknowledges
//! reaches the bucket, each partition's files before its manifest; with the bucket away,
//! ingest goes on, `/metrics` shows the mirror failing, and once the bucket is back (after
//! a SIGKILL and a restart, too) every partition is in it.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt};
use strata_tests::moto::{Moto, free_port, storage_section, until};
use strata_tests::remote_write::{HEADERS, TestSeries, encode};
use strata_tests::server::{Server, data_dir};

const BUCKET: &str = "strata-test";
const PREFIX: &str = "one";

fn config(port: u16) -> String {
    format!(
        "[engine]\nflush_interval = \"1s\"\n{}",
        storage_section(port, BUCKET, PREFIX)
    )
}

fn store(port: u16) -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(format!("http://127.0.0.1:{port}"))
            .with_allow_http(true)
            .with_region("us-east-1")
            .with_bucket_name(BUCKET)
            .with_access_key_id("test")
            .with_secret_access_key("test")
            .build()
            .expect("client"),
    )
}

/// The objects below the prefix, by relative key, with their bytes.
fn objects(store: &Arc<dyn ObjectStore>) -> BTreeMap<String, Vec<u8>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let metas: Vec<_> = store
            .list(Some(&Key::from(PREFIX)))
            .try_collect()
            .await
            .expect("list");
        let mut out = BTreeMap::new();
        for m in metas {
            let bytes = store
                .get(&m.location)
                .await
                .expect("get")
                .bytes()
                .await
                .expect("bytes");
            let rel = m.location.as_ref().trim_start_matches("one/").to_owned();
            out.insert(rel, bytes.to_vec());
        }
        out
    })
}

/// Every manifest object names only objects present, equal to the local files; the
/// manifests' partition directories.
fn check(bucket: &BTreeMap<String, Vec<u8>>, data: &Path) -> Vec<String> {
    let mut dirs = Vec::new();
    for (key, bytes) in bucket.iter().filter(|(k, _)| k.ends_with("/manifest.json")) {
        let dir = key.trim_end_matches("/manifest.json");
        let local = std::fs::read(data.join(key)).expect("a local manifest");
        assert_eq!(&local, bytes, "{key} is the local manifest");
        let manifest: serde_json::Value = serde_json::from_slice(bytes).expect("json");
        for entry in manifest["files"].as_array().expect("files") {
            for field in ["samples", "series", "index"] {
                if let Some(name) = entry[field].as_str() {
                    let object = format!("{dir}/{name}");
                    let stored = bucket
                        .get(&object)
                        .unwrap_or_else(|| panic!("{key}: no {object}"));
                    let local = std::fs::read(data.join(&object)).expect("local file");
                    assert_eq!(&local, stored, "{object}");
                }
            }
        }
        dirs.push(dir.to_owned());
    }
    dirs
}

fn metric(server: &Server, name: &str) -> f64 {
    let text = server.get("/metrics", &[]).expect("metrics").text();
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
        .unwrap_or(-1.0)
}

/// Pushes `n` log lines and 20 samples at `t_ms`, asserting they are acknowledged.
fn ingest(server: &Server, t_ms: i64, n: usize) {
    let values: Vec<String> = (0..n)
        .map(|i| {
            format!(
                "[\"{}\", \"line {i} at {t_ms}\"]",
                (t_ms + i as i64) * 1_000_000
            )
        })
        .collect();
    let body = format!(
        "{{\"streams\":[{{\"stream\":{{\"service_name\":\"api\"}},\"values\":[{}]}}]}}",
        values.join(",")
    );
    let pushed = server
        .post(
            "/loki/api/v1/push",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
        .expect("push");
    assert_eq!(pushed.status, 204, "{}", pushed.text());
    let series = [TestSeries {
        labels: vec![
            ("__name__".into(), "mirrored".into()),
            ("job".into(), "t".into()),
        ],
        samples: (0..20).map(|i| (t_ms + i * 1000, i as f64)).collect(),
    }];
    let protos: Vec<_> = series.iter().map(TestSeries::to_proto).collect();
    let written = server
        .post("/api/v1/write", &HEADERS, &encode(&protos))
        .expect("remote write");
    assert_eq!(written.status, 204, "{}", written.text());
}

#[test]
fn acknowledged_data_reaches_the_bucket_files_before_manifests() {
    let port = free_port();
    let _moto = Moto::start(port, BUCKET);
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(common::bin(), dir.path(), &config(port));
    server.wait_ready(Duration::from_secs(30));
    let now = common::now_ms();
    ingest(&server, now - 60_000, 200);
    let s3 = store(port);
    // One metrics and one logs partition (or two of each across an hour's edge).
    until("both signals in the bucket", || {
        let bucket = objects(&s3);
        let dirs = check(&bucket, &data_dir(dir.path()));
        dirs.iter().any(|d| d.starts_with("metrics/"))
            && dirs.iter().any(|d| d.starts_with("logs/"))
    });
    let bucket = objects(&s3);
    assert_eq!(
        bucket.get("_writer").map(|w| !w.is_empty()),
        Some(true),
        "the writer's claim on the prefix"
    );
    assert!(
        bucket.keys().any(|k| k.ends_with(".sum")),
        "the logs summary too"
    );
    assert!(metric(&server, "strata_remote_uploaded_objects_total") >= 4.0);
    assert_eq!(metric(&server, "strata_remote_healthy"), 1.0);
}

#[test]
fn with_the_bucket_away_ingest_goes_on_and_a_restart_finishes_the_mirror() {
    let port = free_port();
    let dir = tempfile::tempdir().expect("dir");
    // No server on the port yet: the bucket is unreachable.
    let server = Server::start(common::bin(), dir.path(), &config(port));
    server.wait_ready(Duration::from_secs(30));
    let now = common::now_ms();
    ingest(&server, now - 120_000, 100);
    until("a failed mirror pass", || {
        metric(&server, "strata_remote_failed_passes_total") >= 1.0
            && metric(&server, "strata_remote_pending_partitions") >= 1.0
    });
    assert_eq!(metric(&server, "strata_remote_healthy"), 0.0);
    // Still acknowledging, and flushing locally.
    ingest(&server, now - 60_000, 100);
    until("a local flush", || {
        std::fs::read_dir(data_dir(dir.path()).join("logs")).is_ok()
    });
    // A crash while the bucket is away.
    server.kill();

    let _moto = Moto::start(port, BUCKET);
    let server = Server::start(common::bin(), dir.path(), &config(port));
    server.wait_ready(Duration::from_secs(30));
    let s3 = store(port);
    until("the mirror caught up", || {
        metric(&server, "strata_remote_healthy") == 1.0
            && metric(&server, "strata_remote_pending_partitions") == 0.0
            && {
                let dirs = check(&objects(&s3), &data_dir(dir.path()));
                dirs.iter().any(|d| d.starts_with("metrics/"))
                    && dirs.iter().any(|d| d.starts_with("logs/"))
            }
    });
    // Every local partition is in the bucket.
    let bucket = objects(&s3);
    let data = data_dir(dir.path());
    for signal in ["metrics", "logs"] {
        // <signal>/tenant=*/date=*/hour=* with a manifest (the signal's directory also
        // holds markers).
        let dirs = |d: &Path| -> Vec<std::path::PathBuf> {
            std::fs::read_dir(d)
                .map(|rd| {
                    rd.filter_map(|e| e.ok().map(|e| e.path()))
                        .filter(|p| p.is_dir())
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut local = Vec::new();
        for tenant in dirs(&data.join(signal)) {
            for date in dirs(&tenant) {
                for hour in dirs(&date) {
                    if hour.join("manifest.json").exists() {
                        let rel = hour.strip_prefix(&data).expect("below");
                        local.push(rel.to_string_lossy().into_owned());
                    }
                }
            }
        }
        assert!(!local.is_empty());
        for d in local {
            assert!(
                bucket.contains_key(&format!("{d}/manifest.json")),
                "{d} mirrored"
            );
        }
    }
}

/// Every data file (samples, spans, logs Parquet) on the local disk below `root`.
fn local_data(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("")
                .to_owned();
            if p.is_dir() {
                dirs.push(p);
            } else if name.ends_with(".parquet")
                && ["samples-", "spans-", "logs-"]
                    .iter()
                    .any(|s| name.starts_with(s))
            {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn a_writer_with_bounded_local_copies_answers_from_the_bucket() {
    let port = free_port();
    let _moto = Moto::start(port, BUCKET);
    let dir = tempfile::tempdir().expect("dir");
    // One byte: every mirrored data file leaves the disk.
    let config = format!("{}cache_bytes = 1\n", config(port));
    let server = Server::start(common::bin(), dir.path(), &config);
    server.wait_ready(Duration::from_secs(30));
    let now = common::now_ms();
    ingest(&server, now - 60_000, 200);
    let data = data_dir(dir.path());
    until("the mirrored files evicted", || {
        metric(&server, "strata_remote_evicted_total") >= 2.0 && local_data(&data).is_empty()
    });
    let count = |server: &Server| {
        let r = server
            .post("/api/v1/sql", &[], b"SELECT count(*) AS n FROM logs")
            .expect("sql");
        assert_eq!(r.status, 200, "{}", r.text());
        let rows: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
        rows[0]["n"].as_u64()
    };
    assert_eq!(count(&server), Some(200), "read back from the bucket");
    let q = server.instant_query("count_over_time(mirrored[10m])", now, &[]);
    assert_eq!(q.status, 200, "{}", q.text());
    assert!(q.text().contains("\"20\""), "{}", q.text());
    assert!(metric(&server, "strata_remote_fetched_back_total") >= 2.0);
    // A restart with nothing on the disk finds the sets in the bucket.
    server.kill();
    let server = Server::start(common::bin(), dir.path(), &config);
    server.wait_ready(Duration::from_secs(30));
    assert_eq!(count(&server), Some(200));
}
