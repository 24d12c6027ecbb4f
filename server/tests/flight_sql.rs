//! Arrow Flight SQL with real clients: ADBC's Flight SQL driver
//! (`adbc-driver-flightsql` with `adbc-driver-manager`, DB-API and Arrow) and
//! `pyarrow.flight` with hand-built Flight SQL commands, installed by `.ci/test.sh`, against
//! the real `strata serve` on its gRPC listener. The checks are in `tests/flight_sql/`
//! (`client.py MODE`); each prints PASS or FAIL per check and exits 1 when any failed:
//! - `core`: every table seeded over OTLP/JSON and read through both clients equal
//!   (`pyarrow.Table.equals`) to `/api/v1/sql`'s Arrow IPC answer; the metadata calls;
//!   prepared statements with `$1` and `?`; bad tickets, unknown handles, malformed SQL, a
//!   result over `sql.max_result_bytes` and a query over `sql.timeout`, each followed by a
//!   good query.
//! - `auth`: missing, wrong and write-only tokens, another tenant's `x-scope-orgid`, the
//!   Basic handshake, and tenant isolation on every table.
//! - `large`: a result many times `sql.memory_pool_bytes` streamed while the server's peak
//!   RSS stays bounded (measured here), and a client gone after one batch counted as
//!   CANCELLED on `/metrics`; `long`: a client gone during a long aggregation, after which
//!   the server's CPU goes quiet (measured here: the query stopped).
//! - `tls`: `grpc+tls://` with `[server.tls] self_signed`'s certificate as the root.

mod common;

use std::process::Command;
use std::time::Duration;

use strata_tests::server::Server;

/// `python3 tests/flight_sql/client.py HTTP GRPC MODE`: its stdout, asserted to succeed.
fn client(server: &Server, mode: &str) -> String {
    client_with(server, mode, &[])
}

/// As [`client`], with more arguments after the mode.
fn client_with(server: &Server, mode: &str, more: &[&str]) -> String {
    let out = Command::new("python3")
        .arg("tests/flight_sql/client.py")
        .arg(server.http.to_string())
        .arg(server.grpc.to_string())
        .arg(mode)
        .args(more)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    println!("{stdout}");
    assert!(
        out.status.success(),
        "Flight SQL checks ({mode}) failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn probe_clients() {
    let probe = Command::new("python3")
        .args([
            "-c",
            "import adbc_driver_flightsql.dbapi, adbc_driver_manager, pyarrow.flight",
        ])
        .status();
    assert!(
        probe.is_ok_and(|s| s.success()),
        "adbc-driver-flightsql, adbc-driver-manager or pyarrow is not importable in the \
         python3 on PATH: install by .ci/test.sh (it installs them in $CARGO_TARGET_DIR/venv \
         and puts that first on PATH)"
    );
}

#[test]
fn adbc_and_pyarrow_flight_read_every_table_as_the_http_api_does() {
    probe_clients();
    let dir = tempfile::tempdir().expect("tempdir");
    // A small result limit, so that a 1,000,000-row result passes it (the HTTP twin: 422),
    // and a short timeout, that a long aggregation passes (503).
    let config = "[sql]\nmax_result_bytes = 1048576\ntimeout = \"3s\"\n";
    let server = Server::start(common::bin(), dir.path(), config);
    server.wait_ready(common::READY);
    client(&server, "core");
    assert_eq!(server.get("/ready", &[]).expect("ready").status, 200);
    assert!(server.terminate().success());
}

// sha256 of "acme-rw", "globex-rw", "acme-writer".
const AUTH: &str = r#"
[[auth.tokens]]
sha256 = "SHA_ACME"
tenant = "acme"
scopes = ["read", "write"]
[[auth.tokens]]
sha256 = "SHA_GLOBEX"
tenant = "globex"
scopes = ["read", "write"]
[[auth.tokens]]
sha256 = "SHA_WRITER"
tenant = "acme"
scopes = ["write"]
"#;

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

#[test]
fn flight_sql_needs_a_read_token_and_sees_its_tenant_only() {
    probe_clients();
    let config = AUTH
        .replace("SHA_ACME", &sha256_hex("acme-rw"))
        .replace("SHA_GLOBEX", &sha256_hex("globex-rw"))
        .replace("SHA_WRITER", &sha256_hex("acme-writer"));
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), &config);
    server.wait_ready(common::READY);
    client(&server, "auth");
    assert!(server.terminate().success());
}

#[test]
fn flight_sql_over_tls_with_the_servers_certificate() {
    probe_clients();
    let config = format!(
        "[server.tls]\nself_signed = true\n{}",
        AUTH.replace("SHA_ACME", &sha256_hex("acme-rw"))
            .replace("SHA_GLOBEX", &sha256_hex("globex-rw"))
            .replace("SHA_WRITER", &sha256_hex("acme-writer"))
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let cert = strata_tests::server::data_dir(dir.path()).join("tls/self-signed.pem");
    let server = Server::start(common::bin(), dir.path(), &config);
    // The certificate is written before the listeners serve; client.py waits for gRPC.
    let deadline = std::time::Instant::now() + common::READY;
    while !cert.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "no {} within {:?}",
            cert.display(),
            common::READY
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    client_with(&server, "tls", &[&cert.display().to_string()]);
    assert!(server.terminate().success());
}

/// The server's resident memory now (`VmRSS`), in bytes.
fn rss(server: &Server) -> u64 {
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", server.pid())).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// How much the server's peak RSS may rise over its RSS before the large result streams
/// (the result, as Arrow buffers, is asserted to be more than twice this).
const STREAM_RSS_BOUND: u64 = 64 << 20;

#[test]
fn a_large_result_streams_in_bounded_memory_and_a_client_gone_is_cancelled() {
    probe_clients();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = "[sql]\nmemory_pool_bytes = 16777216\nmax_result_bytes = 4294967296\n";
    let server = Server::start(common::bin(), dir.path(), config);
    server.wait_ready(common::READY);
    client(&server, "seed-large");
    // A fresh process: the ingest's freed memory, still resident, could otherwise hold a
    // materialised result without the RSS rising.
    assert!(server.terminate().success());
    let server = Server::start(common::bin(), dir.path(), config);
    server.wait_ready(common::READY);
    client(&server, "warm");
    let before = rss(&server);
    assert!(before > 0, "read the server's VmRSS");
    let out = client(&server, "large");
    let peak = server.peak_rss();
    let arrow_bytes = out
        .lines()
        .find_map(|l| l.strip_prefix("STREAM "))
        .and_then(|l| l.split(' ').find_map(|kv| kv.strip_prefix("arrow_bytes=")))
        .and_then(|n| n.parse::<u64>().ok())
        .expect("client.py large prints STREAM ... arrow_bytes=N");
    println!(
        "RSS before the stream {} MiB, peak {} MiB, result {} MiB of Arrow buffers",
        before >> 20,
        peak >> 20,
        arrow_bytes >> 20
    );
    assert!(
        arrow_bytes > 2 * STREAM_RSS_BOUND,
        "the result ({arrow_bytes} bytes) must be larger than twice the bound"
    );
    assert!(
        peak.saturating_sub(before) < STREAM_RSS_BOUND,
        "peak RSS rose by {} MiB while streaming (bound {} MiB)",
        peak.saturating_sub(before) >> 20,
        STREAM_RSS_BOUND >> 20
    );

    // A client gone during a long aggregation: the query stops, so the server's CPU goes
    // quiet (the same query running, measured over HTTP: 136 ticks in 2 s; idle: 0).
    client(&server, "long");
    std::thread::sleep(Duration::from_millis(500));
    let t0 = cpu_ticks(&server);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(&server) - t0;
    println!("CPU after the cancel: {used} ticks in 2 s");
    assert!(
        used < 40,
        "the server used {used} ticks of CPU in the 2 s after the client left: the query runs on"
    );
    assert_eq!(server.get("/ready", &[]).expect("ready").status, 200);
    assert!(server.terminate().success());
}

/// The server's user + system CPU time so far, in clock ticks (`/proc/PID/stat`).
fn cpu_ticks(server: &Server) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", server.pid())).unwrap_or_default();
    // After the command name in parentheses: state is field 3, utime 14 and stime 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => u + s,
        _ => panic!(
            "read the server's CPU time from /proc/{}/stat",
            server.pid()
        ),
    }
}
