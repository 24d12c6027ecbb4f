//! Smoke test of the Arrow Flight SQL service on the gRPC listener, with pyarrow.flight
//! (PyPI `pyarrow`, installed by `.ci/test.sh`) against the real `strata serve`:
//! `tests/flight_sql_smoke/smoke.py` writes a gauge over OTLP/HTTP JSON, performs the Basic
//! handshake, runs a statement query and checks the rows against what it wrote, and checks
//! the errors of no token, bad SQL and a garbage ticket; see its docstring.

mod common;

use std::process::Command;

use strata_tests::server::Server;

// sha256 of "acme-rw".
const AUTH: &str = r#"
[[auth.tokens]]
sha256 = "SHA_ACME"
tenant = "acme"
scopes = ["read", "write"]
"#;

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

#[test]
fn pyarrow_flight_handshakes_and_reads_what_was_written() {
    let probe = Command::new("python3")
        .args(["-c", "import pyarrow.flight"])
        .status();
    assert!(
        probe.is_ok_and(|s| s.success()),
        "pyarrow (with Flight) is not importable in the python3 on PATH: .ci/test.sh \
         installs it in $CARGO_TARGET_DIR/venv and puts that first on PATH"
    );
    let config = AUTH.replace("SHA_ACME", &sha256_hex("acme-rw"));
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), &config);
    server.wait_ready(common::READY);
    let out = Command::new("python3")
        .arg("tests/flight_sql_smoke/smoke.py")
        .arg(server.http.to_string())
        .arg(server.grpc.to_string())
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the Flight SQL smoke checks failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(server.terminate().success());
}
