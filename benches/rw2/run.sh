#!/usr/bin/env bash
# run.sh STRATA_BIN [--ds DIR] [--small] [--rounds N] [--workers N]
#
# Remote-write 2.0 against 1.0 ingest on `strata serve`, on ../shared/bench's dataset: the
# same requests in both encodings (convert.py), loaded by the same client (load_peers.py
# rw, and load_v2.py = the same with the v2 Content-Type) into a fresh server each time,
# in turns v1 v2 v1 v2 ... (--rounds pairs), so drift on the machine hits both alike.
#
#   --ds DIR     the dataset [/tmp/strata-bench/ds, or ds-small with --small], generated
#                when absent (50 hosts x 200 series x 15 s x 6 h = 14.4 M samples;
#                --small: 10 hosts x 2 h = 960 k)
#   --rounds N   pairs of loads [3]
#   --workers N  client threads [2]
#
# Reports per load: samples/s, the server's CPU seconds for the load, failed samples; and
# the median ratio v2/v1. Results in WORK=$DS-rw2-out/. Stops exactly the PIDs it started.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
export SHARED_BENCH=${SHARED_BENCH:-$(cd "$ROOT/../shared/bench" 2>/dev/null && pwd || true)}
[[ -f $SHARED_BENCH/load_peers.py ]] || { echo "shared harness not found; set SHARED_BENCH" >&2; exit 2; }
STRATA=${1:?usage: run.sh STRATA_BIN [--ds DIR] [--small] [--rounds N] [--workers N]}
shift
STRATA=$(cd "$(dirname "$STRATA")" && pwd)/$(basename "$STRATA")
DS= SMALL=0 ROUNDS=3 WORKERS=2
while [[ $# -gt 0 ]]; do
  case $1 in
    --ds) DS=$2; shift 2;;
    --small) SMALL=1; shift;;
    --rounds) ROUNDS=$2; shift 2;;
    --workers) WORKERS=$2; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
if [[ $SMALL == 1 ]]; then GEN=(--hosts 10 --duration 2h); DS=${DS:-/tmp/strata-bench/ds-small}
else GEN=(--hosts 50 --duration 6h); DS=${DS:-/tmp/strata-bench/ds}; fi
log() { echo "[$(date +%T)] $*" >&2; }
if [[ ! -f $DS/rw/index.tsv ]]; then
  log "generating the dataset into $DS"
  python3 "$SHARED_BENCH/gen_dataset.py" --out "$DS" "${GEN[@]}" --series-per-host 200 --interval 15s --formats rw >&2
fi
V2=$DS-rw2
[[ -f $V2/rw/index.tsv ]] || { log "converting to remote-write 2.0 into $V2"; python3 "$HERE/convert.py" "$DS" "$V2" >&2; }
WORK=$DS-rw2-out; rm -rf "$WORK"; mkdir -p "$WORK"
HTTP=127.0.0.1:19211 GRPC=127.0.0.1:19212
SPID=
cleanup() { [[ -z $SPID ]] || { kill -TERM "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; }; }
trap cleanup EXIT
one_load() {  # one_load NAME LOADER DSDIR
  local name=$1 loader=$2 ds=$3 dir=$WORK/$1
  mkdir -p "$dir"
  cat > "$dir/strata.toml" <<EOF
data_dir = "$dir/data"
[server]
http_addr = "$HTTP"
grpc_addr = "$GRPC"
[wal]
durability = "fsync"
[retention]
metrics = "36500d"
[limits]
max_active_series = 10000000
max_series_per_metric = 10000000
ingest_rate = 1000000000
ingest_burst = 1000000000
EOF
  setsid "$STRATA" serve --config "$dir/strata.toml" > "$dir/strata.out" 2> "$dir/strata.log" < /dev/null &
  SPID=$!
  for _ in $(seq 240); do curl -fsS -o /dev/null "http://$HTTP/ready" 2>/dev/null && break; sleep 0.5; done
  python3 "$ROOT/benches/peers/strata_peers.py" stats --proc strata="$SPID" > "$dir/before.json"
  python3 $loader --ds "$ds" --url "http://$HTTP/api/v1/write" --workers "$WORKERS" > "$dir/load.json"
  python3 "$ROOT/benches/peers/strata_peers.py" stats --proc strata="$SPID" > "$dir/after.json"
  kill -TERM "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=
  log "$name: $(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["samples_per_s"], "samples/s, failed", d["samples_failed"], d["errors"] or "")' "$dir/load.json")"
}
for r in $(seq "$ROUNDS"); do
  one_load "v1-$r" "$SHARED_BENCH/load_peers.py rw" "$DS"
  one_load "v2-$r" "$HERE/load_v2.py" "$V2"
done
python3 - "$WORK" "$ROUNDS" <<'EOF' | tee "$WORK/summary.txt"
import json, os, statistics, sys
w, n = sys.argv[1], int(sys.argv[2])
j = lambda *p: json.load(open(os.path.join(w, *p)))
rows = {}
for v in ("v1", "v2"):
    for r in range(1, n + 1):
        d = j(f"{v}-{r}", "load.json")
        cpu = j(f"{v}-{r}", "after.json")["proc"]["strata"]["cpu_s"] - j(f"{v}-{r}", "before.json")["proc"]["strata"]["cpu_s"]
        rows.setdefault(v, []).append((d["samples_per_s"], round(cpu, 2), d["samples_failed"]))
        print(f"{v} round {r}: {d['samples_per_s']:,} samples/s, server {cpu:.2f} CPU-s, failed {d['samples_failed']}, {d['bytes_sent']:,} bytes sent")
ratios = [b[0] / a[0] for a, b in zip(rows["v1"], rows["v2"])]
print(f"v2/v1 samples/s per pair: {', '.join(f'{x:.2f}' for x in ratios)}; median {statistics.median(ratios):.2f}")
print(f"median server CPU-s: v1 {statistics.median(c for _, c, _ in rows['v1'])}, v2 {statistics.median(c for _, c, _ in rows['v2'])}")
EOF
