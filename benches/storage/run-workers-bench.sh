#!/usr/bin/env bash
# benches/storage/run-workers-bench.sh BIN_DIR [--hours 168] [--spans-per-s 40] [--runs 3]
#                                      [--work DIR] [--port P]
#
# A full-scan SQL aggregate over a week of spans from a query process alone, then spread
# over 1, 2 and 4 workers (`--role worker`, docs/scale-out.md), every process on this
# machine. BIN_DIR holds release `strata` and `bench-span-week`. Writes --hours hourly span
# partitions at --spans-per-s (benches/spans/gen-span-week.sh; kept in WORK/week for the
# next run), starts PyPI's moto_server on loopback and a writer on that data mirroring to
# it, waits for its uploads to settle, starts four workers, then for each worker count
# (re)starts the query process with `[cluster] workers` naming that many (its cache kept
# between restarts) and runs the query once untimed (every cache warm) and --runs times
# timed. Prints one JSON line per worker count: the median wall time, and the CPU seconds
# the query process and each worker spent over the timed runs (from /proc), to show how
# the work splits, and the MB each worker has fetched into its cache (in all, and during
# the timed runs); the answers must be identical. Stops exactly the processes it started.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=$(cd "${1:?usage: run-workers-bench.sh BIN_DIR [--hours H] [--spans-per-s R] [--runs N] [--work DIR] [--port P]}" && pwd)
shift
HOURS=168 RATE=40 RUNS=3 WORK=/tmp/strata-workers-bench PORT=5135
while [[ $# -gt 0 ]]; do
  case $1 in
    --hours) HOURS=$2; shift 2;;
    --spans-per-s) RATE=$2; shift 2;;
    --runs) RUNS=$2; shift 2;;
    --work) WORK=$2; shift 2;;
    --port) PORT=$2; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
SQL="SELECT service_name, count(*) AS spans, avg(duration_ns) AS avg_ns, max(duration_ns) AS max_ns FROM spans GROUP BY service_name ORDER BY service_name"
log() { echo "[$(date +%T)] $*" >&2; }
mkdir -p "$WORK"
if [[ ! -f $WORK/week/ids.txt ]]; then
  rm -rf "$WORK/week"
  log "writing $HOURS hours of spans at $RATE spans/s"
  "$ROOT/benches/spans/gen-span-week.sh" "$BIN/bench-span-week" "$WORK/week" --hours "$HOURS" \
    --spans-per-s "$RATE"
fi
if ! "$WORK/venv/bin/moto_server" --help >/dev/null 2>&1; then
  python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]'
fi
rm -rf "$WORK"/w[0-9] "$WORK/q"
rm -f "$WORK/week/data/remote-writer-id"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
"$WORK/venv/bin/moto_server" -H 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/moto-api/" && break; sleep 0.1; done
curl -sf -X PUT "http://127.0.0.1:$PORT/bench" >/dev/null

conf() {  # conf [CLUSTER_LINES...]
  cat <<CONF
[retention]
traces = "36500d"
[storage]
backend = "s3"
bucket = "bench"
endpoint = "http://127.0.0.1:$PORT"
region = "us-east-1"
allow_http = true
access_key_id = "bench"
secret_access_key = "bench"
interval = "2s"
cache_bytes = 17179869184
[cluster]
CONF
  printf '%s\n' "$@"
}
STARTED=
start() {  # start NAME DATA HTTP GRPC [CLUSTER_LINES...]; sets STARTED to its pid
  local name=$1 data=$2 http=$3 grpc=$4; shift 4
  conf "$@" > "$WORK/$name.toml"
  setsid "$BIN/strata" serve --config "$WORK/$name.toml" --data-dir "$data" \
    --http-addr "$http" --grpc-addr "$grpc" > "$WORK/$name.out" 2> "$WORK/$name.log" < /dev/null &
  STARTED=$!
  PIDS+=("$STARTED")
  for _ in $(seq 600); do curl -fsS -o /dev/null "http://$http/ready" 2>/dev/null && return 0; sleep 0.5; done
  echo "$name not ready; see $WORK/$name.log" >&2; exit 1
}
metric() { curl -s "http://$1/metrics" | awk -v n="$2" '$1 == n { s += $2 } END { printf "%d", s }'; }
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.3f", ($14 + $15) / hz }' "/proc/$1/stat"; }
ask() { curl -sf -X POST --data-binary "$SQL" "http://$1/api/v1/sql"; }

W=127.0.0.1:19501
start writer "$WORK/week/data" "$W" 127.0.0.1:19502 'role = "writer"'
log "waiting for the mirror to upload $(du -sh "$WORK/week/data" | cut -f1)"
last= stable=0
for _ in $(seq 720); do
  now="$(metric "$W" strata_remote_pending_partitions) $(metric "$W" strata_remote_uploaded_objects_total)"
  if [[ $now == "$last" && $now == "0 "* && $now != "0 0" ]]; then stable=$((stable + 2)); else stable=0; last=$now; fi
  [[ $stable -ge 10 ]] && break
  sleep 2
done
log "settled: pending, uploaded objects = $last"
reference=$(ask "$W")

# As a deployment would: every task carries the cluster token, and workers check it.
echo "a-cluster-token-for-the-bench" > "$WORK/cluster-token"
TOKEN="token_file = \"$WORK/cluster-token\""
WORKER_PIDS=() WORKER_URLS=()
for i in 1 2 3 4; do
  start "w$i" "$WORK/w$i" "127.0.0.1:1951$i" "127.0.0.1:1952$i" 'role = "worker"' "$TOKEN"
  WORKER_PIDS+=("$STARTED") WORKER_URLS+=("\"http://127.0.0.1:1952$i\"")
done

Q=127.0.0.1:19531 QPID=
for n in 0 1 2 4; do
  [[ -n $QPID ]] && { kill -TERM "$QPID"; while kill -0 "$QPID" 2>/dev/null; do sleep 0.2; done; }
  urls=$(IFS=,; echo "${WORKER_URLS[*]:0:$n}")
  start "q$n" "$WORK/q" "$Q" 127.0.0.1:19532 'role = "query"' "workers = [$urls]" "$TOKEN"
  QPID=$STARTED
  got=$(ask "$Q")
  [[ $got == "$reference" ]] || { echo "q$n answers $got, the writer $reference" >&2; exit 1; }
  c0=("$(cpu "$QPID")"); for p in "${WORKER_PIDS[@]}"; do c0+=("$(cpu "$p")"); done
  fetched() { for i in 1 2 3 4; do metric "127.0.0.1:1951$i" strata_reader_fetched_bytes_total; echo -n " "; done; }
  f0=$(fetched)
  : > "$WORK/times.txt"
  for _ in $(seq "$RUNS"); do
    start_s=$(date +%s.%N)
    got=$(ask "$Q")
    echo "$(date +%s.%N) $start_s" | awk '{ printf "%.3f\n", $1 - $2 }' >> "$WORK/times.txt"
    [[ $got == "$reference" ]] || { echo "q$n answers $got, the writer $reference" >&2; exit 1; }
  done
  c1=("$(cpu "$QPID")"); for p in "${WORKER_PIDS[@]}"; do c1+=("$(cpu "$p")"); done
  f1=$(fetched)
  python3 - "$n" "$RUNS" "$WORK/times.txt" "${c0[*]}" "${c1[*]}" "$reference" "$f0" "$f1" <<'PY'
import json, statistics, sys
n, runs = int(sys.argv[1]), int(sys.argv[2])
times = [float(l) for l in open(sys.argv[3])]
c0 = [float(x) for x in sys.argv[4].split()]
c1 = [float(x) for x in sys.argv[5].split()]
cpu = [round((b - a) / runs, 3) for a, b in zip(c0, c1)]
rows = json.loads(sys.argv[6])
f0 = [int(x) for x in sys.argv[7].split()]
f1 = [int(x) for x in sys.argv[8].split()]
print(json.dumps({"workers": n, "median_s": round(statistics.median(times), 3),
    "times_s": times,
    "cpu_s_per_query": {"query_process": cpu[0], "workers": cpu[1:1 + n]},
    # Each worker's cache: MB fetched in all (since it started), and during the timed runs.
    "fetched_mb": [round(b / 1e6, 1) for b in f1[:n]],
    "fetched_mb_timed": [round((b - a) / 1e6, 1) for a, b in zip(f0[:n], f1[:n])],
    "spans": sum(r["spans"] for r in rows)}))
PY
done
