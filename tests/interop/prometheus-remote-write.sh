#!/usr/bin/env bash
# Interop: a real Prometheus (Debian's package) scrapes node_exporter and itself and
# remote-writes to a real `strata serve`; then the same PromQL range queries, series and label
# lookups go to both, and the answers must be the same. Run by .ci/test.sh.
#
#   bash tests/interop/prometheus-remote-write.sh [path/to/strata]
#
# Installs `prometheus` and `prometheus-node-exporter` with apt-get when missing. Leaves
# nothing running; logs and data stay in $WORK (printed) when it fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

STRATA="${1:-${CARGO_TARGET_DIR:-target}/debug/strata}"
[ -x "$STRATA" ] || { echo "no strata binary at $STRATA (cargo build -p strata-server)"; exit 1; }

need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
[ -x /usr/bin/prometheus-node-exporter ] || need+=(prometheus-node-exporter)
if [ ${#need[@]} -gt 0 ]; then
    echo "installing ${need[*]}"
    # Debian starts installed services; policy-rc.d keeps them down (we run our own).
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null \
        || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null; }
    rm -f /usr/sbin/policy-rc.d
    pkill -x prometheus-node-exporter 2>/dev/null || true
fi

WORK=$(mktemp -d /tmp/strata-interop.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP=$(free_port); GRPC=$(free_port); PROM=$(free_port); NODE=$(free_port)

"$STRATA" serve --data-dir "$WORK/strata" --http-addr "127.0.0.1:$HTTP" \
    --grpc-addr "127.0.0.1:$GRPC" >"$WORK/strata.log" 2>&1 &
pids+=($!)
/usr/bin/prometheus-node-exporter --web.listen-address="127.0.0.1:$NODE" \
    --collector.disable-defaults --collector.cpu --collector.meminfo --collector.loadavg \
    --collector.filesystem --collector.netdev --collector.stat >"$WORK/node.log" 2>&1 &
pids+=($!)

cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: node
    static_configs: [{ targets: ["127.0.0.1:$NODE"] }]
  - job_name: prometheus
    static_configs: [{ targets: ["127.0.0.1:$PROM"] }]
remote_write:
  - url: http://127.0.0.1:$HTTP/api/v1/write
    queue_config: { batch_send_deadline: 1s, max_samples_per_send: 2000 }
YML

for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$HTTP/ready" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$HTTP/ready" >/dev/null || { cat "$WORK/strata.log"; echo "strata did not get ready"; exit 1; }

prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
    --web.listen-address="127.0.0.1:$PROM" >"$WORK/prometheus.log" 2>&1 &
pids+=($!)

echo "scraping for ${STRATA_INTEROP_SECONDS:-100} s (work dir $WORK)"
sleep "${STRATA_INTEROP_SECONDS:-100}"

if python3 tests/interop/compare.py "http://127.0.0.1:$PROM" "http://127.0.0.1:$HTTP"; then
    echo "interop: Prometheus and Strata agree"
    cleanup
    rm -rf "$WORK"
else
    echo "interop FAILED; logs and data in $WORK"
    tail -n 20 "$WORK/strata.log" "$WORK/prometheus.log"
    exit 1
fi
