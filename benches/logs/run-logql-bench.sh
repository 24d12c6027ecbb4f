#!/usr/bin/env bash
# run-logql-bench.sh STRATA_BIN GEN_BIN [--work DIR] [--hours H] [--rate R] [--runs N] [--cold]
#
# The LogQL benchmarks (docs/benchmarks.md, "Logs"): writes H hours of log records at R
# records/s ending now (bench-log-week, both cores, embedded API, compacted per hour) into
# WORK/data unless WORK/end_ns.txt says it is there already, starts `strata serve` on it
# (HTTP port 19471) and times the queries of benches/logs/logql_bench.py. No peer: Loki
# does not install from the registries this machine reaches.
#   STRATA_BIN  release strata; GEN_BIN  release bench-log-week
#   --work DIR  [/tmp/strata-logql-bench]   --hours H [24]   --rate R [1000]   --runs N [7]
#   --cold      every hour written in the cold layout (bench-log-week --cold-after 0: one
#               file at zstd 12), as `storage.cold_after` leaves hours older than it
set -euo pipefail
STRATA=${1:?usage: run-logql-bench.sh STRATA_BIN GEN_BIN [--work DIR] [--hours H] [--rate R] [--runs N]}
GEN=${2:?usage: run-logql-bench.sh STRATA_BIN GEN_BIN ...}
shift 2
WORK=/tmp/strata-logql-bench HOURS=24 RATE=1000 RUNS=7 GEN_ARGS=()
while [ $# -gt 0 ]; do
    case $1 in
        --work) WORK=$2; shift 2 ;;
        --hours) HOURS=$2; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        --cold) GEN_ARGS=(--cold-after 0); shift ;;
        *) echo "unknown option $1"; exit 2 ;;
    esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$WORK"
if [ ! -f "$WORK/end_ns.txt" ]; then
    END_MS=$(( $(date +%s) / 3600 * 3600 * 1000 ))
    rm -rf "$WORK/data" "$WORK/part0" "$WORK/part1"
    # One process per core, each its own directory, then the hour partitions merged.
    for p in 0 1; do
        "$GEN" --dir "$WORK/part$p" --end-ms "$END_MS" --hours "$HOURS" --records-per-s "$RATE" \
            --part $p --parts 2 "${GEN_ARGS[@]}" > "$WORK/gen$p.json" 2> "$WORK/gen$p.log" &
    done
    wait
    # The part whose flushed marker is furthest holds the WAL; the other's hour
    # partitions move into it (as benches/spans/gen-span-week.sh merges spans).
    python3 - "$WORK" <<'PY'
import json, os, shutil, sys
work = sys.argv[1]
dirs = [os.path.join(work, "part%d" % p) for p in (0, 1)]
def marker(d):
    p = os.path.join(d, "metrics", "FLUSHED")
    return json.load(open(p))["flushed_below_lsn"] if os.path.exists(p) else 0
base = max(dirs, key=marker)
for d in dirs:
    if d == base:
        continue
    root = os.path.join(d, "logs")
    for dirpath, dirnames, _ in os.walk(root):
        for h in [n for n in dirnames if n.startswith("hour=")]:
            src = os.path.join(dirpath, h)
            dst = os.path.join(base, "logs", os.path.relpath(src, root))
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.rename(src, dst)
    shutil.rmtree(d)
os.rename(base, os.path.join(work, "data"))
PY
    echo $(( END_MS * 1000000 )) > "$WORK/end_ns.txt"
fi
END_NS=$(cat "$WORK/end_ns.txt")
cat > "$WORK/strata.toml" <<TOML
data_dir = "$WORK/data"
[server]
http_addr = "127.0.0.1:19471"
grpc_addr = "127.0.0.1:19472"
[retention]
logs = "30d"
[engine]
maintenance_interval = "1h"
TOML
"$STRATA" serve --config "$WORK/strata.toml" > "$WORK/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true' EXIT
for _ in $(seq 600); do
    curl -sf http://127.0.0.1:19471/ready >/dev/null && break
    sleep 0.5
done
python3 "$HERE/logql_bench.py" --url http://127.0.0.1:19471 --end-ns "$END_NS" --runs "$RUNS" | tee "$WORK/results.json"
echo "server peak RSS: $(grep VmHWM /proc/$PID/status)"
