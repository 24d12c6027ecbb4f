//! The scraper's `tls_config` against real TLS targets: certificates made by the `openssl`
//! command (a CA, a server certificate for the name `metrics.test` only, a client
//! certificate), targets served by Python's `ssl` module that require the client
//! certificate, one of them capped at TLS 1.2. The target is addressed by IP, so only
//! `server_name` makes its certificate valid; `min_version: TLS13` refuses the capped one;
//! a job without the client certificate is refused by the target.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use strata_tests::server::Server;

/// A TLS target: `python3 - PORT CERT KEY CA MAX` serving `/metrics`, client certificates
/// required, at most TLS 1.2 when MAX is `1.2`.
const TARGET: &str = r#"
import http.server, ssl, sys
port, cert, key, ca, top = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        body = b"tls_probe 1\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
ctx.load_verify_locations(ca)
ctx.verify_mode = ssl.CERT_REQUIRED
if top == "1.2":
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
s = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
s.socket = ctx.wrap_socket(s.socket, server_side=True)
s.serve_forever()
"#;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("openssl: {e} (is it installed?)"));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `NAME.pem` and `NAME.key`, signed by `ca`, for `san` and `usage`.
fn issue(dir: &Path, name: &str, san: &str, usage: &str) {
    let (key, csr, pem, ext) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.pem"),
        format!("{name}.ext"),
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &csr,
            "-subj",
            &format!("/CN={name}"),
        ],
    );
    std::fs::write(
        dir.join(&ext),
        format!("subjectAltName={san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n"),
    )
    .expect("ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &pem,
            "-extfile",
            &ext,
        ],
    );
}

struct Target(Child);

impl Drop for Target {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn target(dir: &Path, port: u16, top: &str) -> Target {
    let child = Command::new("python3")
        .current_dir(dir)
        .args([
            "-c",
            TARGET,
            &port.to_string(),
            "server.pem",
            "server.key",
            "ca.pem",
            top,
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("python3");
    Target(child)
}

/// `(health, lastError)` of each job's target, once every job was scraped.
fn health(server: &Server, jobs: &[&str]) -> Vec<(String, String)> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let resp = server.get("/api/v1/targets", &[]).expect("targets");
        let v: Value = serde_json::from_slice(&resp.body).expect("json");
        let active = v["data"]["activeTargets"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let got: Vec<(String, String)> = jobs
            .iter()
            .filter_map(|job| {
                let t = active.iter().find(|t| t["scrapePool"] == *job)?;
                let h = t["health"].as_str()?;
                (h != "unknown").then(|| {
                    (
                        h.to_owned(),
                        t["lastError"].as_str().unwrap_or("").to_owned(),
                    )
                })
            })
            .collect();
        if got.len() == jobs.len() {
            return got;
        }
        assert!(Instant::now() < deadline, "not all scraped: {got:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn tls_config_is_applied_as_written() {
    let dir = tempfile::tempdir().expect("dir");
    let d = dir.path();
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=scrape-ca",
        ],
    );
    issue(d, "server", "DNS:metrics.test", "serverAuth");
    issue(d, "client", "DNS:strata", "clientAuth");
    let (any, capped) = (common::free_port(), common::free_port());
    let _t1 = target(d, any, "any");
    let _t2 = target(d, capped, "1.2");
    // The first scrape must find both targets up: a refused connection is not the error
    // this test is about.
    common::wait_listening(any);
    common::wait_listening(capped);

    let job = |name: &str, port: u16, tls: &str| {
        format!(
            "  - job_name: {name}\n    scheme: https\n    static_configs: [{{targets: [\"127.0.0.1:{port}\"]}}]\n    tls_config: {{ca_file: ca.pem, {tls}}}\n"
        )
    };
    let client = "cert_file: client.pem, key_file: client.key";
    let yml = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\nscrape_configs:\n{}{}{}{}{}",
        job(
            "named",
            any,
            &format!("{client}, server_name: metrics.test")
        ),
        job("by_ip", any, client),
        job("no_client_cert", any, "server_name: metrics.test"),
        job(
            "tls13_only",
            capped,
            &format!("{client}, server_name: metrics.test, min_version: TLS13")
        ),
        job(
            "tls12",
            capped,
            &format!("{client}, server_name: metrics.test, min_version: TLS12")
        ),
    );
    std::fs::write(d.join("prom.yml"), yml).expect("write");
    let server = Server::start(common::bin(), d, "[scrape]\nfiles = [\"prom.yml\"]\n");
    server.wait_ready(common::READY);

    let jobs = ["named", "by_ip", "no_client_cert", "tls13_only", "tls12"];
    let got = health(&server, &jobs);
    let show = format!("{got:?}");
    let [named, by_ip, no_cert, tls13, tls12] = &got[..] else {
        panic!("{show}")
    };
    assert_eq!(
        named.0, "up",
        "server_name verifies the certificate: {show}"
    );
    assert_eq!(tls12.0, "up", "{show}");
    assert_eq!(
        by_ip.0, "down",
        "the certificate is not for 127.0.0.1: {show}"
    );
    assert!(by_ip.1.contains("certificate"), "{show}");
    assert_eq!(
        no_cert.0, "down",
        "the target wants a client certificate: {show}"
    );
    assert_eq!(
        tls13.0, "down",
        "min_version TLS13 against a TLS 1.2 target: {show}"
    );
    let resp = server.instant_query("tls_probe", common::now_ms(), &[]);
    let v: Value = serde_json::from_slice(&resp.body).expect("json");
    let mut stored: Vec<&str> = v["data"]["result"]
        .as_array()
        .expect("a vector")
        .iter()
        .filter_map(|s| s["metric"]["job"].as_str())
        .collect();
    stored.sort_unstable();
    assert_eq!(
        stored,
        ["named", "tls12"],
        "only the scrapes that worked stored"
    );
}
