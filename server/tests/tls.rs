//! `[server.tls]` with real clients: certificates made by the `openssl` command (a CA and a
//! server certificate for 127.0.0.1 signed by it), `curl --cacert` over HTTPS to the HTTP
//! listener and over HTTP/2 with TLS to the gRPC listener (an OTLP export, framed as gRPC),
//! the OpenTelemetry Python SDK exporting metrics over gRPC and HTTP with the CA file
//! (`.ci/test.sh` installs it in the venv it puts first on PATH), and Debian's Prometheus
//! remote-writing over HTTPS with the CA file.
//! Plaintext is refused on both; a renewed certificate is served without a restart; with
//! `client_ca_file` only clients with a certificate of that CA are served, and a rotated CA
//! file is picked up without a restart; `self_signed`
//! makes a certificate once and keeps it; a key that is not the certificate's stops the
//! start with a clear error.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use strata_tests::moto::until;
use strata_tests::server::{Server, serve_command};

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (is `openssl`/`curl` installed?)"))
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = run(Command::new("openssl").current_dir(dir).args(args));
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA `NAME-ca.pem` and a server certificate for 127.0.0.1 it signed, `NAME.pem` with
/// its key `NAME.key`, in `dir`.
fn issue(dir: &Path, name: &str) {
    issue_for(dir, name, "serverAuth");
}

/// As [`issue`], for the extended key usage `usage` (`serverAuth`, `clientAuth`).
fn issue_for(dir: &Path, name: &str, usage: &str) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let ca = format!("{name}-ca");
    openssl(
        dir,
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                &format!("{ca}.key"),
                "-out",
                &format!("{ca}.pem"),
                "-days",
                "2",
                "-subj",
                &format!("/CN={ca}"),
            ],
        ]
        .concat(),
    );
    openssl(
        dir,
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                "/CN=127.0.0.1",
            ],
        ]
        .concat(),
    );
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        format!(
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage={usage}\n"
        ),
    )
    .expect("ext");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &format!("{name}.pem"),
            "-extfile",
            &format!("{name}.ext"),
        ],
    );
}

fn tls_config(dir: &Path) -> String {
    format!(
        "[server.tls]\ncert_file = {:?}\nkey_file = {:?}\n",
        dir.join("server.pem").display().to_string(),
        dir.join("server.key").display().to_string()
    )
}

/// `curl` with `args`, the HTTP status it got (`None`: no HTTP answer).
fn curl(args: &[&str]) -> Option<u16> {
    let out = run(Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "--max-time",
            "10",
        ])
        .args(args));
    let code: u16 = String::from_utf8_lossy(&out.stdout).trim().parse().ok()?;
    (out.status.success() && code != 0).then_some(code)
}

/// A server on a certificate `issue`d in `<dir>/certs`, ready over HTTPS.
struct Tls {
    dir: tempfile::TempDir,
    server: Server,
    /// The CA file clients trust, and the HTTP listener's `https://` base URL.
    ca: String,
    base: String,
}

fn start_tls() -> Tls {
    let dir = tempfile::tempdir().expect("dir");
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).expect("certs dir");
    issue(&certs, "server");
    let server = Server::start(common::bin(), dir.path(), &tls_config(&certs));
    let ca = certs.join("server-ca.pem").display().to_string();
    let base = format!("https://127.0.0.1:{}", server.http.port());
    until("the server to be ready over HTTPS", || {
        curl(&["--cacert", &ca, &format!("{base}/ready")]) == Some(200)
    });
    Tls {
        dir,
        server,
        ca,
        base,
    }
}

impl Tls {
    /// The answer to the PromQL `query`, over HTTPS (`Null` if it is not JSON).
    fn query(&self, query: &str) -> serde_json::Value {
        let out = run(Command::new("curl")
            .args(["-sS", "--cacert", &self.ca, "-G", "--data-urlencode"])
            .arg(format!("query={query}"))
            .arg(format!("{}/api/v1/query", self.base)));
        serde_json::from_slice(&out.stdout).unwrap_or_default()
    }
}

#[test]
fn both_listeners_speak_tls_only_and_a_renewed_certificate_is_served_without_restart() {
    let Tls {
        dir,
        server,
        ca,
        base,
    } = start_tls();
    let (ca, certs) = (ca.as_str(), dir.path().join("certs"));
    let ready = format!("{base}/ready");

    // Plaintext gets no HTTP answer on either listener.
    assert!(
        !matches!(server.get("/ready", &[]), Ok(r) if r.status == 200),
        "plaintext HTTP answered"
    );
    let plain = format!("http://127.0.0.1:{}/ready", server.http.port());
    assert_eq!(curl(&[&plain]), None, "plaintext HTTP answered");
    let grpc_plain = format!("http://127.0.0.1:{}/", server.grpc.port());
    assert_eq!(curl(&["--http2-prior-knowledge", &grpc_plain]), None);
    // An untrusted certificate is refused by the client, as it should be.
    assert_eq!(
        curl(&[&ready]),
        None,
        "curl trusted a certificate of an unknown CA"
    );
    // The refused handshakes are counted.
    let metrics = format!("https://127.0.0.1:{}/metrics", server.http.port());
    let out = run(Command::new("curl").args(["-sS", "--cacert", ca, &metrics]));
    let text = String::from_utf8_lossy(&out.stdout);
    let failed: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("strata_tls_handshake_failures_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no handshake counter in {text}"));
    assert!(failed >= 4.0, "{failed} failed handshakes counted");

    // OTLP over gRPC with TLS: an empty metrics export, framed as gRPC, over HTTP/2.
    let frame = certs.join("empty.grpc");
    std::fs::write(&frame, [0u8, 0, 0, 0, 0]).expect("frame");
    let export = format!(
        "https://127.0.0.1:{}/opentelemetry.proto.collector.metrics.v1.MetricsService/Export",
        server.grpc.port()
    );
    let out = run(Command::new("curl")
        .args([
            "-sS",
            "--http2",
            "--cacert",
            ca,
            "-D",
            "-",
            "-o",
            "/dev/null",
        ])
        .args(["-H", "content-type: application/grpc", "-H", "te: trailers"])
        .arg("--data-binary")
        .arg(format!("@{}", frame.display()))
        .arg(&export));
    let headers = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(headers.contains("http/2 200"), "{headers}");
    assert!(headers.contains("grpc-status: 0"), "{headers}");

    // A renewal: another CA's certificate replaces the files; new handshakes get it.
    let renewal = dir.path().join("renewal");
    std::fs::create_dir_all(&renewal).expect("renewal dir");
    issue(&renewal, "server");
    std::fs::copy(renewal.join("server.key"), certs.join("server.key")).expect("key");
    std::fs::copy(renewal.join("server.pem"), certs.join("server.pem")).expect("cert");
    let new_ca = renewal.join("server-ca.pem");
    let new_ca = new_ca.to_str().expect("utf-8");
    until("the renewed certificate", || {
        curl(&["--cacert", new_ca, &ready]) == Some(200)
    });
    assert_eq!(
        curl(&["--cacert", ca, &ready]),
        None,
        "the old certificate is still served"
    );
    server.terminate();
}

#[test]
fn a_key_that_is_not_the_certificates_stops_the_start() {
    let dir = tempfile::tempdir().expect("dir");
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).expect("certs dir");
    issue(&certs, "server");
    issue(&certs, "other");
    let config = format!(
        "[server.tls]\ncert_file = {:?}\nkey_file = {:?}\n",
        certs.join("server.pem").display().to_string(),
        certs.join("other.key").display().to_string()
    );
    let out = run(&mut serve_command(common::bin(), dir.path(), &config));
    assert!(!out.status.success(), "started with a mismatched key");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("server.tls") && err.contains("other.key"),
        "{err}"
    );
}

#[test]
fn with_a_client_ca_only_its_clients_are_served() {
    let dir = tempfile::tempdir().expect("dir");
    let certs = dir.path().join("certs");
    std::fs::create_dir_all(&certs).expect("certs dir");
    issue(&certs, "server");
    issue_for(&certs, "client", "clientAuth");
    issue_for(&certs, "stranger", "clientAuth");
    let config = format!(
        "{}client_ca_file = {:?}\n",
        tls_config(&certs),
        certs.join("client-ca.pem").display().to_string()
    );
    let server = Server::start(common::bin(), dir.path(), &config);
    let path = |f: &str| certs.join(f).display().to_string();
    let (ca, client, client_key) = (
        path("server-ca.pem"),
        path("client.pem"),
        path("client.key"),
    );
    let (stranger, stranger_key) = (path("stranger.pem"), path("stranger.key"));
    let ready = format!("https://127.0.0.1:{}/ready", server.http.port());
    let with =
        |cert: &str, key: &str| curl(&["--cacert", &ca, "--cert", cert, "--key", key, &ready]);
    until(
        "the server to be ready for a client with a certificate",
        || with(&client, &client_key) == Some(200),
    );
    assert_eq!(
        curl(&["--cacert", &ca, &ready]),
        None,
        "served a client without a certificate"
    );
    assert_eq!(
        with(&stranger, &stranger_key),
        None,
        "served another CA's client"
    );
    // The CA file is rotated to the stranger's CA: picked up without a restart.
    std::fs::copy(certs.join("stranger-ca.pem"), certs.join("client-ca.pem")).expect("rotate");
    until("the rotated client CA", || {
        with(&stranger, &stranger_key) == Some(200)
    });
    assert_eq!(
        with(&client, &client_key),
        None,
        "served the old CA's client"
    );
    // A CA file that does not load keeps the CAs in use.
    std::fs::write(certs.join("client-ca.pem"), "not a certificate\n").expect("break");
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(with(&stranger, &stranger_key), Some(200));
    server.terminate();
}

/// Exports one counter over OTLP/gRPC and one over OTLP/HTTP, both with TLS and the CA in
/// argv[3]; fails unless both exports succeed.
const OTEL_SCRIPT: &str = r#"
import sys
import grpc
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExportResult, PeriodicExportingMetricReader
from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpExporter

grpc_port, http_port, ca = sys.argv[1], sys.argv[2], sys.argv[3]
with open(ca, "rb") as f:
    roots = f.read()
exporters = {
    "grpc": GrpcExporter(endpoint=f"https://127.0.0.1:{grpc_port}",
                         credentials=grpc.ssl_channel_credentials(roots)),
    "http": HttpExporter(endpoint=f"https://127.0.0.1:{http_port}/v1/metrics",
                         certificate_file=ca),
}
for transport, exporter in exporters.items():
    results = []
    original = exporter.export
    def export(batch, *args, _original=original, **kwargs):
        r = _original(batch, *args, **kwargs)
        results.append(r)
        return r
    exporter.export = export
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=60_000)
    provider = MeterProvider(metric_readers=[reader])
    counter = provider.get_meter("tls-test").create_counter(f"tls_{transport}_orders")
    counter.add(3, {"transport": transport})
    provider.force_flush()
    provider.shutdown()
    if MetricExportResult.SUCCESS not in results:
        sys.exit(f"{transport}: no export succeeded: {results}")
"#;

#[test]
fn the_opentelemetry_python_sdk_exports_over_tls_with_a_ca_file() {
    let tls = start_tls();
    let (server, ca) = (&tls.server, &tls.ca);
    let script = tls.dir.path().join("export.py");
    std::fs::write(&script, OTEL_SCRIPT).expect("script");
    // `requests` (under the HTTP exporter) lets these variables override the CA file it is
    // given: some machines set them.
    let out = run(Command::new("python3")
        .env_remove("REQUESTS_CA_BUNDLE")
        .env_remove("CURL_CA_BUNDLE")
        .arg(&script)
        .arg(server.grpc.port().to_string())
        .arg(server.http.port().to_string())
        .arg(ca));
    assert!(
        out.status.success(),
        "the OpenTelemetry SDK's exports failed (is it installed? .ci/test.sh puts it in the venv): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Both counters are stored, read back over HTTPS.
    let body = tls.query("count by (transport) ({__name__=~\"tls_.*orders.*\"})");
    let mut transports: Vec<String> = body["data"]["result"]
        .as_array()
        .map(|rs| {
            rs.iter()
                .filter_map(|r| r["metric"]["transport"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    transports.sort();
    assert_eq!(transports, ["grpc", "http"], "{body}");
    tls.server.terminate();
}

/// A child process killed when dropped.
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prometheus_remote_writes_over_https_with_a_ca_file() {
    let tls = start_tls();
    let (dir, ca, base) = (&tls.dir, &tls.ca, &tls.base);
    // Prometheus scrapes itself every second and remote-writes what it scraped.
    let port = strata_tests::moto::free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{ scrape_interval: 1s }}\n\
             scrape_configs:\n  - job_name: prometheus\n    static_configs: [{{ targets: [\"127.0.0.1:{port}\"] }}]\n\
             remote_write:\n  - url: {base}/api/v1/write\n    tls_config: {{ ca_file: {ca:?} }}\n\
             \x20   queue_config: {{ batch_send_deadline: 1s }}\n"
        ),
    )
    .expect("prometheus.yml");
    let prometheus = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("prom").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        // Its log goes to the test's output, shown if the test fails.
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("prometheus: {e} (.ci/test.sh installs Debian's package)"));
    let _prometheus = Child(prometheus);
    until("a sample from Prometheus over HTTPS", || {
        tls.query("count(up{job=\"prometheus\"})")["data"]["result"][0]["value"][1] == "1"
    });
    tls.server.terminate();
}

#[test]
fn a_self_signed_certificate_is_made_at_first_start_and_kept() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("dir");
    let config = "[server.tls]\nself_signed = true\n";
    let tls_dir = strata_tests::server::data_dir(dir.path()).join("tls");
    let cert = tls_dir.join("self-signed.pem");
    let cert_arg = cert.display().to_string();
    let mut made = Vec::new();
    for start in 0..2 {
        let server = Server::start(common::bin(), dir.path(), config);
        let ready = format!("https://127.0.0.1:{}/ready", server.http.port());
        until("the server to be ready with its own certificate", || {
            curl(&["--cacert", &cert_arg, &ready]) == Some(200)
        });
        let bytes = std::fs::read(&cert).expect("the certificate");
        if start == 0 {
            made = bytes;
        } else {
            assert_eq!(bytes, made, "a restart made another certificate");
        }
        server.terminate();
    }
    let key = std::fs::metadata(tls_dir.join("self-signed.key")).expect("the key");
    assert_eq!(
        key.permissions().mode() & 0o777,
        0o600,
        "the key is readable by others"
    );
}
