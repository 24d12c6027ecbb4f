#!/usr/bin/env bash
# benches/storage/run-reader-traces-bench.sh BIN_DIR [--hours 6] [--n 100] [--work DIR] [--port P]
#                                            [--s3s-fs BIN]
#
# Trace lookups by id from a query process over the bucket (docs/scale-out.md), against
# the writer's own local disk. BIN_DIR holds release `strata`, `bench-span-week` and
# `bench-spans`. Writes --hours hourly span partitions at 1,000 spans/s
# (benches/spans/gen-span-week.sh; kept in WORK/week for the next run), starts PyPI's
# moto_server on loopback (or, with --s3s-fs, the `s3s-fs` S3 server over a directory:
# `cargo install s3s-fs --version 0.14.1 --features binary`; moto builds every answer from
# the whole object in memory, so each ranged GET costs as much as a whole one there) and a
# writer on that data mirroring to it, waits for its uploads
# to settle, then times `bench-spans lookup` (--n present ids, 10 absent, as Grafana asks:
# no start/end) on:
#   cold   a query process whose cache holds nothing (storage.cache_bytes = 1), 24 lookups
#          (curl) of ids taken round-robin over the hours, so each one reads a file it has
#          not cached (by ranged GETs); its GETs (whole files and ranged) and bytes from the
#          query process's counters around it;
#   warm   a query process with a 4 GiB cache that a SQL scan of every spans file filled
#          (as a trace search does: lookups alone read by ranges and cache nothing), the
#          second of two passes;
#   local  the writer.
# Prints one JSON line per measurement.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BIN=$(cd "${1:?usage: run-reader-traces-bench.sh BIN_DIR [--hours H] [--n N] [--work DIR] [--port P]}" && pwd)
shift
HOURS=6 N=100 WORK=/tmp/strata-reader-traces PORT=5133 S3S=
while [[ $# -gt 0 ]]; do
  case $1 in
    --hours) HOURS=$2; shift 2;;
    --n) N=$2; shift 2;;
    --work) WORK=$2; shift 2;;
    --port) PORT=$2; shift 2;;
    --s3s-fs) S3S=$2; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
log() { echo "[$(date +%T)] $*" >&2; }
mkdir -p "$WORK"
if [[ ! -f $WORK/week/ids.txt ]]; then
  rm -rf "$WORK/week"
  log "writing $HOURS hours of spans"
  "$ROOT/benches/spans/gen-span-week.sh" "$BIN/bench-span-week" "$WORK/week" --hours "$HOURS"
fi
if ! "$WORK/venv/bin/moto_server" --help >/dev/null 2>&1; then
  python3 -m venv "$WORK/venv"
  "$WORK/venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]'
fi
rm -rf "$WORK/q1" "$WORK/q2"
rm -f "$WORK/week/data/remote-writer-id"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
if [[ -n $S3S ]]; then
  # A bucket of s3s-fs is a directory below its root.
  rm -rf "$WORK/s3"
  mkdir -p "$WORK/s3/bench"
  "$S3S" --host 127.0.0.1 --port "$PORT" --access-key bench --secret-key bench "$WORK/s3" \
    >/dev/null 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do (: < "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
else
  "$WORK/venv/bin/moto_server" -H 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/moto-api/" && break; sleep 0.1; done
  curl -sf -X PUT "http://127.0.0.1:$PORT/bench" >/dev/null
fi

conf() {  # conf CACHE_BYTES
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
CONF
  # The writer keeps every local copy (no cache_bytes); query processes cache $1 bytes.
  [[ -n $1 ]] && echo "cache_bytes = $1"
  return 0
}
start() {  # start NAME DATA HTTP GRPC CACHE [ARGS...]
  local name=$1 data=$2 http=$3 grpc=$4 cache=$5; shift 5
  conf "$cache" > "$WORK/$name.toml"
  setsid "$BIN/strata" serve --config "$WORK/$name.toml" --data-dir "$data" \
    --http-addr "$http" --grpc-addr "$grpc" "$@" > "$WORK/$name.out" 2> "$WORK/$name.log" < /dev/null &
  PIDS+=($!)
  for _ in $(seq 600); do curl -fsS -o /dev/null "http://$http/ready" 2>/dev/null && return 0; sleep 0.5; done
  echo "$name not ready; see $WORK/$name.log" >&2; exit 1
}
metric() { curl -s "http://$1/metrics" | awk -v n="$2" '$1 == n { s += $2 } END { printf "%d", s }'; }
lookup() {  # lookup URL -> JSON
  "$BIN/bench-spans" lookup --url "http://$1" --ids "$WORK/week/ids.txt" --n "$N" --absent 10
}

W=127.0.0.1:19401 C=127.0.0.1:19403 H=127.0.0.1:19405
start writer "$WORK/week/data" "$W" 127.0.0.1:19402 ""
log "waiting for the mirror to upload $(du -sh "$WORK/week/data" | cut -f1)"
last= stable=0
for _ in $(seq 720); do
  now="$(metric "$W" strata_remote_pending_partitions) $(metric "$W" strata_remote_uploaded_objects_total)"
  if [[ $now == "$last" && $now == "0 "* && $now != "0 0" ]]; then stable=$((stable + 2)); else stable=0; last=$now; fi
  [[ $stable -ge 10 ]] && break
  sleep 2
done
log "settled: pending, uploaded objects = $last"

start cold "$WORK/q1" "$C" 127.0.0.1:19404 1 --role query
# Ids taken round-robin over the hours, so each lookup reads a file other than the last
# one's, which the 1-byte cache evicted when that one was fetched: every lookup is cold.
python3 - "$WORK/week/ids.txt" 24 > "$WORK/cold-ids.txt" <<'PY'
import sys
by_hour = {}
for line in open(sys.argv[1]):
    f = line.split()
    by_hour.setdefault(int(f[1]) // 3_600_000, []).append(f[0])
hours = sorted(by_hour)
n = int(sys.argv[2])
for k in range(n):
    ids = by_hour[hours[k % len(hours)]]
    print(ids[(k // len(hours) + 1) * len(ids) // (n // len(hours) + 2)])
PY
# Whole files and ranged GETs of data files, and their bytes.
gets() { echo $(( $(metric "$C" strata_reader_cache_misses_total) + $(metric "$C" strata_reader_ranged_gets_total) )); }
bytes() { echo $(( $(metric "$C" strata_reader_fetched_bytes_total) + $(metric "$C" strata_reader_ranged_bytes_total) )); }
: > "$WORK/cold.txt"
while read -r id; do
  g0=$(gets); b0=$(bytes)
  t=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' "http://$C/jaeger/api/traces/$id")
  g1=$(gets); b1=$(bytes)
  echo "$t $((g1 - g0)) $((b1 - b0))" >> "$WORK/cold.txt"
done < "$WORK/cold-ids.txt"
python3 - "$WORK/cold.txt" <<'PY'
import json, statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
ms = sorted(float(r[1]) * 1000 for r in rows)
print(json.dumps({"case": "cold", "lookups": len(rows), "not_200": sum(r[0] != "200" for r in rows),
    "p50_ms": round(statistics.median(ms), 1), "max_ms": round(ms[-1], 1),
    "gets_per_lookup": sum(int(r[2]) for r in rows) / len(rows),
    "mb_per_lookup": round(sum(int(r[3]) for r in rows) / len(rows) / 1e6, 2)}))
PY

start warm "$WORK/q2" "$H" 127.0.0.1:19406 4294967296 --role query
curl -sf -o /dev/null --data-binary 'SELECT count(*) FROM spans' "http://$H/api/v1/sql"
lookup "$H" > /dev/null
out=$(lookup "$H")
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(json.dumps({"case": "warm", "present": d["present"], "absent": d["absent"], "wrong": d["wrong"]}))' "$out"
out=$(lookup "$W")
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(json.dumps({"case": "local", "present": d["present"], "absent": d["absent"], "wrong": d["wrong"]}))' "$out"
