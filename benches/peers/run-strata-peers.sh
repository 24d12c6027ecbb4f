#!/usr/bin/env bash
# run-strata-peers.sh STRATA_BIN [options]
#
# Strata against Prometheus 2.42 and VictoriaMetrics 1.79.5 (Debian packages) on one
# dataset and machine, with the shared peer harness (../shared/bench: gen_dataset.py,
# start-peers.sh, stop-peers.sh, load_peers.py, query_peers.py).
#
#   STRATA_BIN          release `strata` binary (e.g. /tmp/bench-target/release/strata)
#   --ds DIR            dataset; reused when DIR/meta.json matches the requested shape,
#                       generated when DIR is absent or empty
#                       [/tmp/strata-bench/ds, or /tmp/strata-bench/ds-small with --small]
#   --work DIR          data directories and results [/tmp/strata-bench/peers(-small)]
#   --small             10 hosts x 200 series x 15 s x 2 h (960 k samples) instead of
#                       50 x 200 x 15 s x 6 h (14.4 M samples)
#   --workers N         load_peers.py rw client threads, the same for every engine [2]
#   --runs N            timed runs per query (median) [5]
#   --repeats N         extra ingest-only rounds on fresh instances, for the spread [0]
#   --otlp-loader BIN   bench-otlp-load [next to STRATA_BIN]; --no-otlp skips that part
#
# Steps: start the peers (start-peers.sh) and `strata serve` (config below: WAL fsync,
# retention 36500d, limits out of the way, flush_interval 1m); load each engine in turn
# with `load_peers.py rw` (same client, same workers), recording wall time, samples/s,
# the server's CPU seconds (/proc/PID/stat) and RSS (VmHWM/VmRSS); VictoriaMetrics
# force_flush + force_merge; wait for Strata's flush and compaction and for Prometheus'
# blocks to settle; RSS again; disk: Prometheus snapshot (head included, block form), VM's
# data directory, Strata's data directory; count series and samples through PromQL;
# query_peers.py with Prometheus as the reference; stop Strata (SIGTERM flushes) and
# measure its directory again (disk B/sample: metrics/, the Parquet side; the WAL is
# reported beside it). Then OTLP: a fresh Strata loaded with bench-otlp-load.
# Results: WORK/out/*.json, WORK/out/summary.txt. Stops exactly the PIDs it started.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=${SHARED_BENCH:-$(cd "$ROOT/../shared/bench" 2>/dev/null && pwd || true)}
[[ -f $SHARED/load_peers.py ]] || { echo "shared harness not found; set SHARED_BENCH" >&2; exit 2; }
export SHARED_BENCH=$SHARED

STRATA=${1:?usage: run-strata-peers.sh STRATA_BIN [--ds DIR] [--work DIR] [--small] [--workers N] [--runs N] [--repeats N] [--otlp-loader BIN|--no-otlp]}
shift
[[ -x $STRATA ]] || { echo "$STRATA is not executable" >&2; exit 2; }
STRATA=$(cd "$(dirname "$STRATA")" && pwd)/$(basename "$STRATA")
SMALL=0 DS= WORK= WORKERS=2 RUNS=5 REPEATS=0 OTLP=1
OTLP_LOADER=$(dirname "$STRATA")/bench-otlp-load
while [[ $# -gt 0 ]]; do
  case $1 in
    --ds) DS=$2; shift 2;;
    --work) WORK=$2; shift 2;;
    --small) SMALL=1; shift;;
    --workers) WORKERS=$2; shift 2;;
    --runs) RUNS=$2; shift 2;;
    --repeats) REPEATS=$2; shift 2;;
    --otlp-loader) OTLP_LOADER=$2; shift 2;;
    --no-otlp) OTLP=0; shift;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
if [[ $SMALL == 1 ]]; then
  GEN=(--hosts 10 --series-per-host 200 --interval 15s --duration 2h)
  DS=${DS:-/tmp/strata-bench/ds-small}; WORK=${WORK:-/tmp/strata-bench/peers-small}
else
  GEN=(--hosts 50 --series-per-host 200 --interval 15s --duration 6h)
  DS=${DS:-/tmp/strata-bench/ds}; WORK=${WORK:-/tmp/strata-bench/peers}
fi
[[ $OTLP == 0 || -x $OTLP_LOADER ]] || { echo "no $OTLP_LOADER (build the workspace's bins, or --no-otlp)" >&2; exit 2; }

PROM=http://127.0.0.1:19090
VM=http://127.0.0.1:18428
S_HTTP=127.0.0.1:19201 S_GRPC=127.0.0.1:19202   # main Strata
O_HTTP=127.0.0.1:19203 O_GRPC=127.0.0.1:19204   # OTLP / repeat Strata
L="python3 $SHARED/load_peers.py"
H="python3 $HERE/strata_peers.py"
log() { echo "[$(date +%T)] $*" >&2; }

# ---- dataset
want_meta() {  # does $DS/meta.json have the requested shape?
  python3 - "$DS/meta.json" "${GEN[@]}" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
a = dict(zip(sys.argv[2::2], sys.argv[3::2]))
unit = {"s": 1000, "m": 60000, "h": 3600000}
ms = lambda v: int(v[:-1]) * unit[v[-1]]
ok = (m["hosts"] == int(a["--hosts"]) and m["series_per_host"] == int(a["--series-per-host"])
      and m["interval_ms"] == ms(a["--interval"]) and m["duration_ms"] == ms(a["--duration"])
      and "rw" in m["formats"])
sys.exit(0 if ok else 1)
EOF
}
if [[ -f $DS/meta.json ]]; then
  want_meta || { echo "$DS holds another dataset shape; give --ds" >&2; exit 2; }
  log "reusing dataset $DS"
else
  log "generating dataset into $DS: ${GEN[*]}"
  python3 "$SHARED/gen_dataset.py" --out "$DS" "${GEN[@]}" --formats rw >&2
fi
DS=$(cd "$DS" && pwd)

mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd)
OUT=$WORK/out
rm -rf "$OUT" "$WORK/peers" "$WORK/strata" "$WORK/strata-otlp" "$WORK"/repeat-*
mkdir -p "$OUT"
cp "$DS/meta.json" "$OUT/meta.json"

# ---- processes: peers through the shared scripts, Strata here; cleanup stops only those
PEER_DIRS=()
STRATA_PIDS=()   # "pid:dir"
start_strata() {  # start_strata DIR HTTP GRPC -> sets SPID
  local dir=$1 http=$2 grpc=$3
  mkdir -p "$dir"
  cat > "$dir/strata.toml" <<EOF
# written by run-strata-peers.sh
data_dir = "$dir/data"

[server]
http_addr = "$http"
grpc_addr = "$grpc"

[wal]
durability = "fsync"

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
  SPID=$!
  echo "$SPID" > "$dir/strata.pid"
  STRATA_PIDS+=("$SPID:$dir")
  local i
  for i in $(seq 1 240); do
    if curl -fsS -o /dev/null "http://$http/ready" 2>/dev/null; then
      log "strata pid $SPID ready on $http"; return 0
    fi
    kill -0 "$SPID" 2>/dev/null || { echo "strata exited; see $dir/strata.log" >&2; return 1; }
    sleep 0.5
  done
  echo "strata not ready after 120 s" >&2; return 1
}
stop_strata() {  # stop_strata PID DIR: SIGTERM (the engine flushes on close), SIGKILL after 300 s
  local pid=$1 dir=$2 cmd
  [[ -r /proc/$pid/cmdline ]] || return 0
  cmd=$(tr '\0' ' ' < "/proc/$pid/cmdline")
  if [[ $cmd != "$STRATA"*"$dir"* ]]; then echo "pid $pid is not our strata ($cmd)" >&2; return 1; fi
  kill -TERM "$pid"
  local i
  for i in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then echo "strata $pid ignored SIGTERM; SIGKILL" >&2; kill -KILL "$pid"; fi
  wait "$pid" 2>/dev/null || true
  log "stopped strata pid $pid"
}
cleanup() {
  local s
  for s in "${STRATA_PIDS[@]}"; do stop_strata "${s%%:*}" "${s#*:}" || true; done
  for s in "${PEER_DIRS[@]}"; do "$SHARED/stop-peers.sh" "$s" >&2 || true; done
}
trap cleanup EXIT
forget_strata() {  # forget_strata PID (stopped already)
  local keep=() s
  for s in "${STRATA_PIDS[@]}"; do [[ ${s%%:*} == "$1" ]] || keep+=("$s"); done
  STRATA_PIDS=("${keep[@]}")
}
forget_peers() {
  local keep=() s
  for s in "${PEER_DIRS[@]}"; do [[ $s == "$1" ]] || keep+=("$s"); done
  PEER_DIRS=("${keep[@]}")
}
pids_of() {  # pids_of PEERDIR STRATA_PID -> --proc args
  echo "--proc prom=$(cat "$1/prometheus.pid") --proc vm=$(cat "$1/victoria-metrics.pid") --proc strata=$2"
}

load_engine() {  # load_engine NAME WRITE_URL STATS_ARGS OUTDIR SUFFIX
  local name=$1 url=$2 stats=$3 o=$4 sfx=${5:-}
  # shellcheck disable=SC2086
  $H stats $stats > "$o/stats_before_load_$name$sfx.json"
  log "remote write -> $name ($WORKERS workers)"
  $L rw --ds "$DS" --url "$url" --workers "$WORKERS" > "$o/load_$name$sfx.json"
  # shellcheck disable=SC2086
  $H stats $stats > "$o/stats_after_load_$name$sfx.json"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("  %s: %.1f s, %s samples/s, failed %s %s" % (sys.argv[2], d["seconds"], d["samples_per_s"], d["samples_failed"], d["errors"] or ""))' "$o/load_$name$sfx.json" "$name" >&2
}

wait_prom_compaction() {  # blocks stable for 70 s (max 300 s), as run-bench.sh does
  local dir=$1 last=-1 stable=0 n
  for _ in $(seq 1 60); do
    n=$(find "$dir" -maxdepth 2 -name meta.json -not -path '*/snapshots/*' | wc -l)
    if [[ $n == "$last" ]]; then stable=$((stable + 5)); else stable=0; last=$n; fi
    [[ $stable -ge 70 ]] && break
    sleep 5
  done
  echo "$last"
}

vm_flush_all() {
  local parts
  parts=$(python3 - "$DS/meta.json" <<'EOF'
import json, sys, time
m = json.load(open(sys.argv[1]))
t, end, s = m["first_ts_ms"] // 1000, m["last_ts_ms"] // 1000, set()
while t <= end + 86400:
    s.add(time.strftime("%Y_%m", time.gmtime(min(t, end)))); t += 86400
print(" ".join(sorted(s)))
EOF
)
  $L vm-flush --url "$VM"
  sleep 5
  for p in $parts; do $L vm-flush --url "$VM" --merge "$p"; done
  sleep 5
}

# ---- main round
P=$WORK/peers S=$WORK/strata
log "start peers"; "$SHARED/start-peers.sh" "$P" >&2; PEER_DIRS+=("$P")
start_strata "$S" "$S_HTTP" "$S_GRPC"; MAIN_PID=$SPID
STATS="$(pids_of "$P" "$MAIN_PID") --disk prom=$P/prometheus --disk vm=$P/vm --disk strata=$S/data"
sleep 2
# shellcheck disable=SC2086
$H stats $STATS > "$OUT/stats_idle.json"
load_engine prom "$PROM/api/v1/write" "$STATS" "$OUT"
load_engine vm "$VM/api/v1/write" "$STATS" "$OUT"
load_engine strata "http://$S_HTTP/api/v1/write" "$STATS" "$OUT"
$H strata-metrics --url "http://$S_HTTP" > "$OUT/strata_metrics_after_load.json"
FLUSHES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["flushes"])' "$OUT/strata_metrics_after_load.json")

log "vm force_flush + force_merge"; vm_flush_all > "$OUT/vm_flush.json"
log "waiting for strata's flush (flush_interval 1m) and compaction"
$H wait-strata --url "http://$S_HTTP" --since-flushes "$FLUSHES" --min-wait 80 --timeout 400 > "$OUT/strata_wait.json"
log "waiting for prometheus' blocks to settle"
echo "{\"blocks\": $(wait_prom_compaction "$P/prometheus")}" > "$OUT/prom_blocks.json"
# shellcheck disable=SC2086
$H stats $STATS > "$OUT/stats_after_flush.json"
log "prometheus snapshot"; $L prom-snapshot --url "$PROM" --tsdb "$P/prometheus" > "$OUT/prom_snapshot.json"

log "verify counts"
$L verify --url "$PROM" --ds "$DS" > "$OUT/verify_prom.json"
$L verify --url "$VM" --ds "$DS" > "$OUT/verify_vm.json"
$L verify --url "http://$S_HTTP" --ds "$DS" > "$OUT/verify_strata.json"

log "queries ($RUNS runs each)"
python3 "$SHARED/query_peers.py" --ds "$DS" --runs "$RUNS" --peer prom="$PROM" --peer vm="$VM" \
  --peer strata="http://$S_HTTP" --ref prom --json-out "$OUT/queries.json" > "$OUT/queries.txt"
# shellcheck disable=SC2086
$H stats $STATS > "$OUT/stats_after_queries.json"

log "stop strata (SIGTERM: close flushes)"
stop_strata "$MAIN_PID" "$S"; forget_strata "$MAIN_PID"
$H stats --disk strata="$S/data" > "$OUT/stats_strata_after_stop.json"
"$SHARED/stop-peers.sh" "$P" >&2; forget_peers "$P"

python3 - "$OUT" <<'EOF' > "$OUT/disk.json"
import json, os, sys
o = sys.argv[1]
j = lambda n: json.load(open(os.path.join(o, n)))
snap = j("prom_snapshot.json")["snapshot"]
fl = j("stats_after_flush.json")["disk"]
st = j("stats_strata_after_stop.json")["disk"]["strata"]
sf = fl["strata"]
out = {
  "prom": {"bytes": snap["total"]["apparent"],
           "what": "snapshot with head (block form): %s B; live dir after load %s B" % (
               snap["total"]["apparent"], fl["prom"]["total"]["apparent"])},
  "vm": {"bytes": fl["vm"]["total"]["apparent"],
         "what": "data dir after force_flush+force_merge: " + ", ".join(
             "%s=%s" % (k, v) for k, v in fl["vm"].items() if k != "total")},
  "strata": {"bytes": st["metrics"],
             "what": "metrics/ (Parquet, manifests) after SIGTERM, flushed and compacted: %s B; "
                     "whole data dir %s B (%s); while running after flush+compaction: %s" % (
                 st["metrics"], st["total"]["apparent"],
                 ", ".join("%s=%s" % (k, v) for k, v in st.items() if k != "total"),
                 ", ".join("%s=%s" % (k, v) for k, v in sf.items() if k != "total"))},
}
print(json.dumps(out))
EOF

# ---- OTLP: a fresh Strata, bench-otlp-load with the same number of threads
if [[ $OTLP == 1 ]]; then
  SO=$WORK/strata-otlp
  start_strata "$SO" "$O_HTTP" "$O_GRPC"; OPID=$SPID
  sleep 2
  $H stats --proc strata="$OPID" > "$OUT/stats_before_otlp.json"
  log "OTLP/HTTP -> strata ($WORKERS threads)"
  "$OTLP_LOADER" --ds "$DS" --url "http://$O_HTTP" --threads "$WORKERS" --no-verify > "$OUT/otlp_load.json"
  $H stats --proc strata="$OPID" > "$OUT/stats_after_otlp.json"
  "$OTLP_LOADER" --ds "$DS" --url "http://$O_HTTP" --threads "$WORKERS" --verify-only > "$OUT/otlp_verify.json" 2>/dev/null || true
  python3 - "$OUT" <<'EOF'
import json, os, sys
o = sys.argv[1]
d = json.load(open(os.path.join(o, "otlp_load.json")))
v = os.path.join(o, "otlp_verify.json")
if os.path.getsize(v):
    d["verify"] = json.load(open(v))["verify"]
json.dump(d, open(os.path.join(o, "otlp_load.json"), "w"))
print("  otlp: %.1f s, %s samples/s, failed %s, verify %s" % (d["seconds"], d["samples_per_s"], d["samples_failed"], d.get("verify")), file=sys.stderr)
EOF
  stop_strata "$OPID" "$SO"; forget_strata "$OPID"
fi

# ---- ingest repeats on fresh instances
for i in $(seq 1 "$REPEATS"); do
  R=$WORK/repeat-$i
  log "ingest repeat $i"
  "$SHARED/start-peers.sh" "$R/peers" >&2; PEER_DIRS+=("$R/peers")
  start_strata "$R/strata" "$O_HTTP" "$O_GRPC"; RPID=$SPID
  RSTATS=$(pids_of "$R/peers" "$RPID")
  sleep 2
  load_engine prom "$PROM/api/v1/write" "$RSTATS" "$OUT" "_r$i"
  load_engine vm "$VM/api/v1/write" "$RSTATS" "$OUT" "_r$i"
  load_engine strata "http://$O_HTTP/api/v1/write" "$RSTATS" "$OUT" "_r$i"
  stop_strata "$RPID" "$R/strata"; forget_strata "$RPID"
  "$SHARED/stop-peers.sh" "$R/peers" >&2; forget_peers "$R/peers"
  rm -rf "$R"
done
python3 - "$OUT" "$REPEATS" <<'EOF'
import json, os, sys
o, n = sys.argv[1], int(sys.argv[2])
rows = []
for i in range(0, n + 1):
    sfx = "" if i == 0 else "_r%d" % i
    for e in ("prom", "vm", "strata"):
        p = os.path.join(o, "load_%s%s.json" % (e, sfx))
        if not os.path.exists(p):
            continue
        d = json.load(open(p))
        b = json.load(open(os.path.join(o, "stats_before_load_%s%s.json" % (e, sfx))))
        a = json.load(open(os.path.join(o, "stats_after_load_%s%s.json" % (e, sfx))))
        rows.append({"round": i, "engine": e, "seconds": d["seconds"], "samples_per_s": d["samples_per_s"],
                     "server_cpu_s": round(a["proc"][e]["cpu_s"] - b["proc"][e]["cpu_s"], 2),
                     "loadavg": [b["loadavg"][0], a["loadavg"][0]]})
json.dump(rows, open(os.path.join(o, "ingest_repeats.json"), "w"), indent=1)
EOF

$H summary --work "$WORK" | tee "$OUT/summary.txt"
log "done: $OUT"
