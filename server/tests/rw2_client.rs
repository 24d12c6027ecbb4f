//! A remote-write 2.0 client built from the published proto against the real `strata serve`:
//! `tests/rw2_client/client.py` compiles the vendored `types.proto` (Prometheus's
//! `io.prometheus.write.v2`) with grpcio-tools and posts snappy bodies (cramjam), both from
//! PyPI and installed by `.ci/test.sh`. It checks the `Written` headers, floats and native
//! histograms (integer, float, custom buckets) read back exactly, a partly bad request, bad
//! symbol references and content negotiation; see its docstring.

mod common;

use std::process::Command;

use strata_tests::server::Server;

#[test]
fn remote_write_2_client_from_the_published_proto() {
    let tools = Command::new("python3")
        .args(["-c", "import grpc_tools, cramjam"])
        .status();
    assert!(
        tools.is_ok_and(|s| s.success()),
        "needs grpcio-tools and cramjam in the python3 on PATH (.ci/test.sh installs them in \
         $CARGO_TARGET_DIR/venv)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    let out = Command::new("python3")
        .arg("tests/rw2_client/client.py")
        .arg(format!("http://{}", server.http))
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the remote-write 2.0 client's checks failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
