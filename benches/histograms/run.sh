#!/usr/bin/env bash
# run.sh STRATA_BIN [--series N] [--duration 6h] [--work DIR] [--runs N]
#
# Native histograms against classic ones, and Strata against Prometheus 2.42 (Debian's
# package, `--enable-feature=native-histograms`), on the same observations (gen.py): a
# native (exponential, schema 3) and a classic form of every histogram, each loaded by
# remote-write 1.0 into its own Strata and its own Prometheus (so every data directory
# holds one form), and a third form, native with custom buckets on the classic bounds
# (NHCB, schema -53), into a third Strata only (2.42 predates custom buckets).
#
#   STRATA_BIN     release `strata` binary
#   --series N     histograms (host x endpoint) [500]
#   --duration D   of data at 15 s [6h]
#   --work DIR     dataset, data directories, results [/tmp/strata-bench/histograms]
#   --runs N       timed runs per query (median) [5]
#
# Measures: load rate (load_peers.py rw, 2 workers); bytes on disk per histogram sample
# after flush and compaction (Strata: metrics/ and its histograms-*.parquet files alone;
# Prometheus: a snapshot with the head, block form, as ../shared/bench measures it), and per
# float sample for the classic form; the time of
#   histogram_quantile(0.99, sum(rate(bench_latency_seconds[5m])))          (native, nhcb)
#   histogram_quantile(0.99, sum by (le) (rate(bench_latency_seconds_bucket[5m]))) (classic)
# as a range query over the whole data at a 60 s step, median of --runs, on all four.
# Results: WORK/out/*.json and WORK/out/summary.txt. Stops exactly the PIDs it started.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=${SHARED_BENCH:-$(cd "$ROOT/../shared/bench" 2>/dev/null && pwd || true)}
[[ -f $SHARED/load_peers.py ]] || { echo "shared harness not found; set SHARED_BENCH" >&2; exit 2; }
STRATA=${1:?usage: run.sh STRATA_BIN [--series N] [--duration D] [--work DIR] [--runs N]}
shift
STRATA=$(cd "$(dirname "$STRATA")" && pwd)/$(basename "$STRATA")
SERIES=500 DURATION=6h WORK=/tmp/strata-bench/histograms RUNS=5
while [[ $# -gt 0 ]]; do
  case $1 in
    --series) SERIES=$2; shift 2;;
    --duration) DURATION=$2; shift 2;;
    --work) WORK=$2; shift 2;;
    --runs) RUNS=$2; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
L="python3 $SHARED/load_peers.py"
H="python3 $ROOT/benches/peers/strata_peers.py"
log() { echo "[$(date +%T)] $*" >&2; }
mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd)
DS=$WORK/ds OUT=$WORK/out
if [[ ! -f $DS/nhcb/rw/index.tsv ]] || ! python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); sys.exit(0 if (m["series"], m["steps"] * m["interval_ms"]) == (int(sys.argv[2]), int(sys.argv[3])) else 1)' \
    "$DS/meta.json" "$SERIES" "$(python3 -c "import sys; v=sys.argv[1]; print(int(v[:-1]) * {'s':1000,'m':60000,'h':3600000}[v[-1]])" "$DURATION")" 2>/dev/null; then
  log "generating $SERIES histograms x $DURATION into $DS"
  rm -rf "$DS"; python3 "$HERE/gen.py" --out "$DS" --series "$SERIES" --duration "$DURATION" > /dev/null
fi
rm -rf "$OUT" "$WORK"/prom-* "$WORK"/strata-*; mkdir -p "$OUT"; cp "$DS/meta.json" "$OUT/"

PEER_DIRS=() STRATA_PIDS=()
cleanup() {
  local s
  for s in "${STRATA_PIDS[@]}"; do kill -TERM "$s" 2>/dev/null || true; wait "$s" 2>/dev/null || true; done
  for s in "${PEER_DIRS[@]}"; do "$SHARED/stop-peers.sh" "$s" >&2 || true; done
}
trap cleanup EXIT
start_strata() {  # start_strata DIR HTTP GRPC -> SPID
  local dir=$1; mkdir -p "$dir"
  cat > "$dir/strata.toml" <<EOF
data_dir = "$dir/data"
[server]
http_addr = "$2"
grpc_addr = "$3"
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
[engine]
flush_interval = "1m"
maintenance_interval = "1m"
EOF
  setsid "$STRATA" serve --config "$dir/strata.toml" > "$dir/strata.out" 2> "$dir/strata.log" < /dev/null &
  SPID=$!; STRATA_PIDS+=("$SPID")
  for _ in $(seq 240); do curl -fsS -o /dev/null "http://$2/ready" 2>/dev/null && return 0; sleep 0.5; done
  echo "strata not ready; see $dir/strata.log" >&2; return 1
}
stop_strata() {  # stop_strata PID: SIGTERM (the engine flushes on close)
  kill -TERM "$1"; wait "$1" 2>/dev/null || true
  local keep=() s; for s in "${STRATA_PIDS[@]}"; do [[ $s == "$1" ]] || keep+=("$s"); done; STRATA_PIDS=("${keep[@]}")
}
wait_prom_compaction() {  # blocks stable for 70 s (max 300 s), as run-strata-peers.sh does
  local dir=$1 last=-1 stable=0 n
  for _ in $(seq 1 60); do
    n=$(find "$dir" -maxdepth 2 -name meta.json -not -path '*/snapshots/*' | wc -l)
    if [[ $n == "$last" ]]; then stable=$((stable + 5)); else stable=0; last=$n; fi
    [[ $stable -ge 70 ]] && break
    sleep 5
  done
}

declare -A PROM=([native]=127.0.0.1:19090 [classic]=127.0.0.1:19091)
declare -A SHTTP=([native]=127.0.0.1:19201 [classic]=127.0.0.1:19203 [nhcb]=127.0.0.1:19205)
declare -A SGRPC=([native]=127.0.0.1:19202 [classic]=127.0.0.1:19204 [nhcb]=127.0.0.1:19206)
declare -A SPIDS
for form in native classic; do
  PEERS=prom PROM_ADDR=${PROM[$form]} PROM_EXTRA_ARGS=--enable-feature=native-histograms \
    "$SHARED/start-peers.sh" "$WORK/prom-$form" >&2
  PEER_DIRS+=("$WORK/prom-$form")
  start_strata "$WORK/strata-$form" "${SHTTP[$form]}" "${SGRPC[$form]}"; SPIDS[$form]=$SPID
done
start_strata "$WORK/strata-nhcb" "${SHTTP[nhcb]}" "${SGRPC[nhcb]}"; SPIDS[nhcb]=$SPID
for form in native classic nhcb; do
  for sys in prom strata; do
    [[ $form == nhcb && $sys == prom ]] && continue
    if [[ $sys == prom ]]; then url=http://${PROM[$form]}/api/v1/write; else url=http://${SHTTP[$form]}/api/v1/write; fi
    log "load $form -> $sys"
    $L rw --ds "$DS/$form" --url "$url" --workers 2 > "$OUT/load_${sys}_$form.json"
  done
done
for form in native classic nhcb; do
  F=$($H strata-metrics --url "http://${SHTTP[$form]}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["flushes"])')
  log "waiting for strata-$form's flush and compaction"
  $H wait-strata --url "http://${SHTTP[$form]}" --since-flushes "$F" --min-wait 80 --timeout 240 > "$OUT/strata_wait_$form.json"
  [[ $form == nhcb ]] && continue
  log "waiting for prometheus-$form's blocks"
  wait_prom_compaction "$WORK/prom-$form/prometheus"
  $L prom-snapshot --url "http://${PROM[$form]}" --tsdb "$WORK/prom-$form/prometheus" > "$OUT/prom_snapshot_$form.json"
done

log "queries ($RUNS runs each)"
python3 - "$OUT" "$RUNS" "${PROM[native]}" "${PROM[classic]}" "${SHTTP[native]}" "${SHTTP[classic]}" "${SHTTP[nhcb]}" <<'EOF' > "$OUT/queries.json"
import json, statistics, sys, time, urllib.parse, urllib.request
out, runs, pn, pc, sn, sc, sh = sys.argv[1], int(sys.argv[2]), *sys.argv[3:]
m = json.load(open(f"{out}/meta.json"))
Q = {"native": "histogram_quantile(0.99, sum(rate(bench_latency_seconds[5m])))",
     "nhcb": "histogram_quantile(0.99, sum(rate(bench_latency_seconds[5m])))",
     "classic": "histogram_quantile(0.99, sum by (le) (rate(bench_latency_seconds_bucket[5m])))"}
params = {"start": m["start_ms"] / 1000 + 300, "end": m["end_ms"] / 1000, "step": 60}
res = {}
for name, base, form in (("prom_native", pn, "native"), ("strata_native", sn, "native"),
                         ("prom_classic", pc, "classic"), ("strata_classic", sc, "classic"),
                         ("strata_nhcb", sh, "nhcb")):
    url = f"http://{base}/api/v1/query_range?" + urllib.parse.urlencode({"query": Q[form], **params})
    times, points = [], 0
    for i in range(runs + 1):
        t0 = time.perf_counter()
        body = json.load(urllib.request.urlopen(url, timeout=600))
        dt = time.perf_counter() - t0
        assert body["status"] == "success", body
        points = sum(len(r["values"]) for r in body["data"]["result"])
        if i:  # the first run warms caches
            times.append(dt)
    res[name] = {"query": Q[form], "median_ms": round(statistics.median(times) * 1000, 1),
                 "min_ms": round(min(times) * 1000, 1), "points": points}
print(json.dumps(res))
EOF

for form in native classic nhcb; do
  log "stop strata-$form (SIGTERM flushes)"; stop_strata "${SPIDS[$form]}"
done
python3 - "$OUT" "$WORK" <<'EOF' | tee "$OUT/summary.txt"
import glob, json, os, sys
out, work = sys.argv[1:]
j = lambda n: json.load(open(os.path.join(out, n)))
m = j("meta.json")
def du(path):
    return sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(path) for f in fs)
print(f"dataset: {m['series']} histograms x {m['steps']} steps of {m['interval_ms'] // 1000} s; "
      f"native {m['samples']['native']:,} histogram samples, classic {m['samples']['classic']:,} float samples")
for form in ("native", "classic"):
    n = m["samples"][form]
    metrics = os.path.join(work, f"strata-{form}", "data", "metrics")
    hist = sum(os.path.getsize(p) for p in glob.glob(f"{metrics}/**/histograms-*.parquet", recursive=True))
    snap = j(f"prom_snapshot_{form}.json")["snapshot"]["total"]["apparent"]
    line = f"{form:8} disk: Strata metrics/ {du(metrics):,} B = {du(metrics) / n:.2f} B/sample"
    if form == "native":
        line += f" (histograms files {hist:,} B = {hist / n:.2f})"
    print(line + f"; Prometheus snapshot {snap:,} B = {snap / n:.2f} B/sample")
    for s in ("prom", "strata"):
        d = j(f"load_{s}_{form}.json")
        print(f"{form:8} load {s:6}: {d['samples_per_s']:,} samples/s, failed {d['samples_failed']} {d['errors'] or ''}")
q = j("queries.json")
for k, v in q.items():
    print(f"query {k:15} median {v['median_ms']:8.1f} ms (min {v['min_ms']}), {v['points']} points")
n = m["samples"]["nhcb"]
metrics = os.path.join(work, "strata-nhcb", "data", "metrics")
print(f"nhcb     disk: Strata metrics/ {du(metrics):,} B = {du(metrics) / n:.2f} B/sample")
d = j("load_strata_nhcb.json")
print(f"nhcb     load strata: {d['samples_per_s']:,} samples/s, failed {d['samples_failed']} {d['errors'] or ''}")
for form in ("native", "nhcb"):
    print(f"{form}/classic on Strata: {q['strata_classic']['median_ms'] / q[f'strata_{form}']['median_ms']:.2f}x faster")
print(f"Strata/Prometheus native: {q['prom_native']['median_ms'] / q['strata_native']['median_ms']:.2f}x")
EOF
