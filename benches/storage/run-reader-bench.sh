#!/usr/bin/env bash
# benches/storage/run-reader-bench.sh STRATA_BIN [--ds DIR] [--work DIR] [--runs N] [--port P]
#
# PromQL from a query process over the bucket against the same data on the writer's local
# disk (docs/scale-out.md, "What a query process sees"). The shared peer harness's dataset
# (../shared/bench/gen_dataset.py: 50 hosts x 200 series x 15 s x 6 h, generated when DIR
# lacks it) is remote-written (load_peers.py rw) into a writer mirroring to PyPI's
# moto_server on loopback; once its flushes, compactions and uploads have settled (its
# file sets and pending partitions unchanged for 60 s), a `--role query` process opens
# the bucket, and query_peers.py runs its 43 queries on both, the writer as the reference
# (one untimed run each, so the query process's cache is warm; then --runs timed runs).
# Prints the per-query medians, the geometric means and their ratio, and the query
# process's cache counters. Stops exactly the processes it started.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=${SHARED_BENCH:-$(cd "$ROOT/../shared/bench" 2>/dev/null && pwd || true)}
[[ -f $SHARED/query_peers.py ]] || { echo "shared harness not found; set SHARED_BENCH" >&2; exit 2; }
STRATA=${1:?usage: run-reader-bench.sh STRATA_BIN [--ds DIR] [--work DIR] [--runs N] [--port P]}
shift
STRATA=$(cd "$(dirname "$STRATA")" && pwd)/$(basename "$STRATA")
DS=/tmp/strata-bench/ds WORK=/tmp/strata-reader-bench RUNS=5 PORT=5131
while [[ $# -gt 0 ]]; do
  case $1 in
    --ds) DS=$2; shift 2;;
    --work) WORK=$2; shift 2;;
    --runs) RUNS=$2; shift 2;;
    --port) PORT=$2; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
log() { echo "[$(date +%T)] $*" >&2; }
if [[ ! -f $DS/meta.json ]]; then
  log "generating dataset into $DS"
  python3 "$SHARED/gen_dataset.py" --out "$DS" --hosts 50 --series-per-host 200 \
    --interval 15s --duration 6h --formats rw >&2
fi
mkdir -p "$WORK"
if ! "$WORK/venv/bin/moto_server" --help >/dev/null 2>&1; then
  python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]'
fi
rm -rf "$WORK/writer" "$WORK/query" "$WORK/out"
mkdir -p "$WORK/writer" "$WORK/query" "$WORK/out"

PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
"$WORK/venv/bin/moto_server" -H 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/moto-api/" && break; sleep 0.1; done
curl -sf -X PUT "http://127.0.0.1:$PORT/bench" >/dev/null

cat > "$WORK/strata.toml" <<CONF
# written by run-reader-bench.sh; the same file for both processes
[retention]
metrics = "36500d"
[limits]
max_active_series = 10000000
max_series_per_metric = 10000000
ingest_rate = 1000000000
ingest_burst = 1000000000
[engine]
flush_interval = "20s"
maintenance_interval = "20s"
[storage]
cold_after = "36500d"
backend = "s3"
bucket = "bench"
endpoint = "http://127.0.0.1:$PORT"
region = "us-east-1"
allow_http = true
access_key_id = "bench"
secret_access_key = "bench"
interval = "2s"
cache_bytes = 1073741824
CONF
start() {  # start NAME HTTP GRPC [ARGS...]
  local name=$1 http=$2 grpc=$3; shift 3
  setsid "$STRATA" serve --config "$WORK/strata.toml" --data-dir "$WORK/$name" \
    --http-addr "$http" --grpc-addr "$grpc" "$@" > "$WORK/$name.out" 2> "$WORK/$name.log" < /dev/null &
  PIDS+=($!)
  for _ in $(seq 240); do curl -fsS -o /dev/null "http://$http/ready" 2>/dev/null && return 0; sleep 0.5; done
  echo "$name not ready; see $WORK/$name.log" >&2; exit 1
}
metric() { curl -s "http://$1/metrics" | awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $2 } END { print s + 0 }'; }

W=127.0.0.1:19301 Q=127.0.0.1:19303
start writer "$W" 127.0.0.1:19302
log "remote write -> writer"
python3 "$SHARED/load_peers.py" rw --ds "$DS" --url "http://$W/api/v1/write" --workers 2 > "$WORK/out/load.json"
log "waiting for flushes, compactions and uploads to settle"
last= stable=0
for _ in $(seq 180); do
  now="$(metric "$W" strata_file_sets) $(metric "$W" strata_remote_pending_partitions) $(metric "$W" strata_remote_uploaded_objects_total)"
  if [[ $now == "$last" && $now == *" 0 "* ]]; then stable=$((stable + 5)); else stable=0; last=$now; fi
  [[ $stable -ge 60 ]] && break
  sleep 5
done
log "settled: file sets, pending, uploads = $last"
start query "$Q" 127.0.0.1:19304 --role query
python3 "$SHARED/query_peers.py" --ds "$DS" --runs "$RUNS" --peer "local=http://$W" \
  --peer "s3=http://$Q" --ref local --json-out "$WORK/out/queries.json" > "$WORK/out/queries.txt"
cat "$WORK/out/queries.txt"
python3 - "$WORK/out/queries.json" <<'PY'
import json, math, sys
rows = json.load(open(sys.argv[1]))["results"]
ms = {p: [r["peers"][p]["ms_median"] for r in rows] for p in ("local", "s3")}
g = {p: math.exp(sum(math.log(max(v, 1e-3)) for v in ms[p]) / len(ms[p])) for p in ms}
ratios = sorted(b / a for a, b in zip(ms["local"], ms["s3"]))
print(f"s3 / local: geometric mean {g['s3'] / g['local']:.2f} x, median query {ratios[len(ratios) // 2]:.2f} x, worst {ratios[-1]:.2f} x")
PY
curl -s "http://$Q/metrics" | grep '^strata_reader_'
