//! SIGKILL of a writer mirroring to a real S3 server on loopback (moto, installed by
//! `.ci/test.sh`) at random moments: while it flushes, uploads files over 8 MiB in parts,
//! puts manifests, and drops a second tenant's partitions (a one-byte disk budget: the
//! drops and the deletes that follow them). After the last restart nothing in the bucket
//! names a missing object, the objects no manifest names are deleted after the grace, a
//! query process reading the bucket counts every acknowledged log line of the first
//! tenant, and sees of the second what the writer keeps.

mod common;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as Key;
use object_store::{ObjectStore, ObjectStoreExt};
use serde_json::Value as Json;
use strata_tests::moto::{Moto, free_port, storage_section, until, until_every};
use strata_tests::server::Server;

const BUCKET: &str = "strata-crash";
const ROUNDS: u64 = 4;
/// Lines per push and pushes per round: about 12 MB of logs files a round (random hex
/// bodies), so a round's file is uploaded in parts.
const LINES: usize = 6_000;
const PUSHES: usize = 4;

fn config(port: u16, role: &str) -> String {
    format!(
        "[engine]\nflush_interval = \"1s\"\nmaintenance_interval = \"1s\"\n\
         [retention]\nlogs = \"30d\"\n[limits.tenants.gone]\ndisk_budget_bytes = 1\n\
         {}[cluster]\nrole = \"{role}\"\n",
        storage_section(port, BUCKET, "c")
    )
}

/// A small deterministic generator (xorshift), seeded per run and printed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Pushes `lines` lines of 1 KB random hex at `t_ms` for `tenant`; the lines
/// acknowledged.
fn push(server: &Server, rng: &mut Rng, t_ms: i64, tenant: &str, lines: usize) -> u64 {
    let values: Vec<String> = (0..lines)
        .map(|i| {
            let body: String = (0..64).map(|_| format!("{:016x}", rng.next())).collect();
            format!("[\"{}\", \"{body}\"]", (t_ms + i as i64) * 1_000_000)
        })
        .collect();
    let body = format!(
        "{{\"streams\":[{{\"stream\":{{\"service_name\":\"crash\"}},\"values\":[{}]}}]}}",
        values.join(",")
    );
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Scope-OrgID", tenant),
    ];
    match server.post("/loki/api/v1/push", &headers, body.as_bytes()) {
        Ok(r) if r.status == 204 => lines as u64,
        _ => 0,
    }
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

/// Every object below the prefix with its size.
fn objects(store: &Arc<dyn ObjectStore>) -> BTreeMap<String, u64> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let metas: Vec<_> = store
            .list(Some(&Key::from("c")))
            .try_collect()
            .await
            .expect("list");
        metas
            .into_iter()
            .map(|m| {
                (
                    m.location.as_ref().trim_start_matches("c/").to_owned(),
                    m.size,
                )
            })
            .collect()
    })
}

/// The manifests' problems: objects named and missing; and the data objects no manifest
/// names.
fn audit(store: &Arc<dyn ObjectStore>) -> (Vec<String>, Vec<String>) {
    let all = objects(store);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut missing = Vec::new();
    let mut named = Vec::new();
    for key in all.keys().filter(|k| k.ends_with("/manifest.json")) {
        let bytes = rt.block_on(async {
            store
                .get(&Key::from(format!("c/{key}")))
                .await
                .expect("get")
                .bytes()
                .await
                .expect("bytes")
        });
        let dir = key.trim_end_matches("/manifest.json");
        let manifest: Json = serde_json::from_slice(&bytes).expect("manifest");
        for entry in manifest["files"].as_array().expect("files") {
            for field in ["samples", "series", "index"] {
                if let Some(name) = entry[field].as_str() {
                    let object = format!("{dir}/{name}");
                    if !all.contains_key(&object) {
                        missing.push(object.clone());
                    }
                    named.push(object.replace(".parquet", ""));
                }
            }
        }
    }
    let unnamed = all
        .keys()
        .filter(|k| k.contains('/') && !k.ends_with("/manifest.json"))
        .filter(|k| {
            let stem = k.rsplit_once('.').map_or(k.as_str(), |(s, _)| s);
            !named.iter().any(|n| n == stem)
        })
        .cloned()
        .collect();
    (missing, unnamed)
}

fn count(server: &Server, tenant: &str) -> u64 {
    let r = server
        .post(
            "/api/v1/sql",
            &[("X-Scope-OrgID", tenant)],
            b"SELECT count(*) AS n FROM logs",
        )
        .expect("sql");
    assert_eq!(r.status, 200, "{}", r.text());
    let rows: Json = serde_json::from_slice(&r.body).expect("JSON");
    rows[0]["n"].as_u64().expect("n")
}

#[test]
fn killed_writers_leave_the_bucket_whole() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1;
    eprintln!("seed {seed}");
    let mut rng = Rng(seed);
    let port = free_port();
    let _moto = Moto::start(port, BUCKET);
    let dir = tempfile::tempdir().expect("dir");
    let s3 = store(port);
    let t0 = common::now_ms() - 600_000;
    let mut acked = 0;
    for round in 0..ROUNDS {
        let server = Server::start(common::bin(), dir.path(), &config(port, "writer"));
        server.wait_ready(common::READY);
        for p in 0..PUSHES {
            let at = t0 + ((round * PUSHES as u64 + p as u64) * LINES as u64) as i64;
            acked += push(&server, &mut rng, at, "default", LINES);
            // The second tenant's partitions are dropped soon after each flush.
            push(&server, &mut rng, at - 7_200_000, "gone", LINES / 10);
        }
        // Somewhere in the uploads that follow the round's flush: 0-250 ms after its
        // commit marker moves (two files, one in parts, then the manifest: ~150 ms).
        let marker = strata_tests::server::data_dir(dir.path()).join("metrics/FLUSHED");
        let before = std::fs::read(&marker).unwrap_or_default();
        until_every("the round's flush", Duration::from_millis(5), || {
            std::fs::read(&marker).is_ok_and(|m| m != before)
        });
        std::thread::sleep(Duration::from_millis(rng.next() % 250));
        server.kill();
        let (missing, unnamed) = audit(&s3);
        // Where the kill landed, for a failure's log: uploads not yet named by a manifest
        // are a kill between a partition's files and its manifest.
        let data = objects(&s3)
            .keys()
            .filter(|k| k.ends_with(".parquet"))
            .count();
        eprintln!("round {round}: {data} data objects, not yet named {unnamed:?}");
        assert!(
            missing.is_empty(),
            "round {round}: named and missing {missing:?}"
        );
    }
    assert_eq!(
        acked,
        ROUNDS * (PUSHES * LINES) as u64,
        "every push acknowledged"
    );

    let writer = Server::start(common::bin(), dir.path(), &config(port, "writer"));
    writer.wait_ready(common::READY);
    let qdir = tempfile::tempdir().expect("dir");
    let query = Server::start(common::bin(), qdir.path(), &config(port, "query"));
    query.wait_ready(common::READY);
    until(
        "the bucket to hold every acknowledged line, and nothing else",
        || {
            let (missing, unnamed) = audit(&s3);
            assert!(missing.is_empty(), "named and missing {missing:?}");
            unnamed.is_empty()
                && count(&query, "default") == acked
                && count(&query, "gone") == count(&writer, "gone")
        },
    );
    assert_eq!(count(&writer, "default"), acked);
}
