//! `[otlp] delta_to_cumulative` with the OpenTelemetry Python SDK (installed by
//! `.ci/test.sh`): `tests/otel_delta/export.py` records the same values into a counter, an
//! explicit-bucket and an exponential histogram, exports them with cumulative temporality
//! to a default `strata serve` and with delta temporality to one with the option, and
//! checks that both hold the same series and values, and that the conversions are counted.

mod common;

use std::process::Command;

use strata_tests::server::Server;

#[test]
fn otlp_delta_exports_are_stored_as_the_cumulative_ones() {
    let probe = Command::new("python3")
        .args([
            "-c",
            "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http",
        ])
        .status();
    assert!(
        probe.is_ok_and(|s| s.success()),
        "the OpenTelemetry Python SDK is not importable in the python3 on PATH: .ci/test.sh \
         installs it in $CARGO_TARGET_DIR/venv and puts that first on PATH"
    );
    let (d1, d2) = (
        tempfile::tempdir().expect("dir"),
        tempfile::tempdir().expect("dir"),
    );
    let cumulative = Server::start(common::bin(), d1.path(), "");
    let delta = Server::start(
        common::bin(),
        d2.path(),
        "[otlp]\ndelta_to_cumulative = true\n",
    );
    cumulative.wait_ready(common::READY);
    delta.wait_ready(common::READY);
    let out = Command::new("python3")
        .arg("tests/otel_delta/export.py")
        .arg(format!("http://{}", cumulative.http))
        .arg(format!("http://{}", delta.http))
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the delta checks failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
