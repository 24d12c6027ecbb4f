//! The admin API against the real `strata` binary: `strata snapshot` while a writer keeps
//! remote-writing gives a directory that opens (with the engine and with `strata promql
//! --data-dir`) holding every sample acknowledged before the call; `strata delete series`
//! and `strata delete spans` take the matched data out of PromQL and SQL and nothing else;
//! without the admin scope both are refused with 403, and bad input with 400. A
//! tenant-bound admin token snapshots, lists and removes its tenant's snapshots only and
//! may not reload the server; `strata snapshot --keep N` prunes.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strata_tests::http::{Framing, request};
use strata_tests::remote_write::{HEADERS, TestSeries, encode};
use strata_tests::server::{Server, data_dir};

// The tokens "writer" (acme: read, write), "admin" (acme: every scope, any tenant) and
// "acme-admin" (every scope, bound to acme).
const CONFIG: &str = r#"
[engine]
flush_interval = "300ms"
maintenance_interval = "200ms"
[[auth.tokens]]
sha256 = "SHA_WRITER"
tenant = "acme"
scopes = ["read", "write"]
[[auth.tokens]]
sha256 = "SHA_ADMIN"
tenant = "acme"
scopes = ["read", "write", "admin"]
choose_tenant = true
[[auth.tokens]]
sha256 = "SHA_ACME_ADMIN"
tenant = "acme"
scopes = ["read", "write", "admin"]
"#;

const ADMIN: (&str, &str) = ("Authorization", "Bearer admin");
const WRITER: (&str, &str) = ("Authorization", "Bearer writer");
const ACME_ADMIN: (&str, &str) = ("Authorization", "Bearer acme-admin");
const FORM: (&str, &str) = ("Content-Type", "application/x-www-form-urlencoded");

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

fn start(dir: &Path) -> Server {
    let config = CONFIG
        .replace("SHA_WRITER", &sha256_hex("writer"))
        .replace("SHA_ADMIN", &sha256_hex("admin"))
        .replace("SHA_ACME_ADMIN", &sha256_hex("acme-admin"));
    let server = Server::start(common::bin(), dir, &config);
    server.wait_ready(common::READY);
    server
}

fn series(labels: &[(&str, &str)], samples: Vec<(i64, f64)>) -> TestSeries {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    labels.sort();
    TestSeries { labels, samples }
}

fn remote_write(server: &Server, series: &[TestSeries], extra: &[(&str, &str)]) {
    let protos: Vec<_> = series.iter().map(TestSeries::to_proto).collect();
    let headers: Vec<_> = HEADERS
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect();
    let resp = server
        .post("/api/v1/write", &headers, &encode(&protos))
        .expect("remote write");
    assert_eq!(resp.status, 204, "{}", resp.text());
}

/// `strata <args>` with the server's URL; its stdout, asserted to succeed.
fn strata(server: &Server, args: &[&str]) -> String {
    let out = Command::new(common::bin())
        .args(args)
        .args(["--url", &format!("http://{}", server.http)])
        .output()
        .expect("run strata");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "strata {args:?}: {stdout}{stderr}");
    stdout
}

/// A POST of `form` to `path`; status and body.
fn admin_post(server: &Server, path: &str, form: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut h = vec![FORM];
    h.extend_from_slice(headers);
    let r = server.post(path, &h, form.as_bytes()).expect("post");
    (r.status, r.text())
}

/// The rows of `query` over SQL as the admin token (tenant `tenant`), as JSON text.
fn sql(server: &Server, tenant: &str, query: &str) -> String {
    let r = request(
        server.http,
        "POST",
        "/api/v1/sql",
        &[ADMIN, ("X-Scope-OrgID", tenant)],
        query.as_bytes(),
        Framing::Length,
    )
    .expect("sql");
    assert_eq!(r.status, 200, "{query}: {}", r.text());
    r.text()
}

#[test]
fn a_snapshot_under_remote_write_opens_with_every_sample_acknowledged_before_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Arc::new(start(dir.path()));
    let base = common::now_ms() - 60_000;
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(Mutex::new(Vec::<(u64, Instant)>::new()));
    let writer = {
        let (server, stop, acked) = (server.clone(), stop.clone(), acked.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let s = series(
                    &[("__name__", "load"), ("job", "w")],
                    vec![(base + i as i64, i as f64)],
                );
                remote_write(&server, &[s], &[WRITER]);
                acked.lock().expect("lock").push((i, Instant::now()));
                i += 1;
            }
        })
    };
    std::thread::sleep(Duration::from_millis(700));

    // Without the admin scope: refused, nothing written.
    let (status, body) = admin_post(&server, "/api/v1/admin/tsdb/snapshot", "", &[WRITER]);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("admin"), "{body}");
    let (status, _) = admin_post(&server, "/api/v1/admin/tsdb/snapshot", "", &[]);
    assert_eq!(status, 401);
    let (status, body) = admin_post(
        &server,
        "/api/v1/admin/tsdb/snapshot",
        "skip_head=maybe",
        &[ADMIN],
    );
    assert_eq!(status, 400, "{body}");
    assert!(!data_dir(dir.path()).join("snapshots").exists());

    let began = Instant::now();
    let name = strata(&server, &["snapshot", "--token", "admin"]);
    let name = name.trim();
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    writer.join().expect("writer");
    assert!(
        name.len() == 33 && name.as_bytes()[15] == b'Z',
        "a Prometheus-style name: {name:?}"
    );
    let snapshot = data_dir(dir.path()).join("snapshots").join(name);

    // Restored as Prometheus's are: the snapshot directory copied as a data directory.
    let restored = dir.path().join("restored");
    let cp = Command::new("cp")
        .arg("-a")
        .arg(&snapshot)
        .arg(&restored)
        .status()
        .expect("cp");
    assert!(cp.success());
    let found = common::read_back(&restored, "acme");
    let samples: std::collections::BTreeSet<i64> =
        found.values().flatten().map(|(ts, _)| ts - base).collect();
    let acked = acked.lock().expect("lock");
    let before: Vec<u64> = acked
        .iter()
        .filter(|(_, at)| *at < began)
        .map(|(i, _)| *i)
        .collect();
    assert!(
        before.len() > 20,
        "only {} writes before the snapshot",
        before.len()
    );
    let missing: Vec<_> = before
        .iter()
        .filter(|i| !samples.contains(&(**i as i64)))
        .collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the snapshot, missing: {missing:?}"
    );
    assert!(samples.iter().all(|&i| (i as u64) < acked.len() as u64));

    // The offline PromQL command reads the snapshot too.
    let out = Command::new(common::bin())
        .args(["promql", "--data-dir"])
        .arg(&snapshot)
        .args(["--tenant", "acme", "--format", "csv", "--time"])
        .arg(format!("{:.3}", (base + 300_000) as f64 / 1000.0))
        .arg("count_over_time(load[10m])")
        .output()
        .expect("strata promql");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let counted = format!(",{}", samples.len());
    assert!(
        text.lines().any(|l| l.ends_with(&counted)),
        "{} samples counted: {text}",
        samples.len()
    );
    drop(acked);
}

#[test]
fn deletes_take_the_matched_data_out_of_promql_and_sql_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let base = (common::now_ms() - 3_600_000) / 1000 * 1000;
    let minutes = |n: i64| {
        (0..n)
            .map(|m| (base + m * 60_000, m as f64))
            .collect::<Vec<_>>()
    };
    let data = [
        series(&[("__name__", "up"), ("job", "api")], minutes(30)),
        series(&[("__name__", "up"), ("job", "db")], minutes(30)),
    ];
    for tenant in ["acme", "other"] {
        remote_write(&server, &data, &[ADMIN, ("X-Scope-OrgID", tenant)]);
    }
    // Spans with a client address, over OTLP/JSON.
    let span = |id: u8, addr: &str| {
        format!(
            r#"{{"traceId":"{id:02x}{}","spanId":"00000000000000{id:02x}","name":"GET /cart","kind":2,
            "startTimeUnixNano":"{s}","endTimeUnixNano":"{e}",
            "attributes":[{{"key":"client.address","value":{{"stringValue":"{addr}"}}}}]}}"#,
            "ab".repeat(15),
            s = (base + 60_000) * 1_000_000,
            e = (base + 60_000) * 1_000_000 + 5_000_000,
        )
    };
    let traces = format!(
        r#"{{"resourceSpans":[{{"resource":{{"attributes":[{{"key":"service.name","value":{{"stringValue":"shop"}}}}]}},
        "scopeSpans":[{{"spans":[{},{},{}]}}]}}]}}"#,
        span(1, "1.2.3.4"),
        span(2, "5.6.7.8"),
        span(3, "1.2.3.4")
    );
    let r = request(
        server.http,
        "POST",
        "/v1/traces",
        &[WRITER, ("Content-Type", "application/json")],
        traces.as_bytes(),
        Framing::Length,
    )
    .expect("otlp");
    assert_eq!(r.status, 200, "{}", r.text());

    let counts = |tenant| job_counts(&server, tenant);
    let all = r#"[{"job":"api","n":30},{"job":"db","n":30}]"#;
    assert_eq!(counts("acme"), all);

    // Refused: no admin scope (403), bad input (400); nothing changes.
    let path = "/api/v1/admin/tsdb/delete_series";
    let (status, _) = admin_post(&server, path, "match[]=up", &[WRITER]);
    assert_eq!(status, 403);
    for (form, says) in [
        ("", "no match[] parameter provided"),
        ("match[]=up%7B", "invalid parameter"),
        (
            "match[]=%7Bjob%3D~%22.*%22%7D",
            "at least one non-empty matcher",
        ),
        (
            "match[]=up&start=20&end=10",
            "end timestamp must not be before start time",
        ),
    ] {
        let (status, body) = admin_post(&server, path, form, &[ADMIN]);
        assert_eq!(status, 400, "{form}: {body}");
        assert!(body.contains(says), "{form}: {body}");
        assert!(body.contains("\"errorType\":\"bad_data\""), "{body}");
    }
    let (status, body) = admin_post(
        &server,
        "/api/v1/admin/delete_records",
        "signal=spans",
        &[ADMIN],
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(counts("acme"), all);

    // job="api" from minute 10 to minute 19, through the CLI.
    let secs = |m: i64| format!("{:.3}", (base + m * 60_000) as f64 / 1000.0);
    let out = strata(
        &server,
        &[
            "delete",
            "series",
            "--token",
            "admin",
            "--match",
            "up{job=\"api\"}",
            "--start",
            &secs(10),
            "--end",
            &secs(19),
        ],
    );
    assert!(out.contains("deleted"), "{out}");
    assert_eq!(
        counts("acme"),
        r#"[{"job":"api","n":20},{"job":"db","n":30}]"#
    );
    assert_eq!(counts("other"), all, "another tenant untouched");
    let at = (base + 29 * 60_000) as f64 / 1000.0;
    let r = server.instant_query(
        "count_over_time(up{job=\"api\"}[15m])",
        (at * 1000.0) as i64,
        &[WRITER],
    );
    // Minutes 15-29 hold 15 samples, of which 15-19 are gone.
    assert!(r.text().contains("\"10\""), "{}", r.text());
    let r = server.instant_query(
        "count_over_time(up{job=\"db\"}[15m])",
        (at * 1000.0) as i64,
        &[WRITER],
    );
    assert!(r.text().contains("\"15\""), "{}", r.text());

    // Spans of one client address, through the CLI.
    let out = strata(
        &server,
        &[
            "delete",
            "spans",
            "--token",
            "admin",
            "--where",
            "client.address = '1.2.3.4'",
        ],
    );
    assert!(out.starts_with("deleted 2 spans"), "{out}");
    let left = sql(
        &server,
        "acme",
        "SELECT attributes['client.address'] AS a FROM spans ORDER BY 1",
    );
    assert_eq!(left, r#"[{"a":"5.6.7.8"}]"#);

    // Still so after a restart (flushed and reopened).
    assert!(server.terminate().success());
    let server = start(dir.path());
    assert_eq!(
        job_counts(&server, "acme"),
        r#"[{"job":"api","n":20},{"job":"db","n":30}]"#
    );
    assert_eq!(job_counts(&server, "other"), all);
}

/// Samples per `job` of `tenant`'s `up`, over SQL.
/// Samples of `up` per job (the spans the test writes also make RED-metric series,
/// `traces_spanmetrics_*`, written at shutdown: not what the deletes are about).
fn job_counts(server: &Server, tenant: &str) -> String {
    sql(
        server,
        tenant,
        "SELECT labels['job'] AS job, count(*) AS n FROM metrics WHERE metric = 'up' \
         GROUP BY 1 ORDER BY 1",
    )
}

/// The snapshots `token` may see, as (name, tenant) pairs, oldest first.
fn listed(server: &Server, token: (&str, &str)) -> Vec<(String, String)> {
    let r = server
        .get("/api/v1/admin/tsdb/snapshots", &[token])
        .expect("list");
    assert_eq!(r.status, 200, "{}", r.text());
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("json");
    let list = v["data"].as_array().cloned().unwrap_or_default();
    list.iter()
        .map(|s| {
            assert!(s["bytes"].as_u64().is_some_and(|b| b > 0), "{s}");
            assert!(s["exclusiveBytes"].as_u64().is_some(), "{s}");
            let tenant = s["tenant"].as_str().unwrap_or("*");
            (
                s["name"].as_str().expect("name").to_owned(),
                tenant.to_owned(),
            )
        })
        .collect()
}

/// The `tenant=` directories of every signal in a snapshot.
fn tenants_in(snapshot: &Path) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for signal in ["metrics", "traces", "logs"] {
        let Ok(dirs) = std::fs::read_dir(snapshot.join(signal)) else {
            continue;
        };
        for d in dirs {
            let name = d.expect("entry").file_name().to_string_lossy().into_owned();
            if let Some(t) = name.strip_prefix("tenant=") {
                out.insert(t.to_owned());
            }
        }
    }
    out
}

#[test]
fn a_tenant_bound_admin_token_snapshots_lists_and_removes_its_own_tenant_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(dir.path());
    let base = common::now_ms() - 60_000;
    let up = series(&[("__name__", "up")], vec![(base, 1.0)]);
    remote_write(&server, std::slice::from_ref(&up), &[WRITER]);
    remote_write(&server, &[up], &[ADMIN, ("X-Scope-OrgID", "beta")]);
    let snapshots = data_dir(dir.path()).join("snapshots");

    // The bound token's snapshot: acme's data only, and it opens as a data directory.
    let own = strata(&server, &["snapshot", "--token", "acme-admin"]);
    let own = own.trim().to_owned();
    assert_eq!(
        tenants_in(&snapshots.join(&own)),
        ["acme".to_owned()].into()
    );
    assert_eq!(common::read_back(&snapshots.join(&own), "acme").len(), 1);
    assert!(common::read_back(&snapshots.join(&own), "beta").is_empty());
    // Naming another tenant is refused, as for any tenant-bound call.
    let (status, body) = admin_post(
        &server,
        "/api/v1/admin/tsdb/snapshot",
        "",
        &[ACME_ADMIN, ("X-Scope-OrgID", "beta")],
    );
    assert_eq!(status, 403, "{body}");

    // The unbound token's: every tenant; with X-Scope-OrgID, that tenant's.
    let all = strata(&server, &["snapshot", "--token", "admin"]);
    let all = all.trim().to_owned();
    let both: std::collections::BTreeSet<String> = ["acme".into(), "beta".into()].into();
    assert_eq!(tenants_in(&snapshots.join(&all)), both);
    let beta = strata(
        &server,
        &["snapshot", "--token", "admin", "--tenant", "beta"],
    );
    let beta = beta.trim().to_owned();
    assert_eq!(
        tenants_in(&snapshots.join(&beta)),
        ["beta".to_owned()].into()
    );

    // Each sees what it reaches.
    let mine = vec![(own.clone(), "acme".to_owned())];
    assert_eq!(listed(&server, ACME_ADMIN), mine);
    let every = listed(&server, ADMIN);
    assert_eq!(every.len(), 3, "{every:?}");
    assert!(every.contains(&(all.clone(), "*".to_owned())), "{every:?}");
    let r = server
        .get("/api/v1/admin/tsdb/snapshots", &[WRITER])
        .expect("list");
    assert_eq!(r.status, 403);

    // Another reach's snapshot is not there for the bound token; a bad name is refused.
    let remove = |name: &str, token| {
        let path = format!("/api/v1/admin/tsdb/snapshots/{name}");
        let r = request(server.http, "DELETE", &path, &[token], b"", Framing::Length);
        let r = r.expect("delete");
        (r.status, r.text())
    };
    assert_eq!(remove(&all, ACME_ADMIN).0, 404);
    assert_eq!(remove(&beta, ACME_ADMIN).0, 404);
    let (status, body) = remove("..%2Fwal", ADMIN);
    assert_eq!(status, 404, "{body}");
    assert!(data_dir(dir.path()).join("wal").is_dir());
    assert!(snapshots.join(&all).is_dir() && snapshots.join(&beta).is_dir());
    assert_eq!(remove(&beta, ADMIN).0, 204);
    assert!(!snapshots.join(&beta).exists());

    // Counted in the self-metrics: the bound token sees its own snapshot only.
    let metrics = |token| {
        let r = server.get("/metrics", &[token]).expect("metrics");
        r.text()
    };
    let text = metrics(ACME_ADMIN);
    let own_line = format!("strata_snapshot_bytes{{snapshot=\"{own}\",tenant=\"acme\"}} ");
    assert!(text.contains(&own_line), "{text}");
    assert!(!text.contains(&all), "{text}");
    let text = metrics(ADMIN);
    assert!(
        text.contains(&format!(
            "strata_snapshot_exclusive_bytes{{snapshot=\"{all}\"}} "
        )),
        "{text}"
    );

    // --keep: the bound token's own snapshots, newest first; the server-wide one stays.
    for _ in 0..2 {
        // Listed in the order taken, by the millisecond.
        std::thread::sleep(Duration::from_millis(10));
        strata(
            &server,
            &["snapshot", "--token", "acme-admin", "--keep", "2"],
        );
    }
    let kept = listed(&server, ACME_ADMIN);
    assert_eq!(kept.len(), 2, "{kept:?}");
    assert!(
        !kept.iter().any(|(n, _)| *n == own),
        "the oldest went: {kept:?}"
    );
    assert!(snapshots.join(&all).is_dir());
    let out = strata(&server, &["snapshot", "--token", "acme-admin", "--list"]);
    assert_eq!(out.lines().count(), 2, "{out}");
    let out = strata(
        &server,
        &["snapshot", "--token", "acme-admin", "--remove", &kept[0].0],
    );
    assert!(out.contains("removed"), "{out}");
    assert_eq!(listed(&server, ACME_ADMIN).len(), 1);

    // Reloading the server needs the unbound token.
    let (status, body) = admin_post(&server, "/-/reload", "", &[ACME_ADMIN]);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("choose_tenant"), "{body}");
    let (status, body) = admin_post(&server, "/-/reload", "", &[ADMIN]);
    assert_ne!(status, 403, "{body}");
}
