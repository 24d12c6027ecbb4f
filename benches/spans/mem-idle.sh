#!/usr/bin/env bash
# mem-idle.sh STRATA_BIN [RATE] : the server's resident memory under a span load and after
# it, idle (docs/benchmarks.md, "A record's own attribute maps").
#
# A fresh `strata serve` (the dense hour's config of run-spans-bench.sh: WAL fsync,
# flush_interval 30s, maintenance_interval 10s) takes one hour of spans at RATE spans/s
# (300: 1,098,000 spans) from `bench-spans load --pregen` (next to STRATA_BIN), sent as
# fast as two client threads go; then VmRSS every 15 s for 75 s, and VmHWM. Environment
# given to this script reaches the server (e.g. MIMALLOC_* options).
set -euo pipefail
BIN=$(cd "$(dirname "$1")" && pwd)/$(basename "$1"); RATE=${2:-300}
LOADER=$(dirname "$BIN")/bench-spans
W=${WORK:-/tmp/strata-mem-idle}; PORT=${PORT:-19581}
rm -rf "$W"; mkdir -p "$W"
cat > "$W/strata.toml" <<TOML
data_dir = "$W/data"
[server]
http_addr = "127.0.0.1:$PORT"
grpc_addr = "127.0.0.1:$((PORT + 1))"
[wal]
durability = "fsync"
[retention]
traces = "30d"
logs = "30d"
[limits]
signal_record_rate = 1000000000
signal_record_burst = 1000000000
signal_byte_rate = 100000000000
signal_byte_burst = 100000000000
[engine]
flush_interval = "30s"
maintenance_interval = "10s"
TOML
setsid "$BIN" serve --config "$W/strata.toml" > "$W/out" 2> "$W/log" < /dev/null &
P=$!
trap 'kill -TERM $P 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  curl -sf "http://127.0.0.1:$PORT/ready" > /dev/null 2>&1 && break; sleep 0.2
done
NOW=$(date +%s%3N); END=$(( NOW / 3600000 * 3600000 - 7200000 ))
"$LOADER" load --url "http://127.0.0.1:$PORT" --threads 2 --start-ms $((END - 3600000)) \
  --end-ms "$END" --spans-per-s "$RATE" --pregen --ids-out "$W/ids.txt" > "$W/load.json"
rss() { awk '/VmRSS/ { print $2 }' "/proc/$P/status"; }
echo "after the load: $(rss) kB"
for t in 15 30 45 60 75; do sleep 15; echo "idle ${t} s: $(rss) kB"; done
echo "VmHWM: $(awk '/VmHWM/ { print $2 }' "/proc/$P/status") kB"
