#!/usr/bin/env bash
# run.sh STRATA_BIN [--ds DIR] [--rows N] [--runs N] [--work DIR]
#
# Arrow Flight SQL against the HTTP SQL API on the same data and query: `SELECT ts, value
# FROM samples LIMIT N` (N = 10 M by default) read by ADBC's Flight SQL driver
# (fetch_record_batch, batch by batch), by `/api/v1/sql` as an Arrow IPC stream, and by
# `/api/v1/sql` as JSON (bench.py). The data: ../shared/bench's dataset (50 hosts x 200
# series x 15 s x 6 h = 14.4 M samples) loaded by remote-write 1.0 into a release `strata
# serve`, flushed (SIGTERM) and reopened. Each read runs on a freshly started server, so
# its peak RSS (VmHWM) is the read's own; median of --runs.
#
# Results: WORK/summary.txt and WORK/*.json. Stops exactly the PIDs it started.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=${SHARED_BENCH:-$(cd "$ROOT/../shared/bench" 2>/dev/null && pwd || true)}
[[ -f $SHARED/load_peers.py ]] || { echo "shared harness not found; set SHARED_BENCH" >&2; exit 2; }
STRATA=${1:?usage: run.sh STRATA_BIN [--ds DIR] [--rows N] [--runs N] [--work DIR]}
shift
STRATA=$(cd "$(dirname "$STRATA")" && pwd)/$(basename "$STRATA")
DS=/tmp/strata-bench/ds ROWS=10000000 RUNS=3 WORK=/tmp/strata-bench/flightsql
while [[ $# -gt 0 ]]; do
  case $1 in
    --ds) DS=$2; shift 2;;
    --rows) ROWS=$2; shift 2;;
    --runs) RUNS=$2; shift 2;;
    --work) WORK=$2; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
log() { echo "[$(date +%T)] $*" >&2; }
if [[ ! -f $DS/rw/index.tsv ]]; then
  log "generating the dataset into $DS"
  python3 "$SHARED/gen_dataset.py" --out "$DS" --hosts 50 --duration 6h --series-per-host 200 --interval 15s --formats rw >&2
fi
mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd)
HTTP=127.0.0.1:19221 GRPC=127.0.0.1:19222
cat > "$WORK/strata.toml" <<EOF
data_dir = "$WORK/data"
[server]
http_addr = "$HTTP"
grpc_addr = "$GRPC"
[retention]
metrics = "36500d"
[storage]
# The dataset is old; its partitions stay in the young layout, as the last day's would.
cold_after = "36500d"
[limits]
max_active_series = 10000000
max_series_per_metric = 10000000
ingest_rate = 1000000000
ingest_burst = 1000000000
[sql]
# The HTTP API builds its whole answer (JSON of 10 M rows is about 0.6 GB); Flight streams.
max_result_bytes = 8589934592
EOF
SPID=
start() {
  setsid "$STRATA" serve --config "$WORK/strata.toml" > "$WORK/strata.out" 2>> "$WORK/strata.log" < /dev/null &
  SPID=$!
  for _ in $(seq 600); do curl -fsS -o /dev/null "http://$HTTP/ready" 2>/dev/null && return 0; sleep 0.5; done
  echo "strata not ready; see $WORK/strata.log" >&2; return 1
}
stop() { [[ -z $SPID ]] || { kill -TERM "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; SPID=; }; }
trap stop EXIT
hwm() { awk '/VmHWM/ {print $2 * 1024}' "/proc/$SPID/status"; }
if [[ ! -f $WORK/loaded ]]; then
  rm -rf "$WORK/data"; start
  log "loading $DS"
  python3 "$SHARED/load_peers.py" rw --ds "$DS" --url "http://$HTTP/api/v1/write" --workers 2 > "$WORK/load.json"
  stop; touch "$WORK/loaded"   # SIGTERM flushes
fi
Q="SELECT ts, value FROM samples LIMIT $ROWS"
: > "$WORK/runs.jsonl"
for r in $(seq "$RUNS"); do
  for mode in flight arrow json; do
    start
    out=$(python3 "$HERE/bench.py" "$mode" --http "$HTTP" --grpc "$GRPC" --query "$Q")
    echo "$out" | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); d['peak_rss_bytes']=int(sys.argv[1]); d['run']=int(sys.argv[2]); print(json.dumps(d))" "$(hwm)" "$r" >> "$WORK/runs.jsonl"
    stop
    log "$mode run $r: $out"
  done
done
python3 - "$WORK/runs.jsonl" <<'EOF' | tee "$WORK/summary.txt"
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
by = {}
for r in runs:
    by.setdefault(r["mode"], []).append(r)
med = {}
for mode, rs in by.items():
    s = statistics.median(r["seconds"] for r in rs)
    rows, ab = rs[0]["rows"], rs[0]["arrow_bytes"] or by["flight"][0]["arrow_bytes"]
    wire = f", body {rs[0]['body_bytes'] / s / 1e6:.0f} MB/s" if "body_bytes" in rs[0] else ""
    med[mode] = rows / s
    print(f"{mode:7} {rows:,} rows: median {s:.2f} s = {rows / s / 1e6:.2f} M rows/s, {ab / s / 1e6:.0f} MB/s of Arrow data{wire}; "
          f"server peak RSS {max(r['peak_rss_bytes'] for r in rs) / 2**20:.0f} MiB")
print(f"flight / arrow-over-HTTP: {med['flight'] / med['arrow']:.2f}x; flight / JSON: {med['flight'] / med['json']:.1f}x")
EOF
