//! The OpenTelemetry Python SDK (PyPI `opentelemetry-sdk` with its OTLP gRPC and HTTP
//! exporters, installed by `.ci/test.sh`) exporting exponential histograms to the real
//! `strata serve`: `tests/otel_exphist/export.py` records known values, exports them over
//! gRPC and HTTP, and checks the native histograms read back through the Prometheus API
//! against what Prometheus's OTLP translation makes of them (scale clamped to 8, zero
//! threshold 1e-128, exact buckets, count and sum); a delta export is refused and counted.

mod common;

use std::process::Command;

use strata_tests::server::Server;

#[test]
fn the_otel_python_sdk_exports_exponential_histograms_over_grpc_and_http() {
    let probe = Command::new("python3")
        .args(["-c", "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.otlp.proto.http"])
        .status();
    assert!(
        probe.is_ok_and(|s| s.success()),
        "the OpenTelemetry Python SDK is not importable in the python3 on PATH: .ci/test.sh \
         installs it in $CARGO_TARGET_DIR/venv and puts that first on PATH"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    let out = Command::new("python3")
        .arg("tests/otel_exphist/export.py")
        .arg(format!("http://{}", server.http))
        .arg(format!("http://{}", server.grpc))
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the OTel SDK exponential-histogram checks failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
