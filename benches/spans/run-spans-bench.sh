#!/usr/bin/env bash
# run-spans-bench.sh STRATA_BIN [options]
#
# The span benchmarks (current figures: docs/benchmarks.md, "Traces"; how they were reached: docs/benchmarks-history.md) against a release
# `strata`, with `bench-spans` (benches/src/bin/bench-spans.rs) as the client.
#
#   STRATA_BIN          release `strata` binary (e.g. /tmp/bench-target-spans/release/strata)
#   --work DIR          data directories and results [/tmp/strata-spans-bench]
#   --threads N         client threads (one keep-alive connection each) [2]
#   --dense-rate R      spans/s of the dense hour (phase A) [1000]
#   --week-rate R       spans/s of the 7-day dataset (phase B) [10]
#   --week-days D       days of phase B [7]
#   --lookups N         present trace ids looked up per phase (plus N/10 absent ones) [500]
#   --searches N        searches over 1-day windows in phase A (each holding the dense hour)
#                       and in phase B [50]
#   --skip-dense | --skip-week
#   --week-data DIR     phase B on a dataset written by gen-span-week.sh (DIR/data, DIR/ids.txt,
#                       DIR/end_ms.txt: e.g. 7 days at 1,000 spans/s) instead of loading one
#                       at --week-rate; the data directory is used in place, not removed
#   --ingest-only       phase A's load only (no compaction wait, no lookups, no phase B); with
#                       a small --dense-rate (56: ~200 k spans) a quick CPU-per-span check. Also
#                       reports the server CPU until every span acknowledged is in a flushed
#                       file (so the flush of what the load wrote is counted); maintenance
#                       (compaction) every hour instead of 10 s, so none runs meanwhile
#   --cold              phase B from a cold page cache: drop it (root: /proc/sys/vm/drop_caches)
#                       before the first lookup pass and before a first search pass
#                       (week_search_cold), as after a reboot or with data larger than RAM
#   --seed S            phase B's ids and windows: the first lookup pass and the searches use
#                       seed S, the second lookup pass S+1 [1]. Runs compared from a cold
#                       page cache need different seeds: a virtual disk's host keeps its own
#                       cache, so pages one run read come back faster for the next
#   --logs              phase A with log records instead of spans (one per span of the same
#                       traces: `bench-spans load --logs`) into logs/: ingest, flushes,
#                       compaction and disk, no lookups or searches; implies --skip-week
#   --idle-rss          after phase A's load, the server's VmRSS at once and every 15 s for
#                       75 s while it idles (flushes and compaction run; with a small
#                       --dense-rate, 300, how much memory the server gives back), in
#                       WORK/out/dense_rss.txt
#   --config-extra F    append the TOML file F to the servers' config (e.g. a section that
#                       turns the span-derived metrics off, for a with/without comparison)
#   --tempo             phase B also times the Tempo API (benches/spans/tempo_bench.py): trace
#                       by id through Tempo's and Jaeger's APIs in turn, a TraceQL search per
#                       service over phase B's days, a TraceQL metrics query; WORK/out/week_tempo.json
#   --grpc              phase A's load over OTLP/gRPC instead of OTLP/HTTP (`bench-spans load
#                       --grpc`; lookups and searches still use the HTTP API)
#   --loader BIN        bench-spans [next to STRATA_BIN]
#   --port P            HTTP port of the servers started (gRPC: P+1) [19461]
#
# Phase A (ingest, disk, dense lookups): a fresh `strata serve` (WAL fsync, flush_interval
# 30s, maintenance_interval 10s, retention 30d, limits out of the way); one hour of spans at
# --dense-rate (3.6 M spans at 1000/s), in the hour partition that ended 2 h ago, all
# requests built before the clock (`--pregen`); wall time and the server's CPU seconds
# (utime + stime from /proc/PID/stat) around the load. Then wait until the partition holds
# one compacted file and nothing is in memory, and report the CPU from the load's start to then; bytes of traces/ against the OTLP bytes
# acknowledged; trace-by-id lookups within that hour (one file at real density); searches
# as in phase B over random 1-day windows that each hold the whole dense hour.
# Phase B (week): a fresh server; --week-days x 24 hourly partitions ending 2 h ago at
# --week-rate spans/s (requests built as they are sent); wait for one file per partition;
# trace-by-id lookups (ids spread over the week, plus absent ones) through
# GET /jaeger/api/traces/{id}; searches by service + operation + minDuration=100ms over
# random 1-day windows through GET /jaeger/api/traces.
# Results: WORK/out/*.json and WORK/out/summary.txt. Stops exactly the PIDs it started.
set -euo pipefail

STRATA=${1:?usage: run-spans-bench.sh STRATA_BIN [--work DIR] [--threads N] [--dense-rate R] [--week-rate R] [--week-days D] [--lookups N] [--searches N] [--skip-dense|--skip-week] [--loader BIN]}
shift
[[ -x $STRATA ]] || { echo "$STRATA is not executable" >&2; exit 2; }
STRATA=$(cd "$(dirname "$STRATA")" && pwd)/$(basename "$STRATA")
WORK=/tmp/strata-spans-bench THREADS=2 DENSE_RATE=1000 WEEK_RATE=10 WEEK_DAYS=7
LOOKUPS=500 SEARCHES=50 DENSE=1 WEEK=1 PORT=19461 INGEST_ONLY=0 MAINTENANCE=10s WEEK_DATA= COLD=0 SEED=1
SIGNAL=traces FILES=spans LOAD_FLAGS=() OVER_GRPC=0 IDLE_RSS=0 CONFIG_EXTRA= TEMPO=0
LOADER=$(dirname "$STRATA")/bench-spans
while [[ $# -gt 0 ]]; do
  case $1 in
    --work) WORK=$2; shift 2;;
    --threads) THREADS=$2; shift 2;;
    --dense-rate) DENSE_RATE=$2; shift 2;;
    --week-rate) WEEK_RATE=$2; shift 2;;
    --week-days) WEEK_DAYS=$2; shift 2;;
    --lookups) LOOKUPS=$2; shift 2;;
    --searches) SEARCHES=$2; shift 2;;
    --skip-dense) DENSE=0; shift;;
    --skip-week) WEEK=0; shift;;
    --cold) COLD=1; shift;;
    --config-extra) CONFIG_EXTRA=$2; shift 2;;
    --tempo) TEMPO=1; shift;;
    --seed) SEED=$2; shift 2;;
    --week-data) WEEK_DATA=$(cd "$2" && pwd); shift 2;;
    --ingest-only) INGEST_ONLY=1; WEEK=0; MAINTENANCE=1h; shift;;
    --logs) SIGNAL=logs; FILES=logs; LOAD_FLAGS+=(--logs); WEEK=0; shift;;
    --grpc) OVER_GRPC=1; shift;;
    --idle-rss) IDLE_RSS=1; shift;;
    --loader) LOADER=$2; shift 2;;
    --port) PORT=$2; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
[[ -x $LOADER ]] || { echo "no $LOADER (build the workspace's bins)" >&2; exit 2; }
mkdir -p "$WORK"; WORK=$(cd "$WORK" && pwd)
OUT=$WORK/out
log() { echo "[$(date +%T)] $*" >&2; }

HTTP=127.0.0.1:$PORT GRPC=127.0.0.1:$((PORT + 1))
if [[ $OVER_GRPC == 1 ]]; then LOAD_FLAGS+=(--grpc "$GRPC"); fi
STRATA_PIDS=()   # "pid:dir"
start_strata() {  # start_strata DIR [DATA_DIR] -> sets SPID; DATA_DIR (kept) or DIR/data (new)
  local dir=$1 data=${2:-$1/data}
  if curl -s -o /dev/null "http://$HTTP/ready"; then
    echo "something already listens on $HTTP; give --port" >&2; return 1
  fi
  rm -rf "$dir"; mkdir -p "$dir"
  cat > "$dir/strata.toml" <<EOF
# written by run-spans-bench.sh
data_dir = "$data"

[server]
http_addr = "$HTTP"
grpc_addr = "$GRPC"

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
maintenance_interval = "$MAINTENANCE"
EOF
  if [[ -n $CONFIG_EXTRA ]]; then cat "$CONFIG_EXTRA" >> "$dir/strata.toml"; fi
  setsid "$STRATA" serve --config "$dir/strata.toml" > "$dir/strata.out" 2> "$dir/strata.log" < /dev/null &
  SPID=$!
  STRATA_PIDS+=("$SPID:$dir")
  local i
  for i in $(seq 1 240); do
    if curl -fsS -o /dev/null "http://$HTTP/ready" 2>/dev/null && kill -0 "$SPID" 2>/dev/null; then
      log "strata pid $SPID ready on $HTTP"; return 0
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
}
trap cleanup EXIT
forget_strata() {
  local keep=() s
  for s in "${STRATA_PIDS[@]}"; do [[ ${s%%:*} == "$1" ]] || keep+=("$s"); done
  STRATA_PIDS=("${keep[@]}")
}

cpu_ticks() {  # utime + stime of PID, in clock ticks
  awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
drop_page_cache() {  # every file's cached pages, so the next reads come from the disk
  sync
  if ! echo 3 > /proc/sys/vm/drop_caches; then
    echo "--cold needs root (cannot write /proc/sys/vm/drop_caches)" >&2; exit 1
  fi
  log "page cache dropped"
}
rss_kb() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
flushed_rows() {  # flushed_rows DIR: rows the manifests of DIR's signal (traces/ or logs/) list
  python3 - "$1/data/$SIGNAL" <<'EOF'
import glob, json, sys
print(sum(f["rows"] for m in glob.glob(sys.argv[1] + "/**/manifest.json", recursive=True)
          for f in json.load(open(m))["files"]))
EOF
}

cpu_since() {  # cpu_since LOAD_JSON C0 C1 KEY LABEL: server CPU from tick C0 to C1, into LOAD_JSON
  python3 - "$@" <<'EOF'
import json, sys
p, c0, c1, key, label = sys.argv[1:]
d = json.load(open(p))
cpu = (int(c1) - int(c0)) / 100.0
d["server_cpu_s_" + key] = cpu
d["spans_per_server_cpu_s_" + key] = round(d["spans_ok"] / cpu) if cpu else None
json.dump(d, open(p, "w"))
print("  through %s: server %.1f CPU-s = %s spans/CPU-s"
      % (label, cpu, d["spans_per_server_cpu_s_" + key]), file=sys.stderr)
EOF
}

wait_compacted() {  # wait_compacted DIR PARTITIONS: >= PARTITIONS, one spans file each, stable 20 s
  local dir=$1 want=$2 stable=0 last= n parts files
  for _ in $(seq 1 360); do
    parts=$(find "$dir/data/$SIGNAL" -mindepth 3 -maxdepth 3 -type d -name "hour=*" 2>/dev/null | wc -l)
    files=$(find "$dir/data/$SIGNAL" -name "$FILES-*.parquet" 2>/dev/null | wc -l)
    n="$parts/$files"
    if [[ $parts -ge $want && $files == "$parts" && $n == "$last" ]]; then
      stable=$((stable + 5))
      [[ $stable -ge 20 ]] && { log "compacted: $parts partitions, $files files"; return 0; }
    else
      stable=0
    fi
    last=$n
    sleep 5
  done
  echo "no steady state after 30 min: $n (partitions/files), want $want" >&2; return 1
}

HOUR_MS=3600000
NOW_MS=$(( $(date +%s) * 1000 ))
END_MS=$(( NOW_MS / HOUR_MS * HOUR_MS - 2 * HOUR_MS ))   # closed partitions only
WEEK_END_MS=$END_MS
[[ -n $WEEK_DATA ]] && WEEK_END_MS=$(cat "$WEEK_DATA/end_ms.txt")
rm -rf "$OUT"; mkdir -p "$OUT"
echo "$END_MS" > "$OUT/end_ms.txt"   # the dense hour is [END_MS - 1 h, END_MS)
L=$LOADER U=http://$HTTP

if [[ $DENSE == 1 ]]; then
  A=$WORK/dense
  start_strata "$A"; APID=$SPID
  sleep 1
  c0=$(cpu_ticks "$APID"); l0=$(loadavg)
  log "phase A: one hour at $DENSE_RATE spans/s (pregenerated, $SIGNAL), $THREADS threads"
  "$L" load --url "$U" --threads "$THREADS" --start-ms $((END_MS - HOUR_MS)) --end-ms "$END_MS" \
    --spans-per-s "$DENSE_RATE" --pregen --ids-out "$OUT/dense_ids.txt" "${LOAD_FLAGS[@]}" > "$OUT/dense_load.json"
  c1=$(cpu_ticks "$APID"); l1=$(loadavg)
  python3 - "$OUT/dense_load.json" "$c0" "$c1" "$l0" "$l1" "$(rss_kb "$APID")" <<'EOF'
import json, sys
p, c0, c1, l0, l1, rss = sys.argv[1:]
d = json.load(open(p))
cpu = (int(c1) - int(c0)) / 100.0
d["server_cpu_s"] = cpu
d["spans_per_server_cpu_s"] = round(d["spans_ok"] / cpu) if cpu else None
d["loadavg_before"], d["loadavg_after"] = l0, l1
d["server_vmhwm_kb"] = int(rss)
json.dump(d, open(p, "w"))
print("  ingest: %d spans in %.1f s = %d spans/s wall; server %.1f CPU-s = %s spans/CPU-s; failed %d %s"
      % (d["spans_ok"], d["seconds"], d["spans_per_s"], cpu, d["spans_per_server_cpu_s"], d["spans_failed"], d["errors"] or ""),
      file=sys.stderr)
EOF
  if [[ $IDLE_RSS == 1 ]]; then
    rss() { awk '/VmRSS/ { print $2 }' "/proc/$APID/status"; }
    { echo "after the load: $(rss) kB"
      for t in 15 30 45 60 75; do sleep 15; echo "idle $t s: $(rss) kB"; done
      echo "VmHWM: $(rss_kb "$APID") kB"; } > "$OUT/dense_rss.txt"
    log "resident memory: $(tr '\n' ';' < "$OUT/dense_rss.txt")"
  fi
  if [[ $INGEST_ONLY == 1 ]]; then
    # Wait until the manifests list every span acknowledged (a flush runs once the oldest
    # record in memory is flush_interval old), then count the CPU from the load's start.
    want=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["spans_ok"])' "$OUT/dense_load.json")
    for _ in $(seq 1 240); do [[ $(flushed_rows "$A") -ge $want ]] && break; sleep 0.5; done
    [[ $(flushed_rows "$A") -ge $want ]] || echo "not every span was flushed after 120 s" >&2
    cpu_since "$OUT/dense_load.json" "$c0" "$(cpu_ticks "$APID")" through_flush "the flush after the load"
    curl -fsS "http://$HTTP/metrics" | grep -E '^strata_wal_(bytes|records|appends)_total' > "$OUT/dense_wal.txt" || true
    stop_strata "$APID" "$A"; forget_strata "$APID"
  else
    wait_compacted "$A" 1
    # The whole cost of the hour: its load, flushes and every compaction until one file.
    cpu_since "$OUT/dense_load.json" "$c0" "$(cpu_ticks "$APID")" through_compaction \
      "flushes and compaction into one file"
    du -sb "$A/data/$SIGNAL" "$A/data/wal" > "$OUT/dense_du.txt" || true
    find "$A/data/$SIGNAL" -name "$FILES-*.parquet" -printf '%s %p\n' > "$OUT/dense_files.txt"
  fi
  if [[ $INGEST_ONLY == 0 && $SIGNAL == traces ]]; then
    log "phase A lookups"
    "$L" lookup --url "$U" --ids "$OUT/dense_ids.txt" --n "$LOOKUPS" --absent $((LOOKUPS / 10)) > "$OUT/dense_lookup.json"
    "$L" lookup --url "$U" --ids "$OUT/dense_ids.txt" --n "$LOOKUPS" --absent $((LOOKUPS / 10)) --seed 2 > "$OUT/dense_lookup2.json"
    log "phase A searches (1-day windows holding the dense hour)"
    "$L" search --url "$U" --start-ms $((END_MS - 24 * HOUR_MS)) --end-ms $((END_MS + 23 * HOUR_MS)) \
      --n "$SEARCHES" > "$OUT/dense_search.json"
  fi
  if [[ $INGEST_ONLY == 0 ]]; then stop_strata "$APID" "$A"; forget_strata "$APID"; fi
fi

if [[ $WEEK == 1 ]]; then
  B=$WORK/week
  if [[ -n $WEEK_DATA ]]; then
    start_strata "$B" "$WEEK_DATA/data"; BPID=$SPID
    cp "$WEEK_DATA/ids.txt" "$OUT/week_ids.txt"
    [[ -f $WEEK_DATA/gen.json ]] && cp "$WEEK_DATA/gen.json" "$OUT/week_gen.json"
    du -sb "$WEEK_DATA/data/traces" > "$OUT/week_du.txt"
    log "phase B on $WEEK_DATA (pregenerated, ending $WEEK_END_MS)"
  else
    start_strata "$B"; BPID=$SPID
    sleep 1
    log "phase B: $WEEK_DAYS days at $WEEK_RATE spans/s, $THREADS threads"
    "$L" load --url "$U" --threads "$THREADS" --start-ms $((END_MS - WEEK_DAYS * 24 * HOUR_MS)) --end-ms "$END_MS" \
      --spans-per-s "$WEEK_RATE" --seed 7 --ids-out "$OUT/week_ids.txt" > "$OUT/week_load.json"
    wait_compacted "$B" $((WEEK_DAYS * 24))
    du -sb "$B/data/traces" > "$OUT/week_du.txt"
  fi
  log "phase B lookups and searches"
  [[ $COLD == 1 ]] && drop_page_cache
  "$L" lookup --url "$U" --ids "$OUT/week_ids.txt" --n "$LOOKUPS" --absent $((LOOKUPS / 10)) --seed "$SEED" > "$OUT/week_lookup.json"
  "$L" lookup --url "$U" --ids "$OUT/week_ids.txt" --n "$LOOKUPS" --absent $((LOOKUPS / 10)) --seed $((SEED + 1)) > "$OUT/week_lookup2.json"
  if [[ $COLD == 1 ]]; then
    drop_page_cache
    "$L" search --url "$U" --start-ms $((WEEK_END_MS - WEEK_DAYS * 24 * HOUR_MS)) --end-ms "$WEEK_END_MS" --n "$SEARCHES" --seed "$SEED" > "$OUT/week_search_cold.json"
  fi
  "$L" search --url "$U" --start-ms $((WEEK_END_MS - WEEK_DAYS * 24 * HOUR_MS)) --end-ms "$WEEK_END_MS" --n "$SEARCHES" --seed "$SEED" > "$OUT/week_search.json"
  if [[ $TEMPO == 1 ]]; then
    log "phase B: the Tempo API (trace by id against Jaeger's, TraceQL)"
    python3 "$(dirname "$0")/tempo_bench.py" --url "$U" --ids "$OUT/week_ids.txt" --end-ms "$WEEK_END_MS" --hours $((WEEK_DAYS * 24)) \
      --n "$LOOKUPS" --seed "$SEED" > "$OUT/week_tempo.json" || echo "tempo_bench: wrong answers (see week_tempo.json)" >&2
    log "  $(cat "$OUT/week_tempo.json")"
  fi
  echo "{\"server_vmhwm_kb\": $(rss_kb "$BPID")}" > "$OUT/week_rss.json"
  stop_strata "$BPID" "$B"; forget_strata "$BPID"
fi

python3 - "$OUT" "$SIGNAL" <<'EOF' | tee "$OUT/summary.txt"
import json, os, sys
o, signal = sys.argv[1:3]
def j(n):
    p = os.path.join(o, n)
    return json.load(open(p)) if os.path.exists(p) else None
def du(n):
    p = os.path.join(o, n)
    if not os.path.exists(p): return {}
    return {os.path.basename(l.split()[1]): int(l.split()[0]) for l in open(p) if l.strip()}
d = j("dense_load.json")
if d:
    b = du("dense_du.txt").get(signal, 0)
    print("ingest: %d spans, %.1f s wall, %d spans/s wall, %.1f server CPU-s, %s spans per server CPU-s (load %s -> %s)"
          % (d["spans_ok"], d["seconds"], d["spans_per_s"], d["server_cpu_s"], d["spans_per_server_cpu_s"], d["loadavg_before"], d["loadavg_after"]))
    if "server_cpu_s_through_compaction" in d:
        print("through flushes and compaction into one file: %.1f server CPU-s, %s spans per server CPU-s"
              % (d["server_cpu_s_through_compaction"], d["spans_per_server_cpu_s_through_compaction"]))
    if "server_cpu_s_through_flush" in d:
        print("through the flush after the load: %.1f server CPU-s, %s spans per server CPU-s"
              % (d["server_cpu_s_through_flush"], d["spans_per_server_cpu_s_through_flush"]))
if d and b:
    print("disk: %s/ %d B = %.1f B/record; OTLP %d B = %.1f B/record; ratio %.1f%%"
          % (signal, b, b / d["spans_ok"], d["otlp_bytes_ok"], d["otlp_bytes_per_span"], 100.0 * b / d["otlp_bytes_ok"]))
for name in ("dense_lookup", "dense_lookup2", "week_lookup", "week_lookup2"):
    l = j(name + ".json")
    if l:
        print("%s: all %s | present p50 %.2f p99 %.2f | absent p50 %.2f p99 %.2f ms | wrong %d"
              % (name, l["all"], l["present"]["p50_ms"], l["present"]["p99_ms"], l["absent"]["p50_ms"], l["absent"]["p99_ms"], l["wrong"]))
w = j("week_load.json")
if w:
    print("week: %d spans in %d requests, %.1f s, failed %d, traces/ %s B" % (w["spans_ok"], w["requests_ok"], w["seconds"], w["spans_failed"], du("week_du.txt").get("traces")))
g = j("week_gen.json")
if g:
    print("week (pregenerated): %d spans, traces/ %s B" % (g["spans"], du("week_du.txt").get("traces")))
for name in ("dense_search", "week_search_cold", "week_search"):
    s = j(name + ".json")
    if s:
        print("%s (1-day windows): %s, %.1f traces per answer, failed %d" % (name, s["latency"], s["traces_returned_mean"], s["failed"]))
EOF
log "done: $OUT"
