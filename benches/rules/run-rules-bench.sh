#!/usr/bin/env bash
# run-rules-bench.sh STRATA_BIN [--work DIR] [--rules N] [--groups G] [--measure SECONDS] [--hosts H] [--head]
#
# 1,000 recording and alerting rules (rules_bench.py gen: half each, 10 groups, 15 s
# interval, 30-60 min windows) over the shared dataset (../shared/bench/gen_dataset.py,
# 50 hosts x 200 series x 15 s x 2 h, ending now), evaluated by Strata and by Prometheus
# 2.42 (Debian) in the same run, on the same data, loaded into each with the shared
# remote-write loader (load_peers.py rw, 2 workers).
#
# Each engine first runs with an empty rule file for MEASURE seconds (the idle CPU), then
# gets the rules by a reload (Strata: POST /-/reload; Prometheus: --web.enable-lifecycle),
# evaluates them for two intervals, and is measured for MEASURE seconds: CPU seconds per
# interval beyond idle, and the groups' own evaluation times (/api/v1/rules evaluationTime,
# one per distinct lastEvaluation). Results: WORK/out/*.json and WORK/out/summary.txt.
#
# --head: the head-heavy run. Strata keeps the whole 2 h in its head (no flush by age, by
# sample count or by head bytes during the run) and is measured without waiting for a
# flush, as Prometheus is: the rules then read every sample from memory.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=${SHARED_BENCH:-$(cd "$ROOT/../shared/bench" 2>/dev/null && pwd || true)}
[[ -f $SHARED/load_peers.py ]] || { echo "shared harness not found; set SHARED_BENCH" >&2; exit 2; }

STRATA=${1:?usage: run-rules-bench.sh STRATA_BIN [--work DIR] [--rules N] [--groups G] [--measure SECONDS]}
shift
WORK=/tmp/strata-rules-bench RULES=1000 NGROUPS=10 MEASURE=120 HOSTS=50 HEAD=0
while [[ $# -gt 0 ]]; do
  case $1 in
    --work) WORK=$2; shift 2;;
    --rules) RULES=$2; shift 2;;
    --groups) NGROUPS=$2; shift 2;;
    --measure) MEASURE=$2; shift 2;;
    --hosts) HOSTS=$2; shift 2;;
    --head) HEAD=1; shift;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
rm -rf "$WORK"; mkdir -p "$WORK/out"
OUT=$WORK/out
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

now_ms=$(($(date +%s) * 1000))
start_ms=$((now_ms - 2 * 3600 * 1000))
echo "== dataset (2 h ending now)"
python3 "$SHARED/gen_dataset.py" --out "$WORK/ds" --hosts "$HOSTS" --series-per-host 200 \
  --interval 15s --duration 2h --start "$start_ms" --formats rw >/dev/null
python3 "$HERE/rules_bench.py" gen --out "$WORK/bench-rules.yml" --rules "$RULES" --groups "$NGROUPS"
echo "groups: []" > "$WORK/rules.yml"

echo "== start Strata and Prometheus"
cat > "$WORK/strata.toml" <<EOF
[rules]
files = ["rules.yml"]
[limits]
max_active_series = 10000000
max_series_per_metric = 10000000
ingest_rate = 100000000
ingest_burst = 100000000
[retention]
metrics = "36500d"
[storage]
# The dataset is old; its partitions stay in the young layout, as the last day's would.
cold_after = "36500d"
[engine]
flush_interval = "1m"
EOF
if [[ $HEAD == 1 ]]; then
  sed -i 's/^flush_interval = .*/flush_interval = "24h"\nflush_head_samples = 100000000\nmax_head_bytes = 8589934592/' "$WORK/strata.toml"
fi
"$STRATA" serve --config "$WORK/strata.toml" --data-dir "$WORK/strata" \
  --http-addr 127.0.0.1:19500 --grpc-addr 127.0.0.1:19501 > "$WORK/strata.out" 2> "$WORK/strata.log" &
SPID=$!; PIDS+=("$SPID")
cat > "$WORK/prometheus.yml" <<EOF
global:
  evaluation_interval: 15s
rule_files: ["$WORK/rules.yml"]
EOF
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
  --web.listen-address=127.0.0.1:19590 --web.enable-remote-write-receiver --web.enable-lifecycle \
  > "$WORK/prom.log" 2>&1 &
PPID_=$!; PIDS+=("$PPID_")
for url in http://127.0.0.1:19500/ready http://127.0.0.1:19590/-/ready; do
  for _ in $(seq 300); do curl -sf "$url" >/dev/null && break; sleep 0.2; done
done

echo "== load"
python3 "$SHARED/load_peers.py" rw --ds "$WORK/ds" --url http://127.0.0.1:19500/api/v1/write --workers 2 > "$OUT/load-strata.json"
python3 "$SHARED/load_peers.py" rw --ds "$WORK/ds" --url http://127.0.0.1:19590/api/v1/write --workers 2 > "$OUT/load-prometheus.json"
# Measured once Strata's flush and compaction of the load are done (one file set per
# partition, as in run-strata-peers.sh); Prometheus keeps the 2 h in its head.
PEERS_PY=$ROOT/benches/peers/strata_peers.py
python3 "$PEERS_PY" strata-metrics --url http://127.0.0.1:19500 > "$OUT/strata-metrics-after-load.json"
FLUSHES=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["flushes"])' "$OUT/strata-metrics-after-load.json")
if [[ $HEAD == 0 ]]; then
  python3 "$PEERS_PY" wait-strata --url http://127.0.0.1:19500 --since-flushes "$FLUSHES" --min-wait 80 --timeout 150 > "$OUT/strata-wait.json"
fi

measure() { # name url pid file
  python3 "$HERE/rules_bench.py" measure --name "$1" --url "$2" --pid "$3" --seconds "$MEASURE" > "$OUT/$4.json" &
}
echo "== idle ($MEASURE s)"
measure strata http://127.0.0.1:19500 "$SPID" idle-strata
measure prometheus http://127.0.0.1:19590 "$PPID_" idle-prometheus
wait -n; wait -n
echo "== rules: reload, two intervals, then $MEASURE s"
cp "$WORK/bench-rules.yml" "$WORK/rules.yml"
curl -sf -X POST http://127.0.0.1:19500/-/reload >/dev/null
curl -sf -X POST http://127.0.0.1:19590/-/reload >/dev/null
sleep 30
measure strata http://127.0.0.1:19500 "$SPID" rules-strata
measure prometheus http://127.0.0.1:19590 "$PPID_" rules-prometheus
wait -n; wait -n

python3 - "$OUT" "$RULES" <<'PYEOF' | tee "$OUT/summary.txt"
import json, sys
out, n = sys.argv[1], sys.argv[2]
print(f"{n} rules, 15 s interval, measured {json.load(open(out + '/rules-strata.json'))['seconds']} s")
print("| engine | CPU s per interval (rules) | idle | group eval median | p90 | group evals | rules ok / err |")
print("|---|---|---|---|---|---|---|")
for e in ["strata", "prometheus"]:
    r, i = json.load(open(f"{out}/rules-{e}.json")), json.load(open(f"{out}/idle-{e}.json"))
    extra = r["cpu_per_interval"] - i["cpu_per_interval"]
    print(f"| {e} | {extra:.3f} | {i['cpu_per_interval']:.3f} | {r['group_eval_median_s']*1000:.1f} ms | {r['group_eval_p90_s']*1000:.1f} ms | {r['group_evals']} | {r['rules_ok']} / {r['rules_err']} |")
PYEOF
