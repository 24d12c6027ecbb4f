#!/usr/bin/env bash
# gen-span-week.sh BENCH_SPAN_WEEK OUT [--end-ms MS] [--hours 168] [--spans-per-s 1000] [--parts 2]
#
# Writes the dataset of the trace-by-id benchmark over a week (issue #6): --hours hourly
# partitions ending at --end-ms (default: the hour that closed 2 h ago) at --spans-per-s,
# with `bench-span-week` (benches/src/bin/bench-span-week.rs), one process per part (each
# its own data directory, hours h % parts == part), then merges the parts into OUT/data:
# the hour directories move into the part whose commit marker (metrics/FLUSHED) is highest,
# so every moved manifest entry is below that marker and its WAL continues above it.
# OUT/ids.txt: the first trace of every request (hex_id start_ms span_count), in time order,
# for `bench-spans lookup`. OUT/gen.json: spans, bytes, CPU and wall time per part.
# Start `run-spans-bench.sh --week-data OUT` on it afterwards.
# A part that stops early (killed, out of disk) does not stop the merge: its complete hours
# are merged and listed in ids.txt (the generator appends an hour's ids once it is
# compacted; its totals are summed from the per-hour lines of genP.log), and the script
# exits 1 after merging. Its partial hour's flushed files are merged too (not listed).
set -euo pipefail
GEN=${1:?usage: gen-span-week.sh BENCH_SPAN_WEEK OUT [--end-ms MS] [--hours H] [--spans-per-s R] [--parts P]}
OUT=${2:?usage: gen-span-week.sh BENCH_SPAN_WEEK OUT ...}
shift 2
HOUR_MS=3600000
END_MS=$(( $(date +%s) * 1000 / HOUR_MS * HOUR_MS - 2 * HOUR_MS ))
HOURS=168 RATE=1000 PARTS=2
while [[ $# -gt 0 ]]; do
  case $1 in
    --end-ms) END_MS=$2; shift 2;;
    --hours) HOURS=$2; shift 2;;
    --spans-per-s) RATE=$2; shift 2;;
    --parts) PARTS=$2; shift 2;;
    *) echo "unknown argument $1" >&2; exit 2;;
  esac
done
[[ -e $OUT ]] && { echo "$OUT exists; give a new directory" >&2; exit 2; }
mkdir -p "$OUT"
echo "$END_MS" > "$OUT/end_ms.txt"
pids=()
for p in $(seq 0 $((PARTS - 1))); do
  "$GEN" --dir "$OUT/part$p" --end-ms "$END_MS" --hours "$HOURS" --spans-per-s "$RATE" \
    --part "$p" --parts "$PARTS" --ids-out "$OUT/ids$p.txt" \
    > "$OUT/gen$p.json" 2> "$OUT/gen$p.log" &
  pids+=($!)
done
failed=()
for p in "${!pids[@]}"; do wait "${pids[$p]}" || failed+=("$p"); done

python3 - "$OUT" "$PARTS" <<'EOF'
import json, os, shutil, sys
out, parts = sys.argv[1], int(sys.argv[2])
dirs = [os.path.join(out, "part%d" % p) for p in range(parts)]
def marker(d):
    p = os.path.join(d, "metrics", "FLUSHED")
    return json.load(open(p))["flushed_below_lsn"] if os.path.exists(p) else 0
base = max(dirs, key=marker)
for d in dirs:
    if d == base:
        continue
    root = os.path.join(d, "traces")
    for dirpath, dirnames, _ in os.walk(root):
        for h in [n for n in dirnames if n.startswith("hour=")]:
            src = os.path.join(dirpath, h)
            dst = os.path.join(base, "traces", os.path.relpath(src, root))
            if os.path.exists(dst):
                sys.exit("both parts hold %s" % dst)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.rename(src, dst)
    shutil.rmtree(d)
os.rename(base, os.path.join(out, "data"))
ids = []
for p in range(parts):
    ids += [l.split() for l in open(os.path.join(out, "ids%d.txt" % p)) if l.strip()]
ids.sort(key=lambda f: int(f[1]))
open(os.path.join(out, "ids.txt"), "w").write("".join(" ".join(f) + "\n" for f in ids))
def totals(p):
    s = open(os.path.join(out, "gen%d.json" % p)).read().strip()
    if s:
        return json.loads(s)
    hours = [json.loads(l) for l in open(os.path.join(out, "gen%d.log" % p))
             if l.startswith('{"hour"')]
    return {"stopped": True, "hours": len(hours), "spans": sum(h["spans"] for h in hours),
            "bytes": sum(h["bytes"] for h in hours), "cpu_s": sum(h["cpu_s"] for h in hours)}
gen = [totals(p) for p in range(parts)]
json.dump({"parts": gen, "spans": sum(g["spans"] for g in gen),
           "bytes": sum(g["bytes"] for g in gen)}, open(os.path.join(out, "gen.json"), "w"))
print("merged into %s/data: %d spans, %d bytes of spans files, %d lookup ids"
      % (out, sum(g["spans"] for g in gen), sum(g["bytes"] for g in gen), len(ids)))
EOF
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "part(s) ${failed[*]} stopped early: only their complete hours are listed in $OUT/ids.txt" >&2
  exit 1
fi
