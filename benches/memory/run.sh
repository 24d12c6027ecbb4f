#!/usr/bin/env bash
# run.sh STRATA_BIN [options]
#
# The small-box benchmark (docs/benchmarks.md, "Memory limit"): Strata, then VictoriaMetrics,
# each alone in a cgroup v1 memory group with the same limit, under the same load
# (load.py): remote-write of the shared dataset (../shared/bench/gen_dataset.py, 20 hosts x
# 200 series x 15 s x 6 h = 5.76 M samples) with 4 senders, while 8 clients loop heavy
# PromQL range queries (and, for Strata, SQL scans) and one sends 1 GiB gzip bombs. Then:
# was the process killed, was every acknowledged sample stored (Strata: SELECT count(*)
# against the acknowledged count), how many queries were answered, peak and idle RSS.
#
#   STRATA_BIN       release `strata` binary
#   --limit SIZE     the cgroup's memory limit, bytes or with a k/m/g suffix [256m]
#   --ds DIR         dataset [/tmp/strata-membench/ds]; generated (ending now) when absent
#   --work DIR       data directories and results [/tmp/strata-membench/work]
#   --config TEXT    Strata's config file text (default: none, i.e. the defaults)
#   --no-peer        skip VictoriaMetrics
#
# Needs root (the cgroup) and Debian's victoria-metrics for the peer. Stops exactly the
# processes it started. Results: WORK/out/{strata,vm}-LIMIT.json.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=${SHARED_BENCH:-$(cd "$ROOT/../shared/bench" 2>/dev/null && pwd || true)}
STRATA=${1:?usage: run.sh STRATA_BIN [--limit SIZE] [--ds DIR] [--work DIR] [--config TEXT] [--no-peer]}
shift
LIMIT=256m DS=/tmp/strata-membench/ds WORK=/tmp/strata-membench/work CONFIG= PEER=1
while [[ $# -gt 0 ]]; do
  case $1 in
    --limit) LIMIT=$2; shift 2;;
    --ds) DS=$2; shift 2;;
    --work) WORK=$2; shift 2;;
    --config) CONFIG=$2; shift 2;;
    --no-peer) PEER=0; shift;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
[[ -x $STRATA ]] || { echo "$STRATA is not executable" >&2; exit 2; }
[[ -d /sys/fs/cgroup/memory ]] || { echo "needs the cgroup v1 memory controller" >&2; exit 2; }

if [[ ! -f $DS/meta.json ]]; then
  [[ -f $SHARED/gen_dataset.py ]] || { echo "shared harness not found; set SHARED_BENCH" >&2; exit 2; }
  python3 "$SHARED/gen_dataset.py" --out "$DS" --hosts 20 --series-per-host 200 --interval 15s \
    --duration 6h --start now-aligned --formats rw
fi
mkdir -p "$WORK/out"
GROUP=/sys/fs/cgroup/memory/strata-membench-$$
PID=

cleanup() {
  [[ -n $PID ]] && kill -9 "$PID" 2>/dev/null || true
  sleep 0.5
  rmdir "$GROUP" 2>/dev/null || true
}
trap cleanup EXIT

# start_in_group CMD...: runs CMD inside $GROUP (a fresh group with $LIMIT); sets PID.
start_in_group() {
  rmdir "$GROUP" 2>/dev/null || true
  mkdir "$GROUP"
  echo "$LIMIT" > "$GROUP/memory.limit_in_bytes"
  [[ -f $GROUP/memory.memsw.limit_in_bytes ]] && echo "$LIMIT" > "$GROUP/memory.memsw.limit_in_bytes"
  sh -c 'echo $$ > "$0/cgroup.procs" && exec "$@"' "$GROUP" "$@" &
  PID=$!
}

wait_http() { # URL
  for _ in $(seq 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "not ready: $1" >&2; return 1
}

stop_group() {
  kill -TERM "$PID" 2>/dev/null || true
  wait "$PID" 2>/dev/null || true
  PID=
  rmdir "$GROUP" 2>/dev/null || true
}

# --- Strata
D=$WORK/strata-$LIMIT
rm -rf "$D"; mkdir -p "$D"
printf '%s\n' "$CONFIG" > "$D/strata.toml"
start_in_group "$STRATA" serve --config "$D/strata.toml" --data-dir "$D/data" \
  --http-addr 127.0.0.1:18631 --grpc-addr 127.0.0.1:18632
wait_http http://127.0.0.1:18631/ready
python3 "$HERE/load.py" --ds "$DS" --url http://127.0.0.1:18631 --pid "$PID" --cgroup "$GROUP" --sql \
  > "$D/load.json"
STORED=null
if kill -0 "$PID" 2>/dev/null; then
  STORED=$(curl -s -H 'content-type: text/plain' --data 'SELECT count(*) AS n FROM samples' \
    'http://127.0.0.1:18631/api/v1/sql' | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["n"])' || echo null)
fi
stop_group
python3 - "$D/load.json" "$STORED" "$LIMIT" > "$WORK/out/strata-$LIMIT.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
r["engine"], r["stored_samples"], r["limit"] = "strata", None if sys.argv[2] == "null" else int(sys.argv[2]), sys.argv[3]
r["all_acked_stored"] = r["stored_samples"] is not None and r["stored_samples"] >= r["acked_samples"]
print(json.dumps(r))
EOF
cat "$WORK/out/strata-$LIMIT.json"

# --- VictoriaMetrics 1.79 (PromQL only)
if [[ $PEER == 1 ]]; then
  command -v victoria-metrics >/dev/null || { echo "victoria-metrics is not installed (apt-get install victoria-metrics)" >&2; exit 2; }
  D=$WORK/vm-$LIMIT
  rm -rf "$D"; mkdir -p "$D"
  start_in_group victoria-metrics -storageDataPath "$D/data" -httpListenAddr 127.0.0.1:18633 \
    -retentionPeriod 100y -search.disableCache
  wait_http http://127.0.0.1:18633/health
  python3 "$HERE/load.py" --ds "$DS" --url http://127.0.0.1:18633 --pid "$PID" --cgroup "$GROUP" \
    > "$D/load.json" || true
  stop_group
  python3 - "$D/load.json" "$LIMIT" > "$WORK/out/vm-$LIMIT.json" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
r["engine"], r["limit"] = "victoria-metrics 1.79", sys.argv[2]
print(json.dumps(r))
EOF
  cat "$WORK/out/vm-$LIMIT.json"
fi
