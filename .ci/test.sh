#!/usr/bin/env bash
# The whole test suite: README.md's test command. Installs what the tests need on a fresh
# machine, then runs every test target with nextest and the doctests with cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-nextest >/dev/null 2>&1; then
    cargo install --locked cargo-nextest
fi

# DuckDB reads flushed partitions in engine/tests/duckdb_reads_partitions.rs; DuckDB and
# pyarrow read compacted spans files in query/tests/spans_copy_compaction.rs.
for module in duckdb pyarrow; do
    if ! python3 -c "import $module" >/dev/null 2>&1; then
        python3 -m pip install --quiet --disable-pip-version-check "$module"
    fi
done

cargo nextest run --locked --workspace --config-file .ci/nextest.toml --profile ci
cargo test --locked --workspace --doc

# Interop: a real Prometheus scrapes node_exporter and remote-writes to `strata serve`; both
# must answer the same PromQL (installs Debian's prometheus and node_exporter when missing).
# The binary is the one nextest built for the server's end-to-end tests.
bash tests/interop/prometheus-remote-write.sh "${CARGO_TARGET_DIR:-target}/debug/strata"
