#!/usr/bin/env bash
# migration-check.sh STRATA_BIN DS [OUT]
#
# The migration check of docs/import-export.md ("Checked on the shared dataset"): DS is a
# `gen_dataset.py --formats rw,vm` directory (the shared 14.4 M samples). It loads
#   - VictoriaMetrics 1.79 (Debian) through its import API, and Prometheus 2.42 (Debian)
#     through remote-write (`load_peers.py`), as a team has them before it migrates;
#   - a Strata "direct" through remote-write of the same dataset: the answers before;
#   - a Strata "from_vm" by `strata import --from-vm`, and a Strata "from_prom" by
#     `strata import --from-prometheus` (remote read): the answers after;
# then runs the shared 43 PromQL queries (`query_peers.py`) on the three Stratas, "direct"
# the reference, and the raw-precision queries (stored values) of each source against the
# Strata imported from it. Last it exports everything from "from_vm" (`/api/v1/export`),
# imports that into a second, empty VictoriaMetrics and compares the two VictoriaMetrics
# the same ways: a team can leave with all of its data.
#
# Tolerances: the import from Prometheus, and each import against its source's stored
# values, are compared exactly (tolerance 0). VictoriaMetrics stores floats as decimals
# with one exponent per block, so what it holds is the dataset rounded (by up to ~1e-12,
# depending on its blocks): the Strata imported from it is compared to the direct one, and
# the second VictoriaMetrics to the first, within 1e-9 relative, and how far
# VictoriaMetrics's own load is from the dataset is printed (not a failure). Prints one
# line per comparison and exits 1 on any difference past its tolerance; writes OUT/*.json
# (query_peers's full results) and OUT/summary.txt.
set -euo pipefail
STRATA=${1:?usage: migration-check.sh STRATA_BIN DS [OUT]}
DS=${2:?usage: migration-check.sh STRATA_BIN DS [OUT]}
OUT=${3:-/tmp/strata-migration-check}
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${SHARED:-$(cd "$HERE/../../../shared/bench" && pwd)}
rm -rf "$OUT"; mkdir -p "$OUT"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
wait_for() { for _ in $(seq 300); do curl -fsS "$1" >/dev/null 2>&1 && return 0; sleep 0.2; done; echo "not ready: $1"; exit 1; }

vm() { # vm NAME PORT
    /usr/bin/victoria-metrics -storageDataPath="$OUT/$1" -httpListenAddr="127.0.0.1:$2" \
        -retentionPeriod=100y -search.latencyOffset=0s -search.disableCache > "$OUT/$1.log" 2>&1 &
    PIDS+=($!)
    wait_for "http://127.0.0.1:$2/health"
}
strata() { # strata NAME HTTP_PORT
    local grpc; grpc=$(free_port)
    printf '[retention]\nmetrics = "36500d"\n[limits]\ningest_rate = 10000000\ningest_burst = 20000000\n' > "$OUT/$1.toml"
    "$STRATA" serve --config "$OUT/$1.toml" --data-dir "$OUT/$1" \
        --http-addr "127.0.0.1:$2" --grpc-addr "127.0.0.1:$grpc" > "$OUT/$1.log" 2>&1 &
    PIDS+=($!)
    wait_for "http://127.0.0.1:$2/ready"
}

VM=$(free_port); VM2=$(free_port); PROM=$(free_port)
S_DIRECT=$(free_port); S_VM=$(free_port); S_PROM=$(free_port)
vm vm "$VM"
mkdir -p "$OUT/prom"
printf 'global:\n  scrape_interval: 15s\nscrape_configs: []\n' > "$OUT/prometheus.yml"
/usr/bin/prometheus --config.file="$OUT/prometheus.yml" --storage.tsdb.path="$OUT/prom" \
    --storage.tsdb.retention.time=100y --web.listen-address="127.0.0.1:$PROM" \
    --web.enable-remote-write-receiver > "$OUT/prom.log" 2>&1 &
PIDS+=($!)
wait_for "http://127.0.0.1:$PROM/-/ready"
strata direct "$S_DIRECT"; strata from_vm "$S_VM"; strata from_prom "$S_PROM"

echo "loading the sources and the direct Strata"
python3 "$SHARED/load_peers.py" vm-import --ds "$DS" --url "http://127.0.0.1:$VM" > "$OUT/load-vm.json"
curl -fsS "http://127.0.0.1:$VM/internal/force_flush" >/dev/null
python3 "$SHARED/load_peers.py" rw --ds "$DS" --url "http://127.0.0.1:$PROM/api/v1/write" > "$OUT/load-prom.json"
python3 "$SHARED/load_peers.py" rw --ds "$DS" --url "http://127.0.0.1:$S_DIRECT/api/v1/write" > "$OUT/load-direct.json"
sleep 5

read -r FIRST LAST < <(python3 -c "import json; m=json.load(open('$DS/meta.json')); print(m['first_ts_ms'], m['last_ts_ms'])")
START=$(python3 -c "print(($FIRST - 1) / 1000)"); END=$(python3 -c "print(($LAST + 1) / 1000)")
echo "importing"
"$STRATA" import --url "http://127.0.0.1:$S_VM" --from-vm "http://127.0.0.1:$VM" \
    --start "$START" --end "$END" --step 1h --checkpoint "$OUT/cp-vm.json" --quiet | tee "$OUT/import-vm.txt"
"$STRATA" import --url "http://127.0.0.1:$S_PROM" --from-prometheus "http://127.0.0.1:$PROM" \
    --start "$START" --end "$END" --step 1h --checkpoint "$OUT/cp-prom.json" --quiet | tee "$OUT/import-prom.txt"

FAILED=0
compare() { # compare NAME TOL [query_peers args...]
    local name=$1 tol=$2; shift 2
    python3 "$SHARED/query_peers.py" --ds "$DS" --runs 1 --tol "$tol" --json-out "$OUT/$name.json" "$@" > "$OUT/$name.txt"
    python3 - "$OUT/$name.json" "$name" "$tol" <<'PY' | tee -a "$OUT/summary.txt"
import json, sys
doc = json.load(open(sys.argv[1]))
rows, bad = doc["results"], []
for r in rows:
    for peer, info in r["peers"].items():
        d = info.get("diff_vs_ref")
        if d is not None and not d.get("match"):
            bad.append(f"{r['id']} ({peer}: {d.get('error') or 'differs'})")
n = len(rows)
equal = n - len({b.split(' ')[0] for b in bad})
worst = max((info.get("diff_vs_ref") or {}).get("max_rel_diff") or 0 for r in rows for info in r["peers"].values())
print(f"{sys.argv[2]}: {equal} / {n} queries equal within {sys.argv[3]}"
      + (f" (largest relative difference {worst:.3g})" if worst else "")
      + (f"; differ: {', '.join(bad[:8])}" if bad else ""))
sys.exit(1 if bad else 0)
PY
}
RAW="$SHARED/queries_raw_precision.json"
P() { echo "--peer $1=http://127.0.0.1:$2"; }
# shellcheck disable=SC2046
compare shared-43-from-prom 0 $(P direct "$S_DIRECT") $(P from_prom "$S_PROM") --ref direct || FAILED=1
# shellcheck disable=SC2046
compare shared-43-from-vm 1e-9 $(P direct "$S_DIRECT") $(P from_vm "$S_VM") --ref direct || FAILED=1
# shellcheck disable=SC2046
compare raw-prom 0 --queries "$RAW" $(P prom "$PROM") $(P from_prom "$S_PROM") --ref prom || FAILED=1
# shellcheck disable=SC2046
compare raw-vm 0 --queries "$RAW" $(P vm "$VM") $(P from_vm "$S_VM") --ref vm || FAILED=1
# VictoriaMetrics's own load against the dataset (information: its decimal rounding).
# shellcheck disable=SC2046
compare raw-vm-own-load 0 --queries "$RAW" $(P direct "$S_DIRECT") $(P vm "$VM") --ref direct || true

echo "exporting from Strata into a second VictoriaMetrics"
vm vm2 "$VM2"
curl -fsS "http://127.0.0.1:$S_VM/api/v1/export" --data-urlencode 'match[]={__name__=~".+"}' \
    --data-urlencode "start=$START" --data-urlencode "end=$END" -o "$OUT/export.jsonl"
wc -l < "$OUT/export.jsonl" | sed 's/^/exported series: /' | tee -a "$OUT/summary.txt"
curl -fsS -X POST "http://127.0.0.1:$VM2/api/v1/import" -T "$OUT/export.jsonl"
curl -fsS "http://127.0.0.1:$VM2/internal/force_flush" >/dev/null
sleep 5
# shellcheck disable=SC2046
compare vm-vs-vm2-43 1e-9 $(P vm "$VM") $(P vm2 "$VM2") --ref vm || FAILED=1
# shellcheck disable=SC2046
compare vm-vs-vm2-raw 1e-9 --queries "$RAW" $(P vm "$VM") $(P vm2 "$VM2") --ref vm || FAILED=1
exit $FAILED
