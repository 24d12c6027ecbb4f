//! The OpenTelemetry Python SDK (PyPI `opentelemetry-sdk` with its OTLP gRPC and HTTP
//! exporters, installed by `.ci/test.sh`) exporting exponential histograms to the real
//! `strata serve`: `tests/otel_exphist/export.py` records known values, exports them over
//! gRPC and HTTP, and checks the native histograms read back through the Prometheus API
//! against what Prometheus's OTLP translation makes of them (scale clamped to 8, zero
//! threshold 1e-128, exact buckets, count and sum); a delta export is refused and counted.

mod common;

use strata_tests::server::Server;

#[test]
fn the_otel_python_sdk_exports_exponential_histograms_over_grpc_and_http() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(common::bin(), dir.path(), "");
    server.wait_ready(common::READY);
    common::run_otel_script(
        "tests/otel_exphist/export.py",
        &[
            format!("http://{}", server.http),
            format!("http://{}", server.grpc),
        ],
    );
}
