#!/usr/bin/env bash
# The whole test suite: README.md's test command. Installs what the tests need on a fresh
# machine, then runs every test target with nextest and the doctests with cargo test.
#
# What it installs, and where:
# - cargo-nextest, when it is not on PATH: under the target directory ($TARGET/tools)
#   (`cargo install`, which like the build downloads crates into cargo's home, ~/.cargo).
# - Python packages (duckdb, pyarrow, python-logging-loki, moto[server] for an S3 server on
#   loopback, the OpenTelemetry SDK and its OTLP exporters for server/tests/tls.rs and
#   otel_exphist.rs, grpcio-tools and cramjam for server/tests/rw2_client.rs's remote-write
#   2.0 client, adbc-driver-flightsql and adbc-driver-manager for server/tests/flight_sql.rs's
#   Arrow Flight SQL client): in a virtualenv, $TARGET/venv,
#   made with `python3 -m venv` and reused while it works; never with a system-wide pip.
#   (Debian's python3 needs the package python3-venv for that; installed when missing.)
# - Debian packages, system-wide with apt-get (so as root; a machine that has them all runs
#   this without root, and one that lacks any stops with the `apt-get install` to run):
#   prometheus and prometheus-node-exporter (tests/interop's script, which puts a
#   /usr/sbin/policy-rc.d there for the install when none exists, so that their services do
#   not start, and removes it after), openssl, curl and prometheus (server/tests/tls.rs,
#   rules_promtool.rs), prometheus-alertmanager (server/tests/rules_serve.rs), chromium and
#   chromium-driver (server/tests/console.rs, with selenium from PyPI), victoria-metrics
#   (server/tests/strata_import.rs imports from it and exports into it), each when missing.
# Besides these, the target directory and cargo's home, the tests write their temporary
# directories (under $TMPDIR; the interop script keeps its own, and prints it, when it
# fails) and Python's __pycache__/ beside the Python scripts they run (ignored by git).
#
# How tests find the venv: its bin/ goes first on PATH for everything below, so every test
# that runs `python3` (engine/tests/duckdb_reads_partitions.rs with DuckDB,
# query/tests/spans_copy_compaction.rs with DuckDB and pyarrow, server/tests/loki_push.rs
# with python-logging-loki, tests/interop) runs the venv's. To run one of them alone:
# `. "$CARGO_TARGET_DIR/venv/bin/activate"` first; without the packages they fail and say
# what is missing.
#
# $TARGET is ${CARGO_TARGET_DIR:-target}. The PromQL conformance test needs Prometheus's
# scripts (STRATA_PROMQL_SUITE, see query/tests/promql_conformance.rs): without them it
# reports itself skipped, unless CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET="${CARGO_TARGET_DIR:-target}"
mkdir -p "$TARGET"
TARGET=$(cd "$TARGET" && pwd) # absolute: tests run python3 from their crate's folder

apt_install() {
    [ "$(id -u)" = 0 ] || { echo "needs the Debian packages $*: apt-get install $* (as root)"; exit 1; }
    echo "installing Debian packages: $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null; }
}

if ! command -v cargo-nextest >/dev/null 2>&1; then
    export PATH="$TARGET/tools/bin:$PATH"
    if ! command -v cargo-nextest >/dev/null 2>&1; then
        cargo install --locked --root "$TARGET/tools" cargo-nextest
    fi
fi

VENV="$TARGET/venv"
if ! "$VENV/bin/python3" -c '' >/dev/null 2>&1; then
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" >/dev/null 2>&1; then
        # Debian's python3 has no ensurepip (so no venv) without python3-venv.
        rm -rf "$VENV"
        apt_install python3-venv
        python3 -m venv "$VENV"
    fi
fi
export PATH="$VENV/bin:$PATH"
# package:module (PyPI name, import name)
for pair in duckdb:duckdb pyarrow:pyarrow python-logging-loki:logging_loki moto[server]:moto.server \
    opentelemetry-sdk:opentelemetry.sdk \
    opentelemetry-exporter-otlp-proto-grpc:opentelemetry.exporter.otlp.proto.grpc \
    opentelemetry-exporter-otlp-proto-http:opentelemetry.exporter.otlp.proto.http \
    selenium:selenium grpcio-tools:grpc_tools cramjam:cramjam \
    adbc-driver-flightsql:adbc_driver_flightsql adbc-driver-manager:adbc_driver_manager; do
    package="${pair%%:*}" module="${pair#*:}"
    if ! python3 -c "import $module" >/dev/null 2>&1; then
        echo "installing $package in $VENV"
        python3 -m pip install --quiet --disable-pip-version-check --no-cache-dir "$package"
    fi
done

# server/tests/tls.rs makes its certificates with `openssl`, is a TLS client with `curl`, and
# has Debian's Prometheus remote-write over HTTPS.
for tool in openssl curl prometheus; do
    command -v "$tool" >/dev/null 2>&1 || apt_install "$tool"
done
# server/tests/rules_serve.rs delivers alerts to Debian's Alertmanager;
# server/tests/rules_promtool.rs checks rule evaluation with promtool (in prometheus).
command -v prometheus-alertmanager >/dev/null 2>&1 || apt_install prometheus-alertmanager
# server/tests/strata_import.rs runs Debian's VictoriaMetrics as the source of an import.
command -v victoria-metrics >/dev/null 2>&1 || apt_install victoria-metrics
# server/tests/console.rs drives Debian's Chromium through chromedriver with Selenium (above;
# SE_OFFLINE keeps Selenium from fetching a driver of its own).
[ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ] || apt_install chromium chromium-driver
export SE_OFFLINE=true

cargo nextest run --locked --workspace --config-file .ci/nextest.toml --profile ci
cargo test --locked --workspace --doc

# Interop: a real Prometheus scrapes node_exporter and remote-writes to `strata serve`; both
# must answer the same PromQL (installs Debian's prometheus and node_exporter when missing).
# The binary is the one nextest built for the server's end-to-end tests.
bash tests/interop/prometheus-remote-write.sh "$TARGET/debug/strata"
# Interop: Prometheus and `strata serve` scrape the same targets with the same
# prometheus.yml; the series, `up`, staleness markers, metadata and exemplars must agree.
bash tests/interop/prometheus-scrape.sh "$TARGET/debug/strata"
