#!/usr/bin/env bash
# compare-disk.sh [DS_DIR] [WORK_DIR]
#
# Disk bytes per sample and load rate of Strata vs VictoriaMetrics on the same dataset
# (../shared/bench's generator: 50 hosts x 200 series x 15 s x 6 h = 14.4 M samples).
#
#   DS_DIR    the dataset; generated there if DS_DIR/vm.jsonl is missing
#             [/tmp/strata-bench/ds]
#   WORK_DIR  data directories and results (*.json, summary.txt) [/tmp/strata-bench/compare]
#
# Strata: benches/src/bin/bench-load-vm.rs writes vm.jsonl through the embedded API (WAL
# durability Fsync), flushes, and measures metrics/ (Parquet + manifests). Three runs:
# Each run ends with Engine::compact_all() (--compact) and reports bytes before and after it.
#   file-end      whole series per write (as VM's import gets them), one flush at the end;
#                 also --analyze (per-column sizes) and --reencode (writer-setting variants,
#                 benches/src/reencode.rs; the zstd 19-22 ones take minutes)
#   time-default  replayed as live scrapes (1-minute windows in time order), engine's default
#                 background flush (4 M samples / 10 min)
#   time-1M       as time-default, flush() every 1 M samples (small flushes)
#   file-end-cold as file-end, compacted in the cold layout (--cold; the default layout of
#                 partitions older than storage.cold_after)
# VictoriaMetrics 1.79 (Debian package): /api/v1/import of the same vm.jsonl with the
# shared scripts, /internal/force_flush, then the size of its data directory.
#
# Needs: python3, the Debian packages victoria-metrics (apt-get install victoria-metrics),
# cargo. Release build into CARGO_TARGET_DIR [/tmp/bench-target].
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=${SHARED:-$(cd "$ROOT/../shared/bench" && pwd)}
DS=${1:-/tmp/strata-bench/ds}
WORK=${2:-/tmp/strata-bench/compare}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/bench-target}

if [[ ! -f $DS/vm.jsonl ]]; then
  echo "generating the dataset into $DS"
  python3 "$SHARED/gen_dataset.py" --out "$DS" --hosts 50 --series-per-host 200 \
    --interval 15s --duration 6h
fi

(cd "$ROOT" && cargo build --release -p strata-benches --bin bench-load-vm)
LOADER=$CARGO_TARGET_DIR/release/bench-load-vm

mkdir -p "$WORK"
run_strata() {  # run_strata NAME ARGS...
  local name=$1; shift
  rm -rf "${WORK:?}/strata-$name"
  echo "strata $name: $*"
  "$LOADER" --ds "$DS" --dir "$WORK/strata-$name" "$@" > "$WORK/strata-$name.json"
}
# --compact: Engine::compact_all() after the final flush; sizes are measured after it (the
# issue's disk target is bytes per sample after compaction), and before it as well.
run_strata file-end --order file --flush end --compact --analyze --reencode --threads 2
run_strata time-default --order time --flush default --compact
run_strata time-1M --order time --flush 1000000 --compact
run_strata file-end-cold --order file --flush end --compact --cold

# VictoriaMetrics with the shared harness.
VMDATA=$WORK/vm-peer
if [[ -f $VMDATA/victoria-metrics.pid ]]; then "$SHARED/stop-peers.sh" "$VMDATA" || true; fi
rm -rf "$VMDATA"
PEERS=vm "$SHARED/start-peers.sh" "$VMDATA"
trap '"$SHARED/stop-peers.sh" "$VMDATA" >/dev/null || true' EXIT
python3 "$SHARED/load_peers.py" vm-import --ds "$DS" > "$WORK/vm-import.json"
python3 "$SHARED/load_peers.py" stats --data "$VMDATA" > "$WORK/vm-stats-before-flush.json"
python3 "$SHARED/load_peers.py" vm-flush > "$WORK/vm-flush.json"
# Let VM finish writing the parts the flush started, then flush again: measured 5 s after
# one flush, a run once found 12.7 MB where the finished directory holds 16.8 MB.
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
imp, st = load("vm-import.json"), load("vm-stats.json")
samples = imp["samples"]
vm = st["disk"]["vm"]
vm_bytes = vm["total"]["apparent"]
print(f"dataset: {samples:,} samples")
print(f"{'system / run':<34} {'bytes':>12} {'B/sample':>9} {'before compaction':>18} {'load samples/s':>15}")
for run in ("file-end", "time-default", "time-1M", "file-end-cold"):
    r = load(f"strata-{run}.json")
    print(f"{'strata ' + run:<34} {r['metrics_bytes']:>12,} {r['bytes_per_sample']:>9.3f} {r['bytes_per_sample_before_compaction']:>18.3f} {r['load_samples_per_s']:>15,.0f}")
print(f"{'victoria-metrics (after flush)':<34} {vm_bytes:>12,} {vm_bytes / samples:>9.3f} {imp['samples_per_s']:>15,.0f}")
cold = load("strata-file-end-cold.json")["bytes_per_sample"]
print(f"strata cold / victoria-metrics: {cold / (vm_bytes / samples):.3f} x (target: at most 1.7 x)")
print(f"  vm by dir: " + ", ".join(f"{k}={v:,}" for k, v in vm.items() if k != "total"))
r = load("strata-file-end.json")
print("strata file-end by kind: " + ", ".join(f"{k}={v:,}" for k, v in r["metrics_bytes_by_kind"].items()))
for c, v in r["analyze"]["columns"].items():
    print(f"  column {c:<10} {v['compressed_bytes']:>12,} B  {v['bytes_per_sample']:.3f} B/sample  {','.join(v['encodings'])}")
for v in r["reencode"]["variants"]:
    print(f"  reencode {v['variant']:<55} samples {v['samples_bytes_per_sample']:.3f} B/sample, with series+manifests {v['with_series_and_manifests_bytes_per_sample']:.3f}")
print(f"  whole dataset as one file: {r['reencode']['whole_dataset_one_file_engine_settings_bytes_per_sample']:.3f} B/sample (samples only)")
PY
