//! `[otlp] convert_histograms_to_nhcb` with the OpenTelemetry Python SDK (installed by
//! `.ci/test.sh`): `tests/otel_nhcb/export.py` exports the same explicit-bucket histogram
//! to a default `strata serve` and to one with the option, and checks that the second holds
//! a native histogram with custom buckets (no classic series) whose PromQL answers
//! (`histogram_quantile`, over `rate` too, `histogram_count`, `histogram_sum`) equal the
//! first one's over its classic buckets.

mod common;

use std::process::Command;

use strata_tests::server::Server;

#[test]
fn otlp_explicit_histograms_as_nhcb_answer_as_the_classic_buckets() {
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
    let classic = Server::start(common::bin(), d1.path(), "");
    let nhcb = Server::start(
        common::bin(),
        d2.path(),
        "[otlp]\nconvert_histograms_to_nhcb = true\n",
    );
    classic.wait_ready(common::READY);
    nhcb.wait_ready(common::READY);
    let out = Command::new("python3")
        .arg("tests/otel_nhcb/export.py")
        .arg(format!("http://{}", classic.http))
        .arg(format!("http://{}", nhcb.http))
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the NHCB checks failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
