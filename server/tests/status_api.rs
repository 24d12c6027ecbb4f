//! The status API (`/api/v1/status/*`) of the real binary, with auth on: cardinality equals
//! what the test wrote, per tenant and never another's; limits count the `series_limit`
//! rejections the test provokes, and the history holds them as deltas; disk lists the
//! partitions a flush made; the configuration hides every token digest; bad parameters
//! are a 400 with a message.

mod common;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use strata_tests::remote_write::{HEADERS, TestSeries, encode};
use strata_tests::server::Server;

const SHA_CHOOSE: &str = "8dbdfee12f95d88231752205b7b8bffbe0e8d0c5f8be39c1b0361a16f4a44430";
const SHA_ACME: &str = "94e9bd1167aaf11cddc7472ed614733ee09990f3187bab7c4be40a6ebe916201";
const SHA_BETA: &str = "c4dc09707289177ebbc620322e447b03104405e10d1ea3b752c1b34ebfd2ed7e";

const CHOOSE: (&str, &str) = ("Authorization", "Bearer tok-choose");
const ACME: (&str, &str) = ("Authorization", "Bearer tok-acme");
const BETA: (&str, &str) = ("Authorization", "Bearer tok-beta");

fn config() -> String {
    format!(
        "[engine]\nflush_interval = \"1s\"\n\
         [limits.tenants.acme]\nmax_active_series = 110\n\
         [[auth.tokens]]\nsha256 = \"{SHA_CHOOSE}\"\ntenant = \"default\"\nscopes = [\"read\", \"write\"]\nchoose_tenant = true\n\
         [[auth.tokens]]\nsha256 = \"{SHA_ACME}\"\ntenant = \"acme\"\nscopes = [\"read\", \"write\"]\n\
         [[auth.tokens]]\nsha256 = \"{SHA_BETA}\"\ntenant = \"beta\"\nscopes = [\"read\", \"write\"]\n"
    )
}

fn series(labels: &[(&str, &str)], ts: &[i64]) -> TestSeries {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    labels.sort();
    TestSeries {
        labels,
        samples: ts.iter().map(|&t| (t, 1.0)).collect(),
    }
}

/// acme's 110 series: 100 `http_requests_total` (50 pods × 2 methods, job=api) and 10 `up`
/// (jobs api and db × 5 instances).
fn acme(ts: &[i64]) -> Vec<TestSeries> {
    let mut out = Vec::new();
    for pod in 0..50 {
        for method in ["GET", "POST"] {
            let pod = format!("pod-{pod}");
            out.push(series(
                &[
                    ("__name__", "http_requests_total"),
                    ("job", "api"),
                    ("pod", &pod),
                    ("method", method),
                ],
                ts,
            ));
        }
    }
    for job in ["api", "db"] {
        for i in 0..5 {
            let inst = format!("i{i}");
            out.push(series(
                &[("__name__", "up"), ("job", job), ("instance", &inst)],
                ts,
            ));
        }
    }
    out
}

fn write(server: &Server, auth: (&str, &str), series: &[TestSeries]) -> u16 {
    let protos: Vec<_> = series.iter().map(TestSeries::to_proto).collect();
    let headers = [HEADERS[0], HEADERS[1], HEADERS[2], auth];
    let r = server
        .post("/api/v1/write", &headers, &encode(&protos))
        .expect("remote-write");
    r.status
}

/// GET `path`, expecting `status`; the JSON body.
fn get(server: &Server, path: &str, headers: &[(&str, &str)], status: u16) -> Value {
    let r = server.get(path, headers).expect("request");
    assert_eq!(r.status, status, "{path}: {}", r.text());
    if status == 401 || status == 403 {
        return Value::Null; // the auth layer's plain-text answer
    }
    assert_eq!(r.header("content-type"), Some("application/json"), "{path}");
    serde_json::from_str(&r.text()).expect("JSON")
}

fn data(server: &Server, path: &str, headers: &[(&str, &str)]) -> Value {
    let v = get(server, path, headers, 200);
    assert_eq!(v["status"], "success", "{v}");
    v["data"].clone()
}

fn nv(name: &str, value: u64) -> Value {
    json!({"name": name, "value": value})
}

#[test]
fn status_api_reports_each_tenant_its_own_figures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), &config());
    server.wait_ready(common::READY);
    let now = common::now_ms();
    let ts = [now - 30_000, now - 15_000];

    write_acme_and_beta(&server, &ts);
    no_token_or_another_tenant_is_refused(&server);
    cardinality(&server);
    bad_parameters(&server);
    each_tenant_its_own(&server);
    limits(&server);
    disk(&server, now);
    config_in_force(&server);
    runtime_info(&server);

    let status = server.terminate();
    assert!(status.success(), "{status}");
}

/// Acme's series (and five over its limit, refused), then beta's.
fn write_acme_and_beta(server: &Server, ts: &[i64]) {
    assert_eq!(write(server, ACME, &acme(ts)), 204);
    // Five more series are over acme's max_active_series of 110: refused, 2 samples each.
    let extra: Vec<TestSeries> = (0..5)
        .map(|i| series(&[("__name__", "extra"), ("i", &i.to_string())], ts))
        .collect();
    let status = write(server, ACME, &extra);
    assert!((400..500).contains(&status), "{status}");
    let beta: Vec<TestSeries> = (0..3)
        .map(|i| {
            series(
                &[("__name__", "beta_only_metric"), ("x", &i.to_string())],
                ts,
            )
        })
        .collect();
    assert_eq!(write(server, BETA, &beta), 204);
}

/// No token: 401; a bound token naming another tenant: 403.
fn no_token_or_another_tenant_is_refused(server: &Server) {
    // No token: 401; a bound token naming another tenant: 403.
    get(server, "/api/v1/status/tsdb", &[], 401);
    get(server, "/api/v1/status/limits", &[], 401);
    get(server, "/api/v1/status/tenants", &[], 401);
    get(
        server,
        "/api/v1/status/tsdb",
        &[ACME, ("X-Scope-OrgID", "beta")],
        403,
    );
}

/// Cardinality, from what was written: the whole head, `limit`, `topN`, `focusLabel`, `match[]`.
fn cardinality(server: &Server) {
    // Cardinality, from what was written.
    let d = data(server, "/api/v1/status/tsdb", &[ACME]);
    assert_eq!(d["totalSeries"], 110, "{d}");
    assert_eq!(d["headStats"]["numSeries"], 110);
    assert_eq!(d["activeSeries"], 110);
    assert_eq!(d["maxActiveSeries"], 110);
    assert_eq!(
        d["seriesCountByMetricName"],
        json!([nv("http_requests_total", 100), nv("up", 10)])
    );
    assert_eq!(d["labelValueCountByLabelName"][0], nv("pod", 50));
    assert_eq!(d["seriesCountByLabelValuePair"][0], nv("job=api", 105));
    // Dropping pod leaves {job, method} of http_requests_total: 2 of 100.
    let added = d["seriesAddedByLabelName"].as_array().expect("list");
    assert!(added.contains(&nv("pod", 98)), "{added:?}");
    assert!(added.contains(&nv("method", 50)), "{added:?}");
    assert!(d.get("seriesCountByFocusLabelValue").is_none());
    let text = d.to_string();
    assert!(
        !text.contains("beta_only_metric") && !text.contains("extra"),
        "{text}"
    );

    let d = data(
        server,
        "/api/v1/status/tsdb?limit=1&focusLabel=method",
        &[ACME],
    );
    for list in [
        "seriesCountByMetricName",
        "labelValueCountByLabelName",
        "memoryInBytesByLabelName",
        "seriesCountByLabelValuePair",
        "seriesCountByLabelName",
    ] {
        assert_eq!(d[list].as_array().map(Vec::len), Some(1), "{list}: {d}");
    }
    assert_eq!(d["seriesCountByFocusLabelValue"], json!([nv("GET", 50)]));
    let d = data(
        server,
        "/api/v1/status/tsdb?topN=5&focusLabel=method",
        &[ACME],
    );
    assert_eq!(
        d["seriesCountByFocusLabelValue"],
        json!([nv("GET", 50), nv("POST", 50)])
    );
    let d = data(
        server,
        "/api/v1/status/tsdb?match[]=up&match[]=%7Bpod%3D%22pod-7%22%7D",
        &[ACME],
    );
    assert_eq!(d["totalSeries"], 12, "{d}");
    assert_eq!(
        d["seriesCountByMetricName"],
        json!([nv("up", 10), nv("http_requests_total", 2)])
    );
    assert_eq!(
        d["headStats"]["numSeries"], 110,
        "the head summary is the whole head"
    );
}

/// Bad parameters: 400 with a message, in Prometheus's error envelope.
fn bad_parameters(server: &Server) {
    // Bad parameters: 400 with a message, in Prometheus's error envelope.
    for (query, says) in [
        ("limit=0", "positive number"),
        ("limit=abc", "positive number"),
        ("limit=20000", "must not exceed 10000"),
        ("match[]=up%7B", "match[]"),
        ("match[]=%7Bjob%3D~%22.*%22%7D", "non-empty"),
    ] {
        let v = get(
            server,
            &format!("/api/v1/status/tsdb?{query}"),
            &[ACME],
            400,
        );
        assert_eq!(v["status"], "error");
        assert_eq!(v["errorType"], "bad_data");
        let msg = v["error"].as_str().unwrap_or("");
        assert!(msg.contains(says), "{query}: {msg}");
    }
}

/// Each tenant its own; the choosing token picks with X-Scope-OrgID.
fn each_tenant_its_own(server: &Server) {
    // Each tenant its own; the choosing token picks with X-Scope-OrgID.
    let d = data(server, "/api/v1/status/tsdb", &[BETA]);
    assert_eq!(
        d["seriesCountByMetricName"],
        json!([nv("beta_only_metric", 3)])
    );
    assert_eq!(d["totalSeries"], 3);
    let d = data(
        server,
        "/api/v1/status/tsdb",
        &[CHOOSE, ("X-Scope-OrgID", "acme")],
    );
    assert_eq!(d["totalSeries"], 110);
    let t = data(server, "/api/v1/status/tenants", &[ACME]);
    assert_eq!(
        t,
        json!({"auth": true, "tenant": "acme", "canChoose": false, "tenants": ["acme"]})
    );
    let t = data(server, "/api/v1/status/tenants", &[CHOOSE]);
    assert_eq!(t["canChoose"], true);
    assert_eq!(t["tenant"], "default");
    assert_eq!(t["tenants"], json!(["acme", "beta", "default"]));
}

/// Limits: the rejections, totals and history.
fn limits(server: &Server) {
    // Limits: the rejections, totals and history.
    let l = data(server, "/api/v1/status/limits", &[ACME]);
    assert_eq!(l["tenant"], "acme");
    assert_eq!(l["series"]["maxActive"], 110);
    assert_eq!(l["series"]["active"], 110);
    assert_eq!(l["series"]["head"], 110);
    assert_eq!(l["rejected"]["metrics"]["series_limit"], 10, "{l}");
    assert_eq!(l["accepted"]["metrics"], 220);
    assert_eq!(l["retentionSeconds"]["metrics"], 30 * 86_400);
    assert_eq!(l["history"]["intervalSeconds"], 15);
    let b = data(server, "/api/v1/status/limits", &[BETA]);
    assert_eq!(b["rejected"]["metrics"], json!({}), "{b}");
    assert_eq!(b["accepted"]["metrics"], 6);
    // The sampler takes a point every 15 s: the deltas add up to the totals.
    let deadline = Instant::now() + Duration::from_secs(40);
    let points = loop {
        let l = data(server, "/api/v1/status/limits", &[ACME]);
        let points = l["history"]["points"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if !points.is_empty() {
            break points;
        }
        assert!(Instant::now() < deadline, "no history point: {l}");
        std::thread::sleep(Duration::from_millis(500));
    };
    let sum = |f: &dyn Fn(&Value) -> u64| points.iter().map(f).sum::<u64>();
    assert_eq!(
        sum(&|p| p["rejected"]["metrics"]["series_limit"]
            .as_u64()
            .unwrap_or(0)),
        10
    );
    assert_eq!(
        sum(&|p| p["accepted"]["metrics"].as_u64().unwrap_or(0)),
        220
    );
    let pb = data(server, "/api/v1/status/limits", &[BETA]);
    let beta_points = pb["history"]["points"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        beta_points
            .iter()
            .all(|p| p["rejected"]["metrics"] == json!({})),
        "{pb}"
    );
}

/// Disk: the flush (flush_interval 1 s) writes the hour of the samples.
fn disk(server: &Server, now: i64) {
    // Disk: the flush (flush_interval 1 s) writes the hour of the samples.
    let hour = 3_600_000;
    let start = (now - 30_000).div_euclid(hour) * hour;
    let deadline = Instant::now() + Duration::from_secs(60);
    let disk = loop {
        let d = data(server, "/api/v1/status/disk", &[ACME]);
        if d["totalBytes"].as_u64().unwrap_or(0) > 0 {
            break d;
        }
        assert!(Instant::now() < deadline, "no partition: {d}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(disk["tenant"], "acme");
    assert_eq!(disk["budgetBytes"], Value::Null);
    let metrics = &disk["signals"][0];
    assert_eq!(metrics["signal"], "metrics");
    let starts: Vec<i64> = metrics["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .filter_map(|p| p["start"].as_i64())
        .collect();
    assert!(starts.contains(&start), "{disk}");
    assert_eq!(disk["totalBytes"], metrics["bytes"]);
}

/// The configuration in force: no digest, resolved values shown.
fn config_in_force(server: &Server) {
    // The configuration in force: no digest, resolved values shown.
    let c = data(server, "/api/v1/status/config", &[ACME]);
    let toml = c["toml"].as_str().expect("toml text");
    for digest in [SHA_CHOOSE, SHA_ACME, SHA_BETA] {
        assert!(!toml.contains(digest), "{toml}");
    }
    assert!(toml.contains("<secret>"), "{toml}");
    assert!(toml.contains("max_active_series = 110"), "{toml}");
}

/// The process; a bound token sees only its tenant in the list.
fn runtime_info(server: &Server) {
    // The process; a bound token sees only its tenant in the list.
    let r = data(server, "/api/v1/status/runtimeinfo", &[ACME]);
    assert_eq!(r["tenants"], json!(["acme"]));
    assert_eq!(r["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(r["wal"]["durability"], "fsync");
    assert!(r["wal"]["appends"].as_u64().unwrap_or(0) >= 2, "{r}");
    assert!(r["memory"]["rssBytes"].as_u64().unwrap_or(0) > 0, "{r}");
    assert!(r["flush"]["count"].as_u64().unwrap_or(0) >= 1, "{r}");
    let r = data(server, "/api/v1/status/runtimeinfo", &[CHOOSE]);
    assert_eq!(r["tenants"], json!(["acme", "beta", "default"]));
}

#[test]
fn without_auth_any_tenant_may_be_picked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    let now = common::now_ms();
    let one = [series(&[("__name__", "up"), ("job", "x")], &[now])];
    let protos: Vec<_> = one.iter().map(TestSeries::to_proto).collect();
    let headers = [
        HEADERS[0],
        HEADERS[1],
        HEADERS[2],
        ("X-Scope-OrgID", "other"),
    ];
    let r = server
        .post("/api/v1/write", &headers, &encode(&protos))
        .expect("write");
    assert_eq!(r.status, 204);
    let t = data(&server, "/api/v1/status/tenants", &[]);
    assert_eq!(
        t,
        json!({"auth": false, "tenant": "default", "canChoose": true, "tenants": ["default", "other"]})
    );
    let d = data(
        &server,
        "/api/v1/status/tsdb",
        &[("X-Scope-OrgID", "other")],
    );
    assert_eq!(d["totalSeries"], 1);
    let d = data(&server, "/api/v1/status/tsdb", &[]);
    assert_eq!(d["totalSeries"], 0);
    assert_eq!(d["headStats"]["minTime"], Value::Null);
    let status = server.terminate();
    assert!(status.success(), "{status}");
}
