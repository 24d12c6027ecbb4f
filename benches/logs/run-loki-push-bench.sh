#!/usr/bin/env bash
# run-loki-push-bench.sh STRATA_BIN PUSH_BIN [--work DIR] [--entries N]
#
# Loki push ingest per server CPU-second (docs/benchmarks.md, "Logs"): a fresh `strata
# serve` (WAL fsync, flush_interval 30s, maintenance_interval 10s, limits out of the way),
# N entries (default 2,000,000) over the last hour pushed as snappy protobuf by
# bench-loki-push (2 threads, 1,000 entries a request), then 75 s for the flushes and
# compaction to finish; prints the load's JSON and the server's CPU seconds (utime +
# stime from /proc/PID/stat) from before the load to the end.
set -euo pipefail
STRATA=${1:?usage: run-loki-push-bench.sh STRATA_BIN PUSH_BIN [--work DIR] [--entries N]}
PUSH=${2:?usage: run-loki-push-bench.sh STRATA_BIN PUSH_BIN ...}
shift 2
WORK=/tmp/strata-loki-push-bench ENTRIES=2000000
while [ $# -gt 0 ]; do
    case $1 in
        --work) WORK=$2; shift 2 ;;
        --entries) ENTRIES=$2; shift 2 ;;
        *) echo "unknown option $1"; exit 2 ;;
    esac
done
rm -rf "$WORK"; mkdir -p "$WORK"
cat > "$WORK/strata.toml" <<TOML
data_dir = "$WORK/data"
[server]
http_addr = "127.0.0.1:19481"
grpc_addr = "127.0.0.1:19482"
[engine]
flush_interval = "30s"
maintenance_interval = "10s"
[limits]
signal_record_rate = 1e12
signal_record_burst = 1e12
signal_byte_rate = 1e15
signal_byte_burst = 1e15
TOML
"$STRATA" serve --config "$WORK/strata.toml" > "$WORK/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 600); do curl -sf http://127.0.0.1:19481/ready >/dev/null && break; sleep 0.2; done
cpu() { awk '{print $14 + $15}' /proc/$PID/stat; }
TICK=$(getconf CLK_TCK)
C0=$(cpu)
"$PUSH" --url http://127.0.0.1:19481 --entries "$ENTRIES" | tee "$WORK/load.json"
C1=$(cpu)
sleep 75
C2=$(cpu)
python3 - "$WORK/load.json" "$C0" "$C1" "$C2" "$TICK" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
c0, c1, c2, tick = (float(x) for x in sys.argv[2:6])
n = load["entries_ok"]
print(json.dumps({"entries": n, "server_cpu_s_load": round((c1 - c0) / tick, 2),
                  "server_cpu_s_total": round((c2 - c0) / tick, 2),
                  "entries_per_cpu_s_load": round(n / ((c1 - c0) / tick)),
                  "entries_per_cpu_s": round(n / ((c2 - c0) / tick)),
                  "wall_entries_per_s": load["entries_per_s"]}))
PY
du -sh "$WORK/data/logs" 2>/dev/null || true
