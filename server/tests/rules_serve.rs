//! Rules in a running `strata serve`: recording and alerting rules over remote-written
//! samples, alerts delivered to a real Alertmanager (Debian's `prometheus-alertmanager`,
//! installed by `.ci/test.sh`) and to a webhook with a templated body (a receiver in this
//! test, which fails its first request to show the retry), `/api/v1/rules` and
//! `/api/v1/alerts`, reloads by `POST /-/reload` and SIGHUP (a bad file keeps the running
//! rules), `for` state restored after a restart, and `strata rules check`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strata_tests::moto::until;
use strata_tests::remote_write::{HEADERS, TestSeries, encode};
use strata_tests::server::Server;

/// A webhook receiver: every request body, in order. Answers 500 to the first request.
struct Hook {
    addr: SocketAddr,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Hook {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let seen = bodies.clone();
        std::thread::spawn(move || {
            let mut first = true;
            for conn in listener.incoming().flatten() {
                if let Some(body) = read_request(&conn) {
                    let status = if first {
                        "500 Internal Server Error"
                    } else {
                        "200 OK"
                    };
                    if !first {
                        seen.lock().expect("lock").push(body);
                    }
                    first = false;
                    let mut conn = conn;
                    let _ = write!(
                        conn,
                        "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    );
                }
            }
        });
        Self { addr, bodies }
    }

    fn bodies(&self) -> Vec<String> {
        self.bodies.lock().expect("lock").clone()
    }
}

fn read_request(conn: &TcpStream) -> Option<String> {
    let mut r = BufReader::new(conn);
    let mut len = 0;
    loop {
        let mut line = String::new();
        r.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':')
            && k.eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().ok()?;
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    String::from_utf8(body).ok()
}

/// Debian's Alertmanager on a free loopback port, routing everything to a receiver with
/// no integrations (it keeps the alerts for its API).
struct Alertmanager {
    child: Child,
    addr: SocketAddr,
}

impl Alertmanager {
    fn start(dir: &Path) -> Self {
        let config = dir.join("am.yml");
        std::fs::write(
            &config,
            "route:\n  receiver: keep\nreceivers:\n  - name: keep\n",
        )
        .expect("am config");
        let addr = free_port();
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus-alertmanager (Debian's package; .ci/test.sh installs it)");
        let am = Self { child, addr };
        until("Alertmanager ready", || {
            get(am.addr, "/-/ready").is_some_and(|(s, _)| s == 200)
        });
        am
    }

    /// Its active alerts.
    fn alerts(&self) -> serde_json::Value {
        let (status, body) = get(self.addr, "/api/v2/alerts").expect("alertmanager alerts");
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).expect("json")
    }
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr")
}

fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let r = strata_tests::http::request(
        addr,
        "GET",
        path,
        &[],
        b"",
        strata_tests::http::Framing::Length,
    )
    .ok()?;
    Some((r.status, r.text()))
}

fn json(server: &Server, path: &str) -> serde_json::Value {
    let r = server.get(path, &[]).expect("get");
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    serde_json::from_str(&r.text()).expect("json")
}

fn push(server: &Server, name: &str, labels: &[(&str, &str)], value: f64) {
    let mut l: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    l.push(("__name__".into(), name.into()));
    l.sort();
    let s = TestSeries {
        labels: l,
        samples: vec![(common::now_ms(), value)],
    };
    let r = server
        .post("/api/v1/write", &HEADERS, &encode(&[s.to_proto()]))
        .expect("remote-write");
    assert_eq!(r.status, 204, "{}", r.text());
}

fn query_value(server: &Server, q: &str) -> Option<f64> {
    let v: serde_json::Value =
        serde_json::from_str(&server.instant_query(q, common::now_ms(), &[]).text()).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

const RULES_V1: &str = r#"groups:
  - name: oven
    interval: 1s
    rules:
      - record: job:temperature:max
        expr: max by (job) (temperature)
      - alert: Hot
        expr: job:temperature:max > 50
        labels:
          severity: page
        annotations:
          summary: "{{ $labels.job }} is at {{ $value }} degrees"
"#;

fn rule_names(server: &Server) -> Vec<String> {
    let v = json(server, "/api/v1/rules");
    v["data"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .map(|r| r["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[test]
fn rules_record_alert_notify_and_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let hook = Hook::start();
    let am = Alertmanager::start(dir.path());
    std::fs::create_dir(dir.path().join("rules")).expect("mkdir");
    std::fs::write(dir.path().join("rules/oven.yml"), RULES_V1).expect("rules");
    let config = format!(
        r#"[rules]
files = ["rules/*.yml"]

[alerting]
alertmanagers = ["http://{am}"]
resend_delay = "2s"
external_labels = {{ site = "home" }}

[[alerting.webhooks]]
name = "chat"
url = "http://{hook}/hook"
template = '{{"text": {{{{ printf "%s: %s" .Status (index .Alerts 0).Annotations.summary | json }}}}}}'
"#,
        am = am.addr,
        hook = hook.addr
    );
    let server = Server::start(common::bin(), dir.path(), &config);
    server.wait_ready(common::READY);

    push(&server, "temperature", &[("job", "oven")], 60.0);
    until("the recorded series", || {
        query_value(&server, "job:temperature:max") == Some(60.0)
    });
    until("Hot firing", || {
        json(&server, "/api/v1/alerts")["data"]["alerts"]
            .as_array()
            .is_some_and(|a| a.len() == 1 && a[0]["state"] == "firing")
    });
    let alerts = json(&server, "/api/v1/alerts");
    let a = &alerts["data"]["alerts"][0];
    assert_eq!(a["labels"]["alertname"], "Hot");
    assert_eq!(a["labels"]["severity"], "page");
    assert_eq!(a["annotations"]["summary"], "oven is at 60 degrees");
    assert_eq!(a["value"], "6e+01");
    let rules = json(&server, "/api/v1/rules");
    let g = &rules["data"]["groups"][0];
    assert_eq!(g["name"], "oven");
    assert_eq!(g["interval"], 1.0);
    assert!(
        g["file"]
            .as_str()
            .is_some_and(|f| f.ends_with("rules/oven.yml")),
        "{g}"
    );
    assert_eq!(g["rules"][0]["type"], "recording");
    assert_eq!(g["rules"][0]["health"], "ok");
    assert_eq!(g["rules"][1]["type"], "alerting");
    assert_eq!(g["rules"][1]["state"], "firing");
    assert_eq!(g["rules"][1]["alerts"][0]["labels"]["job"], "oven");
    let only_records = json(&server, "/api/v1/rules?type=record");
    assert_eq!(
        only_records["data"]["groups"][0]["rules"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // ALERTS is written from the third evaluation on (after the restore of for state).
    until("ALERTS", || {
        query_value(&server, r#"ALERTS{alertname="Hot",alertstate="firing"}"#) == Some(1.0)
    });

    // Alertmanager has it, with the external label; the webhook got the templated body
    // after its first answer (500) was retried.
    until("the alert in Alertmanager", || {
        am.alerts().as_array().is_some_and(|a| {
            a.iter()
                .any(|x| x["labels"]["alertname"] == "Hot" && x["labels"]["site"] == "home")
        })
    });
    until("the webhook body", || !hook.bodies().is_empty());
    let body: serde_json::Value = serde_json::from_str(&hook.bodies()[0]).expect("webhook json");
    assert_eq!(body["text"], "firing: oven is at 60 degrees");

    // Cooler: resolved everywhere.
    push(&server, "temperature", &[("job", "oven")], 20.0);
    until("Hot resolved", || {
        json(&server, "/api/v1/alerts")["data"]["alerts"]
            .as_array()
            .is_some_and(Vec::is_empty)
    });
    until("the resolution in the webhook", || {
        hook.bodies()
            .iter()
            .any(|b| b.contains("resolved: oven is at 60 degrees"))
    });
    until("the alert resolved in Alertmanager", || {
        am.alerts()
            .as_array()
            .is_some_and(|a| !a.iter().any(|x| x["labels"]["alertname"] == "Hot"))
    });
    let metrics = server.get("/metrics", &[]).expect("metrics").text();
    assert!(
        metrics.contains("strata_notifications_total{destination=\"chat\",outcome=\"failed\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("strata_notifications_total{destination=\"chat\",outcome=\"sent\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("strata_rule_evaluation_failures_total{tenant=\"default\"} 0\n"),
        "{metrics}"
    );

    reloads(&server, dir.path());
    assert!(server.terminate().success());
}

/// Reload with a new rule; then a broken file, which keeps the rules running; then SIGHUP.
fn reloads(server: &Server, dir: &Path) {
    let v2 = format!(
        "{RULES_V1}      - record: job:temperature:min\n        expr: min by (job) (temperature)\n"
    );
    std::fs::write(dir.join("rules/oven.yml"), &v2).expect("rules v2");
    let r = server.post("/-/reload", &[], b"").expect("reload");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        rule_names(server),
        ["job:temperature:max", "Hot", "job:temperature:min"]
    );
    until("the new rule's series", || {
        query_value(server, "job:temperature:min") == Some(20.0)
    });
    std::fs::write(
        dir.join("rules/oven.yml"),
        RULES_V1.replace("max by (job)", "max by (job"),
    )
    .expect("bad");
    let r = server.post("/-/reload", &[], b"").expect("reload");
    assert_eq!(r.status, 500);
    assert!(
        r.text().contains("oven.yml: line 5") && r.text().contains("could not parse expression"),
        "{}",
        r.text()
    );
    assert_eq!(
        rule_names(server),
        ["job:temperature:max", "Hot", "job:temperature:min"]
    );
    // SIGHUP reloads too.
    std::fs::write(dir.join("rules/oven.yml"), RULES_V1).expect("rules v1");
    let ok = Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .expect("kill");
    assert!(ok.success());
    until("SIGHUP reload", || {
        rule_names(server) == ["job:temperature:max", "Hot"]
    });
    let metrics = server.get("/metrics", &[]).expect("metrics").text();
    assert!(
        metrics.contains("strata_rules_reloads_total{result=\"failure\"} 1\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("strata_rules_reloads_total{result=\"success\"} 2\n"),
        "{metrics}"
    );
    // The removed rule's series ended with a staleness marker.
    until("the removed rule's series ends", || {
        query_value(server, "job:temperature:min").is_none()
    });
}

#[test]
fn for_state_is_restored_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("slow.yml"),
        "groups:\n  - name: slow\n    interval: 1s\n    rules:\n      - alert: Slow\n        expr: latency_seconds > 1\n        for: 1m\n",
    )
    .expect("rules");
    let config = "[rules]\nfiles = [\"slow.yml\"]\nfor_grace_period = \"1s\"\n";
    let server = Server::start(common::bin(), dir.path(), config);
    server.wait_ready(common::READY);
    push(&server, "latency_seconds", &[("job", "api")], 5.0);
    let active_at = || -> Option<String> {
        let v = json(&server, "/api/v1/alerts");
        v["data"]["alerts"][0]["activeAt"]
            .as_str()
            .map(str::to_owned)
    };
    until("Slow pending", || active_at().is_some());
    let first = active_at().expect("active");
    until("ALERTS_FOR_STATE written", || {
        query_value(&server, "ALERTS_FOR_STATE").is_some()
    });
    std::thread::sleep(Duration::from_secs(4));
    assert!(server.terminate().success());

    let restarted_at = common::now_ms();
    let server = Server::start(common::bin(), dir.path(), config);
    server.wait_ready(common::READY);
    // Until the restore (after the second evaluation) the alert is new; then its active
    // time is moved back: the time it had been pending still counts.
    let restored = |s: &Server| -> Option<i64> {
        let v = json(s, "/api/v1/alerts");
        let at = v["data"]["alerts"][0]["activeAt"].as_str()?;
        let ms = chrono::DateTime::parse_from_rfc3339(at)
            .ok()?
            .timestamp_millis();
        (ms < restarted_at).then_some(ms)
    };
    until("for state restored", || restored(&server).is_some());
    let first_ms = chrono::DateTime::parse_from_rfc3339(&first)
        .expect("time")
        .timestamp_millis();
    let at = restored(&server).expect("restored");
    assert!(
        at > first_ms,
        "the downtime does not count: {at} > {first_ms}"
    );
    let v = json(&server, "/api/v1/alerts");
    assert_eq!(v["data"]["alerts"][0]["state"], "pending");
    assert!(server.terminate().success());
}

#[test]
fn bad_rule_files_are_refused_with_file_and_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up ==\n      - record: r\n        expr: up\n        annotations:\n          summary: '{{ $labels.x '\n",
    )
    .expect("bad");
    let good = dir.path().join("good.yml");
    std::fs::write(&good, RULES_V1).expect("good");
    let out = Command::new(common::bin())
        .args(["rules", "check"])
        .arg(&good)
        .output()
        .expect("check");
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("SUCCESS: 2 rules found"));
    let out = Command::new(common::bin())
        .args(["rules", "check"])
        .arg(&good)
        .arg(&bad)
        .output()
        .expect("check");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("bad.yml: line 4: group \"g\", rule 1, \"A\": could not parse expression"),
        "{text}"
    );
    assert!(
        text.contains("bad.yml: line 6: group \"g\", rule 2, \"r\": invalid field 'annotations'"),
        "{text}"
    );

    // A template that does not parse is refused too, with its place.
    let tpl = dir.path().join("tpl.yml");
    std::fs::write(
        &tpl,
        "groups:\n  - name: g\n    rules:\n      - alert: A\n        expr: up == 0\n        annotations:\n          summary: '{{ $labels.x '\n",
    )
    .expect("tpl");
    let out = Command::new(common::bin())
        .args(["rules", "check"])
        .arg(&tpl)
        .output()
        .expect("check");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "tpl.yml: line 4: group \"g\", rule 1, \"A\": template \"annotation summary\""
        ),
        "{text}"
    );

    // The server does not start on a bad rule file.
    let out = Command::new(common::bin())
        .args([
            "serve",
            "--http-addr",
            "127.0.0.1:0",
            "--grpc-addr",
            "127.0.0.1:0",
            "--data-dir",
        ])
        .arg(dir.path().join("data"))
        .arg("--config")
        .arg({
            let c = dir.path().join("strata.toml");
            std::fs::write(&c, "[rules]\nfiles = [\"bad.yml\"]\n").expect("config");
            c
        })
        .stdin(Stdio::null())
        .output()
        .expect("serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.yml: line 4"), "{err}");
}

#[test]
fn logql_rules_of_a_tenant_read_its_logs_and_write_its_metrics() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("loki.yml"),
        r#"groups:
  - name: api-logs
    interval: 1s
    rules:
      - record: app:error_lines:count1m
        expr: sum by (app) (count_over_time({app="api"} |= "error" [1m]))
      - alert: Errors
        expr: sum by (app) (count_over_time({app="api"} |= "error" [1m])) > 2
        annotations:
          summary: "{{ $labels.app }}: {{ $value }} errors a minute"
"#,
    )
    .expect("rules");
    let config = "[rules.tenants.acme]\nlogql_files = [\"loki.yml\"]\n";
    let server = Server::start(common::bin(), dir.path(), config);
    server.wait_ready(common::READY);
    let acme = [("X-Scope-OrgID", "acme")];
    let now_ns = common::now_ms() * 1_000_000;
    let values: Vec<serde_json::Value> = (0..4)
        .map(|i| serde_json::json!([(now_ns + i).to_string(), format!("error {i} in handler")]))
        .chain(std::iter::once(serde_json::json!([
            (now_ns + 9).to_string(),
            "all fine"
        ])))
        .collect();
    let body =
        serde_json::json!({"streams": [{"stream": {"app": "api"}, "values": values}]}).to_string();
    let headers = [
        ("Content-Type", "application/json"),
        ("X-Scope-OrgID", "acme"),
    ];
    let r = server
        .post("/loki/api/v1/push", &headers, body.as_bytes())
        .expect("push");
    assert_eq!(r.status, 204, "{}", r.text());
    // The rule's series is in acme's metrics, not in the default tenant's.
    let count = || -> Option<f64> {
        let r = server.instant_query("app:error_lines:count1m", common::now_ms(), &acme);
        let v: serde_json::Value = serde_json::from_str(&r.text()).ok()?;
        v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
    };
    until("the LogQL recording rule", || count() == Some(4.0));
    assert_eq!(query_value(&server, "app:error_lines:count1m"), None);
    let alerts = |path: &str, headers: &[(&str, &str)]| -> serde_json::Value {
        let r = server.get(path, headers).expect("get");
        assert_eq!(r.status, 200, "{}", r.text());
        serde_json::from_str(&r.text()).expect("json")
    };
    until("the LogQL alert", || {
        alerts("/prometheus/api/v1/alerts", &acme)["data"]["alerts"][0]["state"] == "firing"
    });
    let a = alerts("/prometheus/api/v1/alerts", &acme);
    assert_eq!(
        a["data"]["alerts"][0]["annotations"]["summary"],
        "api: 4 errors a minute"
    );
    // Grafana's Prometheus data source sees no LogQL rules, the default tenant none at all.
    assert_eq!(
        alerts("/api/v1/rules", &acme)["data"]["groups"],
        serde_json::json!([])
    );
    assert_eq!(
        alerts("/prometheus/api/v1/rules", &[])["data"]["groups"],
        serde_json::json!([])
    );
    let groups = alerts("/prometheus/api/v1/rules", &acme);
    assert_eq!(groups["data"]["groups"][0]["name"], "api-logs");
    // Loki's ruler listing, as YAML by namespace (the file).
    let r = server.get("/loki/api/v1/rules", &acme).expect("rules yaml");
    assert_eq!(r.status, 200);
    let yaml = r.text();
    assert!(
        yaml.contains("loki.yml\":\n    - name: \"api-logs\"\n"),
        "{yaml}"
    );
    assert!(
        yaml.contains("      - record: \"app:error_lines:count1m\"\n"),
        "{yaml}"
    );
    let r = server
        .get("/loki/api/v1/rules/nope", &acme)
        .expect("rules yaml");
    assert_eq!(r.status, 404);
    assert!(server.terminate().success());
}

/// A rule that fails (here over its group's series limit) writes nothing, ends the series
/// it wrote before with staleness markers, reports its error, and the rules after it in
/// the group still run.
#[test]
fn a_failing_rule_ends_its_series_and_the_next_rules_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("load.yml"),
        "groups:\n  - name: load\n    interval: 1s\n    limit: 1\n    rules:\n      - record: job:load:max\n        expr: max by (job) (load)\n      - record: load:ok\n        expr: vector(1)\n",
    )
    .expect("rules");
    let config = "[rules]\nfiles = [\"load.yml\"]\n";
    let server = Server::start(common::bin(), dir.path(), config);
    server.wait_ready(common::READY);
    push(&server, "load", &[("job", "a")], 3.0);
    until("the recorded series", || {
        query_value(&server, "job:load:max") == Some(3.0)
    });
    // A second job: the first rule's result is over the limit of 1.
    push(&server, "load", &[("job", "b")], 4.0);
    let rule = |i: usize| json(&server, "/api/v1/rules")["data"]["groups"][0]["rules"][i].clone();
    until("the rule fails", || rule(0)["health"] == "err");
    let failed = rule(0);
    assert!(
        failed["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("limit")),
        "{failed}"
    );
    until("its series ends", || {
        query_value(&server, "job:load:max").is_none()
    });
    assert_eq!(rule(1)["health"], "ok", "{}", rule(1));
    assert_eq!(query_value(&server, "load:ok"), Some(1.0));
    let metrics = server.get("/metrics", &[]).expect("metrics").text();
    let failures: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("strata_rule_evaluation_failures_total{tenant=\"default\"} "))
        .and_then(|v| v.parse().ok())
        .expect("the failures counter");
    assert!(failures >= 1.0, "{metrics}");
}
