//! `strata import` end to end: Debian's VictoriaMetrics (loaded through its own import API)
//! and Debian's Prometheus (loaded through its remote-write receiver) are read into a real
//! `strata serve`, each import ending with its comparison of counts; what Strata then
//! exports equals what VictoriaMetrics exports; a checkpoint's done parts are skipped; and
//! files of each format (JSON lines, the text format, OpenMetrics, OTLP JSON lines) import
//! with equal counts.

mod common;

use common::{Killed, free_port};

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use strata_tests::http::{Framing, request};
use strata_tests::remote_write::{HEADERS, encode, node_and_http_series};
use strata_tests::server::Server;

const STEP_H: i64 = 3_600_000;

fn wait_http(addr: &str, path: &str) {
    let sock: std::net::SocketAddr = addr.parse().expect("addr");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !request(sock, "GET", path, &[], b"", Framing::Length).is_ok_and(|r| r.status == 200) {
        assert!(Instant::now() < deadline, "{addr}{path} not ready");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn import(server: &Server, tenant: &str, args: &[&str], checkpoint: &Path) -> Output {
    Command::new(common::bin())
        .arg("import")
        .args([
            "--url",
            &format!("http://{}", server.http),
            "--tenant",
            tenant,
            "--quiet",
        ])
        .arg("--checkpoint")
        .arg(checkpoint)
        .args(args)
        .output()
        .expect("strata import runs")
}

fn ok(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "strata import failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// An export as series -> samples, sorted.
fn export(
    addr: &str,
    tenant: Option<&str>,
    start: i64,
    end: i64,
) -> BTreeMap<String, Vec<(i64, String)>> {
    let sock: std::net::SocketAddr = addr.parse().expect("addr");
    let path = format!(
        "/api/v1/export?match[]=%7B__name__%21%3D%22%22%7D&start={}&end={}",
        start as f64 / 1000.0,
        end as f64 / 1000.0
    );
    let headers: Vec<(&str, &str)> = tenant
        .map(|t| vec![("X-Scope-OrgID", t)])
        .unwrap_or_default();
    let r = request(sock, "GET", &path, &headers, b"", Framing::Length).expect("export");
    assert_eq!(r.status, 200, "{}", r.text());
    let mut out: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for line in r.body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let v: serde_json::Value = serde_json::from_slice(line).expect("json");
        let e = out.entry(v["metric"].to_string()).or_default();
        // The values as written, parsed by Rust's exact float parser (serde_json's default
        // one may be a unit in the last place off).
        let text = std::str::from_utf8(line).expect("utf-8");
        let values = text
            .split_once("},\"values\":[")
            .and_then(|(_, rest)| rest.split_once("],\"timestamps\""))
            .map(|(v, _)| v)
            .expect("values");
        let values: Vec<String> = values
            .split(',')
            .map(|v| match v.trim_matches('"') {
                "NaN" => "nan".to_owned(),
                "+Inf" | "Inf" => "inf".to_owned(),
                "-Inf" => "-inf".to_owned(),
                n => format!("{}", n.parse::<f64>().expect("a number")),
            })
            .collect();
        for (val, t) in values.into_iter().zip(v["timestamps"].as_array().unwrap()) {
            e.push((t.as_i64().unwrap(), val));
        }
        e.sort();
    }
    out
}

/// An export: series -> (timestamp, value) sorted.
type Exported = BTreeMap<String, Vec<(i64, String)>>;

/// What every part of the test shares.
struct Ctx {
    dir: tempfile::TempDir,
    server: Server,
    series: Vec<strata_tests::remote_write::TestSeries>,
    start: i64,
    end: i64,
    s_arg: String,
    e_arg: String,
    cp: std::path::PathBuf,
}

#[test]
fn strata_import_from_victoriametrics_prometheus_and_files() {
    let dir = tempfile::tempdir().expect("dir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    // An hour back: VictoriaMetrics hides its newest samples from queries for a while.
    let end = (common::now_ms() / STEP_H) * STEP_H - STEP_H;
    let series = node_and_http_series(2, 4 * 240, end);
    let start = series.iter().map(|s| s.samples[0].0).min().unwrap() - 1;
    let (s_arg, e_arg) = (
        format!("{}", start as f64 / 1000.0),
        format!("{}", (end + 1) as f64 / 1000.0),
    );

    let cp = dir.path().join("cp.json");
    let c = Ctx {
        dir,
        server,
        series,
        start,
        end,
        s_arg,
        e_arg,
        cp,
    };
    let (_vm, vm_addr, from_vm, lines) = from_victoriametrics(&c);
    spread_over_runs(&c, &vm_addr, &from_vm);
    from_prometheus(&c);
    from_files(&c, lines);
}

/// VictoriaMetrics, loaded through its own import API, read through its export API.
fn from_victoriametrics(c: &Ctx) -> (Killed, String, Exported, String) {
    let (dir, server, series, cp) = (&c.dir, &c.server, &c.series, &c.cp);
    let (start, end) = (c.start, c.end);
    let (s_arg, e_arg) = (c.s_arg.clone(), c.e_arg.clone());
    let _ = (&dir, &series, &cp, start, end, &s_arg, &e_arg);
    // VictoriaMetrics, loaded through its own import API.
    let vm_port = free_port();
    let vm = Command::new("victoria-metrics")
        .arg(format!(
            "-storageDataPath={}",
            dir.path().join("vm").display()
        ))
        .arg(format!("-httpListenAddr=127.0.0.1:{vm_port}"))
        .arg("-retentionPeriod=100y")
        .arg("-search.latencyOffset=0s")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Debian's victoria-metrics on PATH (.ci/test.sh installs it)");
    let _vm = Killed(vm);
    let vm_addr = format!("127.0.0.1:{vm_port}");
    wait_http(&vm_addr, "/health");
    let mut lines = String::new();
    for s in series {
        let metric: serde_json::Map<String, serde_json::Value> = s
            .labels
            .iter()
            .map(|(n, v)| (n.clone(), v.clone().into()))
            .collect();
        let finite: Vec<&(i64, f64)> = s.samples.iter().filter(|p| p.1.is_finite()).collect();
        let values: Vec<f64> = finite.iter().map(|p| p.1).collect();
        let ts: Vec<i64> = finite.iter().map(|p| p.0).collect();
        lines.push_str(
            &serde_json::json!({"metric": metric, "values": values, "timestamps": ts}).to_string(),
        );
        lines.push('\n');
    }
    std::fs::write(dir.path().join("vm.jsonl"), &lines).expect("write");
    let sock: std::net::SocketAddr = vm_addr.parse().unwrap();
    let r = request(
        sock,
        "POST",
        "/api/v1/import",
        &[],
        lines.as_bytes(),
        Framing::Length,
    )
    .expect("vm import");
    assert!(r.status == 204 || r.status == 200, "{}", r.text());
    let _ = request(
        sock,
        "GET",
        "/internal/force_flush",
        &[],
        b"",
        Framing::Length,
    );

    let text = ok(&import(
        server,
        "vm",
        &[
            "--from-vm",
            &format!("http://{vm_addr}"),
            "--start",
            &s_arg,
            "--end",
            &e_arg,
            "--step",
            "1h",
        ],
        cp,
    ));
    assert!(
        text.contains(": equal") && !text.contains("DIFFERENT"),
        "{text}"
    );
    assert!(!cp.exists(), "the checkpoint goes once the import is done");
    let from_vm = export(&vm_addr, None, start, end + 1);
    assert!(!from_vm.is_empty());
    assert_eq!(
        export(&server.http.to_string(), Some("vm"), start, end + 1),
        from_vm
    );

    (_vm, vm_addr, from_vm, lines)
}

/// An import spread over runs by its checkpoint.
fn spread_over_runs(c: &Ctx, vm_addr: &str, from_vm: &BTreeMap<String, Vec<(i64, String)>>) {
    let (dir, server, series, cp) = (&c.dir, &c.server, &c.series, &c.cp);
    let (start, end) = (c.start, c.end);
    let (s_arg, e_arg) = (c.s_arg.clone(), c.e_arg.clone());
    let _ = (&dir, &series, &cp, start, end, &s_arg, &e_arg);
    // Spread over runs: two parts, then the rest from the checkpoint.
    let vm_args = [
        "--from-vm",
        &format!("http://{vm_addr}"),
        "--start",
        &s_arg,
        "--end",
        &e_arg,
        "--step",
        "1h",
    ];
    let first = ok(&import(
        server,
        "resumed",
        &[&vm_args[..], &["--max-parts", "2"]].concat(),
        cp,
    ));
    assert!(first.contains("stopped after 2 parts"), "{first}");
    assert!(cp.exists(), "the checkpoint stays");
    let partial = export(&server.http.to_string(), Some("resumed"), start, end + 1);
    let partial_n: usize = partial.values().map(Vec::len).sum();
    let all_n: usize = from_vm.values().map(Vec::len).sum();
    assert!(partial_n > 0 && partial_n < all_n, "{partial_n} of {all_n}");
    let second = ok(&import(server, "resumed", &vm_args, cp));
    assert!(second.contains("resuming: 2 of"), "{second}");
    assert!(second.contains(": equal"), "{second}");
    assert_eq!(
        &export(&server.http.to_string(), Some("resumed"), start, end + 1),
        from_vm
    );
}

/// Prometheus, loaded through its remote-write receiver, read by remote read.
fn from_prometheus(c: &Ctx) {
    let (dir, server, series, cp) = (&c.dir, &c.server, &c.series, &c.cp);
    let (start, end) = (c.start, c.end);
    let (s_arg, e_arg) = (c.s_arg.clone(), c.e_arg.clone());
    let _ = (&dir, &series, &cp, start, end, &s_arg, &e_arg);
    // Prometheus, loaded through its remote-write receiver, read by remote read.
    let prom_port = free_port();
    std::fs::write(
        dir.path().join("prom.yml"),
        "global: {scrape_interval: 1h}\n",
    )
    .expect("yml");
    let prom = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.path().join("prom.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("prom").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
        .arg("--web.enable-remote-write-receiver")
        .arg("--storage.tsdb.retention.time=100y")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("Debian's prometheus on PATH");
    let _prom = Killed(prom);
    let prom_addr = format!("127.0.0.1:{prom_port}");
    wait_http(&prom_addr, "/-/ready");
    let protos: Vec<_> = series.iter().map(|s| s.to_proto()).collect();
    let psock: std::net::SocketAddr = prom_addr.parse().unwrap();
    let r = request(
        psock,
        "POST",
        "/api/v1/write",
        &HEADERS,
        &encode(&protos),
        Framing::Length,
    )
    .expect("rw");
    assert_eq!(r.status, 204, "{}", r.text());
    let text = ok(&import(
        server,
        "prom",
        &[
            "--from-prometheus",
            &format!("http://{prom_addr}"),
            "--start",
            &s_arg,
            "--end",
            &e_arg,
            "--step",
            "2h",
        ],
        cp,
    ));
    assert!(
        text.contains(": equal") && !text.contains("DIFFERENT"),
        "{text}"
    );
    // The same series written to Strata directly (the default tenant): the import, which
    // read Prometheus's XOR chunks (STREAMED_XOR_CHUNKS), holds exactly the same samples.
    let ssock = server.http;
    let r = request(
        ssock,
        "POST",
        "/api/v1/write",
        &HEADERS,
        &encode(&protos),
        Framing::Length,
    )
    .expect("rw");
    assert_eq!(r.status, 204, "{}", r.text());
    let strata = server.http.to_string();
    let direct = export(&strata, None, start, end + 1);
    assert!(!direct.is_empty());
    assert_eq!(export(&strata, Some("prom"), start, end + 1), direct);
    // Strata read by remote read (its own STREAMED_XOR_CHUNKS answer) into another tenant:
    // the same again.
    let text = ok(&import(
        server,
        "again",
        &[
            "--from-prometheus",
            &format!("http://{strata}"),
            "--start",
            &s_arg,
            "--end",
            &e_arg,
            "--step",
            "2h",
        ],
        cp,
    ));
    assert!(text.contains(": equal"), "{text}");
    assert_eq!(export(&strata, Some("again"), start, end + 1), direct);
}

/// Files of each format.
fn from_files(c: &Ctx, lines: String) {
    let (dir, server, series, cp) = (&c.dir, &c.server, &c.series, &c.cp);
    let (start, end) = (c.start, c.end);
    let (s_arg, e_arg) = (c.s_arg.clone(), c.e_arg.clone());
    let _ = (&dir, &series, &cp, start, end, &s_arg, &e_arg);
    // Files: VM's JSON lines, the text format, OpenMetrics, OTLP JSON lines.
    let t0 = end - 600_000;
    let txt = format!(
        "# TYPE f_text gauge\nf_text{{a=\"1\"}} 1 {t0}\nf_text{{a=\"2\"}} 2 {}\n",
        t0 + 1000
    );
    let om = format!(
        "# TYPE f_om gauge\nf_om{{a=\"1\"}} 1.5 {}\n# EOF\n",
        t0 as f64 / 1000.0
    );
    let ns = t0 * 1_000_000;
    let otlp = format!(
        "{{\"resourceMetrics\":[{{\"scopeMetrics\":[{{\"metrics\":[{{\"name\":\"f_otlp\",\"gauge\":{{\"dataPoints\":[{{\"timeUnixNano\":\"{ns}\",\"asDouble\":3}}]}}}}]}}]}}]}}\n\
         {{\"resourceSpans\":[{{\"scopeSpans\":[{{\"spans\":[{{\"traceId\":\"5b8efff798038103d269b633813fc60c\",\"spanId\":\"eee19b7ec3c1b174\",\"name\":\"op\",\"startTimeUnixNano\":\"{ns}\",\"endTimeUnixNano\":\"{}\"}}]}}]}}]}}\n\
         {{\"resourceLogs\":[{{\"scopeLogs\":[{{\"logRecords\":[{{\"timeUnixNano\":\"{ns}\",\"body\":{{\"stringValue\":\"a\"}}}},{{\"timeUnixNano\":\"{ns}\",\"body\":{{\"stringValue\":\"b\"}}}}]}}]}}]}}\n",
        ns + 1_000_000
    );
    for (name, body, tenant) in [
        ("vm.jsonl", lines.clone(), "f1"),
        ("m.txt", txt, "f2"),
        ("m.om", om, "f3"),
        ("otel.jsonl", otlp, "f4"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, body).expect("file");
        let text = ok(&import(
            server,
            tenant,
            &["--from-file", path.to_str().unwrap()],
            cp,
        ));
        assert!(!text.contains("DIFFERENT"), "{name}: {text}");
        if name == "otel.jsonl" {
            for want in [
                "OTLP metric data points: source 1; Strata stored 1: equal",
                "OTLP spans: source 1; Strata stored 1: equal",
                "OTLP log records: source 2; Strata stored 2: equal",
            ] {
                assert!(text.contains(want), "{text}");
            }
        }
    }
    // A data point Strata refuses (a gauge point without a value): named, and the
    // import fails.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        format!(
            "{{\"resourceMetrics\":[{{\"scopeMetrics\":[{{\"metrics\":[{{\"name\":\"f_bad\",\"gauge\":{{\"dataPoints\":[{{\"timeUnixNano\":\"{ns}\"}}]}}}},{{\"name\":\"f_good\",\"gauge\":{{\"dataPoints\":[{{\"timeUnixNano\":\"{ns}\",\"asDouble\":1}}]}}}}]}}]}}]}}\n"
        ),
    )
    .expect("file");
    let out = import(server, "f5", &["--from-file", bad.to_str().unwrap()], cp);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("OTLP metric data points: source 2; Strata stored 1: DIFFERENT (1 refused)"),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The file is the original values (VictoriaMetrics keeps 12 significant digits).
    let mut want: BTreeMap<String, Vec<(i64, String)>> = BTreeMap::new();
    for s in series {
        let metric: serde_json::Map<String, serde_json::Value> = s
            .labels
            .iter()
            .map(|(n, v)| (n.clone(), v.clone().into()))
            .collect();
        let e = want
            .entry(serde_json::Value::Object(metric).to_string())
            .or_default();
        e.extend(
            s.samples
                .iter()
                .filter(|p| p.1.is_finite())
                .map(|p| (p.0, format!("{}", p.1))),
        );
    }
    let got = export(&server.http.to_string(), Some("f1"), start, end + 1);
    assert_eq!(got.len(), want.len());
    for (k, v) in &want {
        let g = got.get(k).expect("the series");
        let diff: Vec<_> = g.iter().zip(v).filter(|(a, b)| a != b).take(3).collect();
        assert!(
            diff.is_empty() && g.len() == v.len(),
            "{k}: {} against {}: {diff:?}",
            g.len(),
            v.len()
        );
    }
    let om = export(&server.http.to_string(), Some("f3"), t0 - 1, t0 + 1);
    assert_eq!(
        om.values().next(),
        Some(&vec![(t0, "1.5".to_owned())]),
        "{om:?}"
    );
    let otel = export(&server.http.to_string(), Some("f4"), t0 - 1, t0 + 1);
    assert_eq!(otel.len(), 1, "{otel:?}");
}
