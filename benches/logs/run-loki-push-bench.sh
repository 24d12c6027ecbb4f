#!/usr/bin/env bash
# run-loki-push-bench.sh STRATA_BIN PUSH_BIN [--work DIR] [--entries N] [--s3 PORT]
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
        # Mirror to an S3 server on loopback (docs/scale-out.md): moto_server (PyPI
        # moto[server], on PATH) is started on PORT with a bucket; the server's CPU then
        # includes the uploads.
        --s3) S3_PORT=$2; shift 2 ;;
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
if [ -n "${S3_PORT:-}" ]; then
    moto_server -H 127.0.0.1 -p "$S3_PORT" > "$WORK/moto.log" 2>&1 &
    MOTO=$!
    for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$S3_PORT/moto-api/" && break; sleep 0.1; done
    curl -sf -X PUT "http://127.0.0.1:$S3_PORT/bench" > /dev/null
    cat >> "$WORK/strata.toml" <<TOML
[storage]
backend = "s3"
bucket = "bench"
endpoint = "http://127.0.0.1:$S3_PORT"
allow_http = true
access_key_id = "bench"
secret_access_key = "bench"
interval = "2s"
TOML
fi
"$STRATA" serve --config "$WORK/strata.toml" > "$WORK/serve.log" 2>&1 &
PID=$!
trap 'kill $PID ${MOTO:-} 2>/dev/null || true' EXIT
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
if [ -n "${S3_PORT:-}" ]; then
    curl -s http://127.0.0.1:19481/metrics | grep -E '^strata_remote_(uploaded_bytes_total|failed_passes_total|healthy|pending_partitions)'
fi
