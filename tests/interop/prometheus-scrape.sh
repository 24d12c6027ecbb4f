#!/usr/bin/env bash
# Interop: Debian's Prometheus and `strata serve` scrape the same targets with the same,
# unchanged prometheus.yml (Strata through `[scrape] files`): node_exporter, Prometheus's
# own /metrics, and a test exporter (scrape_target.py: counters, a classic histogram, a
# summary, escapes, +Inf, a label clash, OpenMetrics with exemplars and units, gzip, the
# protobuf format with a native histogram, a file_sd target that is removed and a gauge
# and a native histogram that disappear). Native histograms are on in both (Prometheus's
# feature flag, Strata's `[scrape] native_histograms`), so every job asks for protobuf
# first: node_exporter and Prometheus answer in it. compare_scrape.py then asks
# both for the series each job left, `up`, the staleness markers after the removals, the
# metadata and the exemplar. Run by .ci/test.sh after prometheus-remote-write.sh (which
# installs node_exporter).
#
#   bash tests/interop/prometheus-scrape.sh [path/to/strata]
set -euo pipefail
cd "$(dirname "$0")/../.."

STRATA="${1:-${CARGO_TARGET_DIR:-target}/debug/strata}"
[ -x "$STRATA" ] || { echo "no strata binary at $STRATA (cargo build -p strata-server)"; exit 1; }
command -v prometheus >/dev/null 2>&1 || { echo "needs Debian's prometheus"; exit 1; }
[ -x /usr/bin/prometheus-node-exporter ] || { echo "needs Debian's prometheus-node-exporter"; exit 1; }

WORK=$(mktemp -d /tmp/strata-scrape-interop.XXXXXX)
STRATA_PID= NODE_PID= PROM_PID= TARGET_PID=
stop() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
cleanup() {
    stop "$PROM_PID"; stop "$STRATA_PID"; stop "$NODE_PID"; stop "$TARGET_PID"
    PROM_PID= STRATA_PID= NODE_PID= TARGET_PID=
}
fail() {
    echo "scrape interop FAILED: $*"
    cleanup
    tail -n 20 "$WORK/strata.log" "$WORK/prometheus.log" "$WORK/target.log" 2>/dev/null || true
    echo "logs and data in $WORK"
    exit 1
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP=$(free_port); GRPC=$(free_port); PROM=$(free_port); NODE=$(free_port)
APP=$(free_port); GONE=$(free_port)

mkdir -p "$WORK/sd" "$WORK/state"
/usr/bin/prometheus-node-exporter --web.listen-address="127.0.0.1:$NODE" \
    --collector.disable-defaults --collector.cpu --collector.meminfo --collector.loadavg \
    --collector.stat >"$WORK/node.log" 2>&1 &
NODE_PID=$!
python3 tests/interop/scrape_target.py "$APP" "$GONE" "$WORK/state" >"$WORK/target.log" 2>&1 &
TARGET_PID=$!
echo "[{\"targets\": [\"127.0.0.1:$GONE\"], \"labels\": {\"team\": \"a\"}}]" > "$WORK/sd/gone.json"

cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1m
scrape_configs:
  - job_name: node
    static_configs: [{ targets: ["127.0.0.1:$NODE"] }]
  - job_name: prometheus
    static_configs: [{ targets: ["127.0.0.1:$PROM"] }]
  - job_name: app
    static_configs: [{ targets: ["127.0.0.1:$APP"], labels: { env: interop } }]
    metric_relabel_configs:
      - { source_labels: [code], regex: "500", action: drop }
  - job_name: om
    metrics_path: /om
    honor_labels: true
    static_configs: [{ targets: ["127.0.0.1:$APP"] }]
  - job_name: proto
    metrics_path: /proto
    static_configs: [{ targets: ["127.0.0.1:$APP"] }]
  - job_name: vanish
    file_sd_configs: [{ files: ["sd/*.json"], refresh_interval: 1s }]
YML
cat >"$WORK/strata.toml" <<TOML
[scrape]
files = ["prometheus.yml"]
native_histograms = true
TOML

"$STRATA" serve --config "$WORK/strata.toml" --data-dir "$WORK/strata" \
    --http-addr "127.0.0.1:$HTTP" --grpc-addr "127.0.0.1:$GRPC" >"$WORK/strata.log" 2>&1 &
STRATA_PID=$!
(cd "$WORK" && exec prometheus --config.file=prometheus.yml --storage.tsdb.path=prom \
    --web.listen-address="127.0.0.1:$PROM" --enable-feature=exemplar-storage,native-histograms \
    >"$WORK/prometheus.log" 2>&1) &
PROM_PID=$!
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$HTTP/ready" >/dev/null 2>&1 \
        && curl -fsS "http://127.0.0.1:$PROM/-/ready" >/dev/null 2>&1 && break
    sleep 0.2
done
curl -fsS "http://127.0.0.1:$HTTP/ready" >/dev/null || fail "strata did not get ready"
curl -fsS "http://127.0.0.1:$PROM/-/ready" >/dev/null || fail "prometheus did not get ready"

# Twelve seconds of scrapes, then the file_sd target and the gauge go.
sleep 12
for p in "strata:$STRATA_PID" "node_exporter:$NODE_PID" "prometheus:$PROM_PID" "target:$TARGET_PID"; do
    kill -0 "${p#*:}" 2>/dev/null || fail "${p%%:*} exited early"
done
REMOVED=$(python3 -c 'import time; print(round(time.time(), 3))')
echo "[]" > "$WORK/sd/gone.json"
touch "$WORK/state/drop"
# Strata checks file_sd files every 5 s; then one scrape interval, and some slack.
sleep 9
NOW=$(python3 -c 'import time; print(round(time.time(), 3))')
python3 tests/interop/compare_scrape.py "http://127.0.0.1:$PROM" "http://127.0.0.1:$HTTP" \
    --removed-at "$REMOVED" --now "$NOW" || fail "Prometheus and Strata stored different scrapes"
echo "scrape interop passed"
