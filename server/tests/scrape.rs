//! The built-in scraper against a real `strata serve` and a test exporter
//! (`tests/scrape/exporter.rs`): an unchanged Prometheus file's jobs are scraped, stored
//! with the target's labels (`exported_` on a clash, `honor_labels`), filtered by
//! `metric_relabel_configs`, reported (`up`, `scrape_*`), ended by staleness markers when
//! a series or a file_sd target goes; bad targets (garbage, a 500, a timeout, a body over
//! its limit, over `sample_limit`) are `up` 0 with their reason in `/api/v1/targets`,
//! nothing of them stored; metadata reaches `/api/v1/metadata`; `/-/reload` applies a
//! changed file.

mod common;
#[path = "scrape/exporter.rs"]
mod exporter;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use exporter::{Exporter, Page};
use serde_json::Value;
use strata_tests::server::Server;

const APP: &str = "# HELP app_requests_total Requests served.
# TYPE app_requests_total counter
app_requests_total{code=\"200\"} 1027
app_requests_total{code=\"500\"} 3
# TYPE app_temp gauge
app_temp 21.5
dropped_metric 1
clash{instance=\"inner\"} 7
";

const OM: &str = "# TYPE om_events counter
# HELP om_events Events.
om_events_total{job=\"exported-job\"} 17 # {trace_id=\"0af7651916cd43dd8448eb211c80319c\"} 1.0
# EOF
";

fn prom_yml(port: u16, with_limited: bool) -> String {
    let t = format!("[\"127.0.0.1:{port}\"]");
    let limited = if with_limited {
        format!(
            "  - job_name: limited\n    sample_limit: 2\n    static_configs: [{{targets: {t}}}]\n"
        )
    } else {
        String::new()
    };
    format!(
        "global:
  scrape_interval: 1s
  scrape_timeout: 800ms
  evaluation_interval: 1m
rule_files: [\"ignored.yml\"]
scrape_configs:
  - job_name: app
    static_configs:
      - targets: {t}
        labels: {{env: test}}
    metric_relabel_configs:
      - source_labels: [__name__]
        regex: dropped_metric
        action: drop
  - job_name: om
    metrics_path: /om
    honor_labels: true
    static_configs: [{{targets: {t}}}]
  - job_name: garbage
    metrics_path: /garbage
    static_configs: [{{targets: {t}}}]
  - job_name: failing
    metrics_path: /fail
    static_configs: [{{targets: {t}}}]
  - job_name: slow
    metrics_path: /slow
    scrape_timeout: 300ms
    static_configs: [{{targets: {t}}}]
  - job_name: huge
    metrics_path: /huge
    body_size_limit: 1KB
    static_configs: [{{targets: {t}}}]
  - job_name: sd
    file_sd_configs: [{{files: [\"sd/*.json\"]}}]
    relabel_configs:
      - source_labels: [__address__]
        regex: '.*:1'
        action: drop
{limited}"
    )
}

/// `q`'s instant vector now: each series' labels and value.
fn query(server: &Server, q: &str) -> Vec<(BTreeMap<String, String>, f64)> {
    let resp = server.instant_query(q, common::now_ms(), &[]);
    let v: Value = serde_json::from_slice(&resp.body).expect("json");
    v["data"]["result"]
        .as_array()
        .expect("a vector")
        .iter()
        .map(|s| {
            let labels = s["metric"]
                .as_object()
                .expect("labels")
                .iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
                .collect();
            let value = s["value"][1]
                .as_str()
                .expect("value")
                .parse()
                .expect("float");
            (labels, value)
        })
        .collect()
}

fn wait_for(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn value(server: &Server, q: &str) -> Option<f64> {
    let r = query(server, q);
    assert!(r.len() <= 1, "{q}: {r:?}");
    r.first().map(|(_, v)| *v)
}

fn targets(server: &Server) -> Vec<Value> {
    let resp = server.get("/api/v1/targets", &[]).expect("targets");
    assert_eq!(resp.status, 200, "{}", resp.text());
    let v: Value = serde_json::from_slice(&resp.body).expect("json");
    v["data"]["activeTargets"]
        .as_array()
        .expect("active")
        .clone()
}

fn last_error(server: &Server, job: &str) -> String {
    targets(server)
        .iter()
        .find(|t| t["scrapePool"] == job)
        .map(|t| t["lastError"].as_str().unwrap_or("").to_owned())
        .unwrap_or_default()
}

#[test]
fn the_scraper_scrapes_an_unchanged_prometheus_file() {
    let exp = Exporter::start();
    exp.set("/metrics", Page::text(APP));
    exp.set(
        "/om",
        Page {
            content_type: "application/openmetrics-text; version=1.0.0; charset=utf-8",
            gzip: true,
            ..Page::text(OM)
        },
    );
    exp.set("/garbage", Page::text("this is not { a metric\n"));
    exp.set(
        "/fail",
        Page {
            status: 500,
            ..Page::text("oops")
        },
    );
    exp.set(
        "/slow",
        Page {
            delay: Duration::from_millis(1500),
            ..Page::text(APP)
        },
    );
    exp.set(
        "/huge",
        Page::text(&format!("big{{l=\"{}\"}} 1\n", "x".repeat(4096))),
    );
    let dir = tempfile::tempdir().expect("dir");
    let port = exp.addr.port();
    std::fs::write(dir.path().join("prom.yml"), prom_yml(port, true)).expect("write");
    std::fs::create_dir(dir.path().join("sd")).expect("sd dir");
    let server = Server::start(
        common::bin(),
        dir.path(),
        "[scrape]\nfiles = [\"prom.yml\"]\n",
    );
    server.wait_ready(common::READY);
    let instance = format!("127.0.0.1:{port}");

    labels_and_reports(&server, &exp, &instance);
    openmetrics_and_metadata(&server);
    bad_targets(&server, &instance);
    staleness_and_file_sd(&server, &exp, dir.path(), &instance);
    reload(&server, dir.path(), port);
}

/// The target's labels on every series, `exported_` on a clash, relabeled away; reports.
fn labels_and_reports(server: &Server, exp: &Exporter, instance: &str) {
    wait_for("app scraped", || {
        value(server, "up{job=\"app\"}") == Some(1.0)
    });
    wait_for("app's samples", || {
        value(server, "app_requests_total{code=\"200\"}") == Some(1027.0)
    });
    let r = query(server, "app_requests_total");
    assert_eq!(r.len(), 2, "{r:?}");
    for (labels, _) in &r {
        assert_eq!(labels["job"], "app");
        assert_eq!(labels["instance"], instance);
        assert_eq!(labels["env"], "test");
    }
    let clash = query(server, "clash");
    assert_eq!(clash.len(), 1);
    assert_eq!(clash[0].0["exported_instance"], "inner");
    assert_eq!(clash[0].0["instance"], instance);
    assert!(query(server, "dropped_metric").is_empty());
    assert_eq!(
        value(server, "scrape_samples_scraped{job=\"app\"}"),
        Some(5.0)
    );
    assert_eq!(
        value(server, "scrape_samples_post_metric_relabeling{job=\"app\"}"),
        Some(4.0)
    );
    assert!(
        value(server, "scrape_duration_seconds{job=\"app\"}").is_some_and(|d| d > 0.0 && d < 1.0)
    );
    let (path, headers) = exp
        .requests
        .lock()
        .unwrap()
        .iter()
        .find(|(p, _)| p == "/metrics")
        .cloned()
        .expect("a request");
    assert_eq!(path, "/metrics");
    let header = |n: &str| {
        headers
            .iter()
            .find(|(h, _)| h == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert!(
        header("accept").starts_with("application/openmetrics-text"),
        "{headers:?}"
    );
    assert_eq!(header("x-prometheus-scrape-timeout-seconds"), "0.8");
}

/// OpenMetrics, gzipped, `honor_labels`, exemplars; metadata.
fn openmetrics_and_metadata(server: &Server) {
    // OpenMetrics, gzipped, honor_labels: the exposed `job` wins.
    wait_for("om scraped", || {
        value(server, "up{job=\"om\"}") == Some(1.0)
    });
    let om = query(server, "om_events_total");
    assert_eq!(om.len(), 1, "{om:?}");
    assert_eq!((om[0].0["job"].as_str(), om[0].1), ("exported-job", 17.0));
    // Its exemplar, at the scrape's time.
    let now = common::now_ms() as f64 / 1000.0;
    let ex = server
        .get(
            &format!(
                "/api/v1/query_exemplars?query=om_events_total&start={}&end={}",
                now - 60.0,
                now + 1.0
            ),
            &[],
        )
        .expect("exemplars");
    assert_eq!(ex.status, 200, "{}", ex.text());
    let ex: Value = serde_json::from_slice(&ex.body).expect("json");
    assert_eq!(
        ex["data"][0]["exemplars"][0]["labels"]["trace_id"], "0af7651916cd43dd8448eb211c80319c",
        "{ex}"
    );

    // Metadata from HELP and TYPE.
    let meta = server
        .get("/api/v1/metadata?metric=app_requests_total", &[])
        .expect("metadata");
    let meta: Value = serde_json::from_slice(&meta.body).expect("json");
    assert_eq!(
        meta["data"]["app_requests_total"][0]["type"], "counter",
        "{meta}"
    );
    assert_eq!(
        meta["data"]["app_requests_total"][0]["help"],
        "Requests served."
    );
}

/// Bad targets: up 0, the reason shown, nothing of their bodies stored.
fn bad_targets(server: &Server, instance: &str) {
    for (job, reason) in [
        ("garbage", "line 1"),
        ("failing", "500"),
        ("slow", "deadline"),
        ("huge", "body size limit"),
        ("limited", "sample_limit exceeded"),
    ] {
        wait_for(&format!("{job} down"), || {
            value(server, &format!("up{{job=\"{job}\"}}")) == Some(0.0)
        });
        let e = last_error(server, job);
        assert!(e.contains(reason), "{job}: {e:?}");
    }
    assert!(query(server, "app_temp{job=~\"slow|limited\"}").is_empty());
    assert!(query(server, "big").is_empty());
    let t = targets(server);
    let app = t
        .iter()
        .find(|t| t["scrapePool"] == "app")
        .expect("app listed");
    assert_eq!(app["health"], "up");
    assert_eq!(app["scrapeUrl"], format!("http://{instance}/metrics"));
    assert_eq!(app["labels"]["env"], "test");
    assert_eq!(app["discoveredLabels"]["__address__"], instance);
    assert_eq!(app["scrapeInterval"], "1s");
}

/// Series and file_sd targets that go end with staleness markers.
fn staleness_and_file_sd(server: &Server, exp: &Exporter, dir: &std::path::Path, instance: &str) {
    // A series gone from the body ends with a staleness marker (no 5 min lookback).
    exp.set("/metrics", Page::text(&APP.replace("app_temp 21.5\n", "")));
    wait_for("app_temp stale", || {
        query(server, "app_temp{job=\"app\"}").is_empty()
    });
    assert_eq!(value(server, "app_requests_total{code=\"500\"}"), Some(3.0));

    // file_sd: a target appears when its file does (the one relabeling drops is listed as
    // dropped), and ends with staleness markers when it goes.
    let sd = dir.join("sd/targets.json");
    std::fs::write(
        &sd,
        format!(
            "[{{\"targets\": [\"{instance}\", \"127.0.0.1:1\"], \"labels\": {{\"team\": \"a\"}}}}]"
        ),
    )
    .expect("sd");
    wait_for("sd target up", || {
        value(server, "up{job=\"sd\",team=\"a\"}") == Some(1.0)
    });
    let dropped = server
        .get("/api/v1/targets?state=dropped", &[])
        .expect("dropped");
    let dropped: Value = serde_json::from_slice(&dropped.body).expect("json");
    assert_eq!(dropped["data"]["droppedTargetCounts"]["sd"], 1, "{dropped}");
    std::fs::write(&sd, "[]").expect("sd");
    wait_for("sd target gone", || {
        query(server, "up{job=\"sd\"}").is_empty()
    });
    assert!(query(server, "app_requests_total{job=\"sd\"}").is_empty());
}

/// Reloads: a changed file applied, a broken one refused.
fn reload(server: &Server, dir: &std::path::Path, port: u16) {
    // A reload without the limited job: it leaves the targets, its `up` ends.
    std::fs::write(dir.join("prom.yml"), prom_yml(port, false)).expect("write");
    let resp = server.post("/-/reload", &[], b"").expect("reload");
    assert_eq!(resp.status, 200, "{}", resp.text());
    assert!(resp.text().contains("scrape targets"), "{}", resp.text());
    assert!(!targets(server).iter().any(|t| t["scrapePool"] == "limited"));
    wait_for("limited gone", || {
        query(server, "up{job=\"limited\"}").is_empty()
    });
    // A broken file is refused with its reason and changes nothing.
    std::fs::write(
        dir.join("prom.yml"),
        "scrape_configs:\n  - job_name: x\n    kubernetes_sd_configs: []\n",
    )
    .expect("write");
    let resp = server.post("/-/reload", &[], b"").expect("reload");
    assert_eq!(resp.status, 500, "{}", resp.text());
    assert!(
        resp.text().contains("kubernetes_sd_configs"),
        "{}",
        resp.text()
    );
    assert!(targets(server).iter().any(|t| t["scrapePool"] == "app"));
}
