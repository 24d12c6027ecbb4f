#!/usr/bin/env bash
# import-bench.sh STRATA_BIN DS [OUT]
#
# `strata import --from-vm` on the shared dataset (docs/benchmarks.md, "Import"): DS is a
# `gen_dataset.py --formats vm` directory (the shared 14.4 M samples: 50 hosts x 200 series
# x 15 s x 6 h). VictoriaMetrics 1.79 (Debian) is loaded with DS/vm.jsonl through its own
# import API (load_peers.py vm-import) and force-flushed; then a fresh `strata serve`
# (retention 100 y: the dataset is from 2024; ingest rate raised, as for any migration)
# takes the whole range from it with
# `strata import --from-vm --step 1h`, which prints its samples/s and the final
# comparison of series and samples; its wall time and the server's CPU are recorded.
# Writes OUT/import.txt and OUT/summary.json.
set -euo pipefail
STRATA=${1:?usage: import-bench.sh STRATA_BIN DS [OUT]}
DS=${2:?usage: import-bench.sh STRATA_BIN DS [OUT]}
OUT=${3:-/tmp/strata-import-bench}
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${SHARED:-$(cd "$HERE/../../../shared/bench" && pwd)}
rm -rf "$OUT"; mkdir -p "$OUT"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

VMPORT=$(free_port)
/usr/bin/victoria-metrics -storageDataPath="$OUT/vm" -httpListenAddr="127.0.0.1:$VMPORT" \
    -retentionPeriod=100y -search.latencyOffset=0s > "$OUT/vm.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -fsS "http://127.0.0.1:$VMPORT/health" >/dev/null 2>&1 && break; sleep 0.2; done
python3 "$SHARED/load_peers.py" vm-import --ds "$DS" --url "http://127.0.0.1:$VMPORT" > "$OUT/vm-import.json"
curl -fsS "http://127.0.0.1:$VMPORT/internal/force_flush" >/dev/null; sleep 5

HTTP=$(free_port); GRPC=$(free_port)
# The dataset is from 2024: retention 100 years; a migration raises the tenant's rate.
printf '[retention]\nmetrics = "36500d"\n[limits]\ningest_rate = 10000000\ningest_burst = 20000000\n' > "$OUT/strata.toml"
"$STRATA" serve --config "$OUT/strata.toml" --data-dir "$OUT/strata" \
    --http-addr "127.0.0.1:$HTTP" --grpc-addr "127.0.0.1:$GRPC" > "$OUT/strata.log" 2>&1 &
SPID=$!; PIDS+=($SPID)
for _ in $(seq 300); do curl -fsS "http://127.0.0.1:$HTTP/ready" >/dev/null 2>&1 && break; sleep 0.2; done

read -r FIRST LAST < <(python3 -c "import json; m=json.load(open('$DS/meta.json')); print(m['first_ts_ms'], m['last_ts_ms'])")
START=$(python3 -c "print(($FIRST - 1) / 1000)"); END=$(python3 -c "print(($LAST + 1) / 1000)")
c0=$(awk '{ print ($14 + $15) / 100 }' "/proc/$SPID/stat")
t0=$(date +%s.%N)
"$STRATA" import --url "http://127.0.0.1:$HTTP" --from-vm "http://127.0.0.1:$VMPORT" \
    --start "$START" --end "$END" --step 1h --checkpoint "$OUT/cp.json" --quiet | tee "$OUT/import.txt"
t1=$(date +%s.%N)
c1=$(awk '{ print ($14 + $15) / 100 }' "/proc/$SPID/stat")
python3 - "$OUT" "$DS" "$t0" "$t1" "$c0" "$c1" <<'PY' | tee "$OUT/summary.json"
import json, sys
out, ds, t0, t1, c0, c1 = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:])
n = json.load(open(f"{ds}/meta.json"))["samples"]
print(json.dumps({"samples": n, "wall_s": round(t1 - t0, 2), "samples_per_s": round(n / (t1 - t0)),
                  "server_cpu_s": round(c1 - c0, 2), "import": open(f"{out}/import.txt").read().strip()}))
PY
