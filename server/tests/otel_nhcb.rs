//! `[otlp] convert_histograms_to_nhcb` with the OpenTelemetry Python SDK (installed by
//! `.ci/test.sh`): `tests/otel_nhcb/export.py` exports the same explicit-bucket histogram
//! to a default `strata serve` and to one with the option, and checks that the second holds
//! a native histogram with custom buckets (no classic series) whose PromQL answers
//! (`histogram_quantile`, over `rate` too, `histogram_count`, `histogram_sum`) equal the
//! first one's over its classic buckets.

mod common;

use strata_tests::server::Server;

#[test]
fn otlp_explicit_histograms_as_nhcb_answer_as_the_classic_buckets() {
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
    common::run_otel_script(
        "tests/otel_nhcb/export.py",
        &[
            format!("http://{}", classic.http),
            format!("http://{}", nhcb.http),
        ],
    );
}
