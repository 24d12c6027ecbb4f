#!/usr/bin/env bash
# tiers-year.sh [DS_DIR] [WORK_DIR]
#
# A year of 4,000 series on disk with downsampled tiers, against VictoriaMetrics's 30 days
# raw, and PromQL over the tiers against the raw data (docs/retention.md).
#
#   DS_DIR    the dataset: one UTC day of the shared generator (20 hosts x 200 series x
#             15 s x 24 h = 23 M samples from 2024-01-01T00:00Z); generated there if
#             DS_DIR/vm.jsonl is missing [/tmp/strata-bench/ds-day]
#   WORK_DIR  data directories and results [/tmp/strata-bench/tiers]
#
# Strata: bench-load-vm loads the day and compacts it cold (the layout of every raw day
# older than storage.cold_after); bench-tiers then moves it into 5m and into 1h, timing
# each pass's CPU, measuring each tier's bytes, and comparing the shared-style queries
# (benches/src/bin/bench-tiers.rs) over each tier with the raw answers. VictoriaMetrics
# 1.79 (Debian) imports the same day. A year is computed from the per-day figures: raw
# (cold) for 7 days, 5m for 23, 1h for 335; VictoriaMetrics's 30 days as 30 of its day.
#
# Needs: python3, the Debian package victoria-metrics, cargo. Release build into
# CARGO_TARGET_DIR [/tmp/bench-target].
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=${SHARED:-$(cd "$ROOT/../shared/bench" && pwd)}
DS=${1:-/tmp/strata-bench/ds-day}
WORK=${2:-/tmp/strata-bench/tiers}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/bench-target}

if [[ ! -f $DS/vm.jsonl ]]; then
  echo "generating the dataset into $DS"
  python3 "$SHARED/gen_dataset.py" --out "$DS" --hosts 20 --series-per-host 200 \
    --interval 15s --duration 24h --formats vm
fi

(cd "$ROOT" && cargo build --release -p strata-benches --bin bench-load-vm --bin bench-tiers)
BIN=$CARGO_TARGET_DIR/release

mkdir -p "$WORK"
rm -rf "${WORK:?}/strata"
"$BIN/bench-load-vm" --ds "$DS" --dir "$WORK/strata" --order file --flush end --compact --cold \
  > "$WORK/load.json"
"$BIN/bench-tiers" --dir "$WORK/strata" > "$WORK/tiers.json"

VMDATA=$WORK/vm-peer
if [[ -f $VMDATA/victoria-metrics.pid ]]; then "$SHARED/stop-peers.sh" "$VMDATA" || true; fi
rm -rf "$VMDATA"
PEERS=vm "$SHARED/start-peers.sh" "$VMDATA"
trap '"$SHARED/stop-peers.sh" "$VMDATA" >/dev/null || true' EXIT
python3 "$SHARED/load_peers.py" vm-import --ds "$DS" > "$WORK/vm-import.json"
python3 "$SHARED/load_peers.py" vm-flush > /dev/null
sleep 30
python3 "$SHARED/load_peers.py" vm-flush > /dev/null
sleep 5
python3 "$SHARED/load_peers.py" stats --data "$VMDATA" > "$WORK/vm-stats.json"
"$SHARED/stop-peers.sh" "$VMDATA"
trap - EXIT

python3 - "$WORK" <<'PY' | tee "$WORK/summary.txt"
import json, os, sys
w = sys.argv[1]
load = lambda n: json.load(open(os.path.join(w, n)))
l, t, vm = load("load.json"), load("tiers.json"), load("vm-stats.json")
raw = l["metrics_bytes"]
m5, h1 = t["5m"]["tier_bytes"], t["1h"]["tier_bytes"]
vm_day = vm["disk"]["vm"]["total"]["apparent"]
year = 7 * raw + 23 * m5 + 335 * h1
print(f"samples in the day: {l['samples']:,}; series: {l['series']:,}")
print(f"a day raw (cold): {raw:,} B ({raw / l['samples']:.3f} B/sample)")
print(f"a day in 5m: {m5:,} B; in 1h: {h1:,} B")
print(f"downsampling CPU: into 5m {t['5m']['downsample_cpu_seconds']} s, 5m into 1h {t['1h']['downsample_cpu_seconds']} s")
print(f"a year (7 d raw, 23 d 5m, 335 d 1h): {year:,} B")
print(f"VictoriaMetrics: a day {vm_day:,} B; 30 days {30 * vm_day:,} B")
print(f"year / VictoriaMetrics 30 days: {year / (30 * vm_day):.3f}")
for tier in ("5m", "1h"):
    for q in t[tier]["queries"]:
        print(f"  over {tier}, step {q['step']}: {q['query']}: max rel diff {q['max_rel_diff']:.2e}, "
              f"lost {q['lost']} of {q['points']} points, info {q['info']}")
PY
