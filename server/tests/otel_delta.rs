//! `[otlp] delta_to_cumulative` with the OpenTelemetry Python SDK (installed by
//! `.ci/test.sh`): `tests/otel_delta/export.py` records the same values into a counter, an
//! explicit-bucket and an exponential histogram, exports them with cumulative temporality
//! to a default `strata serve` and with delta temporality to one with the option, and
//! checks that both hold the same series and values, and that the conversions are counted.

mod common;

use strata_tests::server::Server;

#[test]
fn otlp_delta_exports_are_stored_as_the_cumulative_ones() {
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
    common::run_otel_script(
        "tests/otel_delta/export.py",
        &[
            format!("http://{}", cumulative.http),
            format!("http://{}", delta.http),
        ],
    );
}
