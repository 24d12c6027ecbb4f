#!/usr/bin/env bash
# thread-cpu.sh ROUNDS RATE BIN_DIR... : CPU per span of each `strata serve` thread group
# during `run-spans-bench.sh --ingest-only --dense-rate RATE`, for binaries alternated
# round by round (BIN_DIR holds `strata`; the loader is `bench-spans` from the first).
#
# The server's process CPU mixes the request path with the flushes that run during the load
# and after it. This reads utime + stime of every thread (/proc/PID/task/*/stat, polled
# until the server exits) and sums them by thread name: `strata-rt` is the request path
# (decode, translation, checks, WAL encoding, head), `strata-wal-writ` the WAL writer with
# its fsyncs, `strata-flush` the flushes. Clock ticks are 10 ms, so use a few hundred
# thousand spans (RATE 150: 549,446 spans). RUNNER_ARGS adds options to the runner
# (`RUNNER_ARGS=--logs`: log records instead of spans). Example (docs/benchmarks-history.md):
#
#   benches/spans/thread-cpu.sh 3 150 /tmp/bin-before /tmp/bin-after
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=$1; rate=$2; shift 2; bins=("$@")
work=${WORK:-/tmp/strata-thread-cpu}
read -ra extra <<< "${RUNNER_ARGS:-}"
for _ in $(seq 1 "$rounds"); do
  for b in "${bins[@]}"; do
    rm -rf "$work"; mkdir -p "$work"
    log=$work.log
    benches/spans/run-spans-bench.sh "$b/strata" --work "$work" --port 19561 --ingest-only \
      --dense-rate "$rate" --loader "${bins[0]}/bench-spans" "${extra[@]}" > "$log" 2>&1 &
    runner=$!
    pid=""
    for _ in $(seq 1 300); do
      sleep 0.2
      pid=$(grep -o "strata pid [0-9]*" "$log" | head -1 | awk '{print $3}' || true)
      [ -n "$pid" ] && break
    done
    [ -n "$pid" ] || { echo "no server started: $log"; exit 1; }
    declare -A last=()
    while kill -0 "$pid" 2>/dev/null; do
      for t in /proc/"$pid"/task/*; do
        s=$(cat "$t/stat" 2>/dev/null) || continue
        comm=$(echo "$s" | sed 's/^[0-9]* (\(.*\)) .*/\1/')
        read -ra f <<< "$(echo "$s" | sed 's/^.*) //')"
        last[${t##*/}]="$comm ${f[11]} ${f[12]}"
      done
      sleep 0.3
    done
    wait "$runner"
    spans=$(grep "^ingest:" "$log" | awk '{print $2}' | tr -d ,)
    for k in "${!last[@]}"; do echo "${last[$k]}"; done | awk -v b="$b" -v n="$spans" '
      { c[$1] += $2 + $3 }
      END {
        printf "%s spans=%d", b, n
        for (k in c) if (c[k] > 5) printf " %s=%.2fs(%.2fus/span)", k, c[k] / 100, c[k] * 10000 / n
        printf "\n"
      }'
    unset last
  done
done
