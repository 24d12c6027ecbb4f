#!/usr/bin/env bash
# remote-read-bench.sh STRATA_BIN DS [OUT] [--runs N]
#
# Remote read of one series over the dataset's 6 h (docs/benchmarks.md, "Import"): DS is
# the shared dataset with its remote-write requests (`gen_dataset.py --formats rw,...`).
# Debian's Prometheus 2.42 (start-peers.sh) and a fresh `strata serve` (retention 100 y) are
# loaded with the same requests by load_peers.py rw, then remote_read_time.py asks each
# for `node_cpu_seconds_total{instance="host-00007:9100",cpu="0",mode="idle"}` over the
# whole range (SAMPLES) RUNS times after a warm-up; prints both medians.
set -euo pipefail
STRATA=${1:?usage: remote-read-bench.sh STRATA_BIN DS [OUT] [--runs N]}
DS=${2:?usage: remote-read-bench.sh STRATA_BIN DS [OUT] [--runs N]}
shift 2
OUT=/tmp/strata-remote-read-bench
if [ $# -gt 0 ] && [[ $1 != --* ]]; then OUT=$1; shift; fi
RUNS=20
[ "${1:-}" = --runs ] && RUNS=$2
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${SHARED:-$(cd "$HERE/../../../shared/bench" && pwd)}
rm -rf "$OUT"; mkdir -p "$OUT"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    "$SHARED/stop-peers.sh" "$OUT/peers" >/dev/null 2>&1 || true
    wait 2>/dev/null || true
}
trap cleanup EXIT

PROM_ADDR=127.0.0.1:$(free_port)
PEERS=prom PROM_ADDR=$PROM_ADDR "$SHARED/start-peers.sh" "$OUT/peers" > /dev/null
HTTP=$(free_port); GRPC=$(free_port)
printf '[retention]\nmetrics = "36500d"\n[limits]\ningest_rate = 10000000\ningest_burst = 20000000\n' > "$OUT/strata.toml"
"$STRATA" serve --config "$OUT/strata.toml" --data-dir "$OUT/strata" \
    --http-addr "127.0.0.1:$HTTP" --grpc-addr "127.0.0.1:$GRPC" > "$OUT/strata.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 300); do
    curl -fsS "http://127.0.0.1:$HTTP/ready" >/dev/null 2>&1 && curl -fsS "http://$PROM_ADDR/-/ready" >/dev/null 2>&1 && break
    sleep 0.2
done
python3 "$SHARED/load_peers.py" rw --ds "$DS" --url "http://$PROM_ADDR/api/v1/write" > "$OUT/load-prom.json"
python3 "$SHARED/load_peers.py" rw --ds "$DS" --url "http://127.0.0.1:$HTTP/api/v1/write" > "$OUT/load-strata.json"
read -r FIRST LAST < <(python3 -c "import json; m=json.load(open('$DS/meta.json')); print(m['first_ts_ms'], m['last_ts_ms'])")
SERIES=(__name__=node_cpu_seconds_total instance=host-00007:9100 cpu=0 mode=idle)
for who in "prometheus http://$PROM_ADDR" "strata http://127.0.0.1:$HTTP"; do
    set -- $who
    python3 "$HERE/remote_read_time.py" "$2" "$FIRST" "$LAST" "$RUNS" "${SERIES[@]}" | sed "s/^{/{\"server\": \"$1\", /" | tee -a "$OUT/summary.jsonl"
done
