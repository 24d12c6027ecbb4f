#!/usr/bin/env bash
# scrape-bench.sh STRATA_BIN [OUT] [--targets N] [--series N] [--interval S] [--warmup S] [--measure S]
#
# The scrape benchmark (docs/benchmarks.md, "Scraping"): TARGETS targets of SERIES series
# each (scrape_exporter.py, one process answering on 127.0.X.Y:PORT), scraped every
# INTERVAL, first by VictoriaMetrics 1.79 (Debian, -promscrape.config) and then by Strata
# ([scrape] files) from the same prometheus.yml, one at a time on the same machine. After
# WARMUP s each scraper's CPU (utime + stime of its process) is taken over MEASURE s and
# divided by the samples it scraped in that window (its own `scrape_samples_scraped`
# summed over the window by PromQL); peak RSS too. Prints one JSON object per scraper and
# writes OUT/summary.json.
#
# Defaults: OUT /tmp/strata-scrape-bench, 1000 targets, 1000 series, 15 s, warmup 45 s,
# measure 120 s. Needs python3, the Debian package victoria-metrics, a release strata.
set -euo pipefail
STRATA=${1:?usage: scrape-bench.sh STRATA_BIN [OUT] [options]}
shift
OUT=/tmp/strata-scrape-bench
if [ $# -gt 0 ] && [[ $1 != --* ]]; then OUT=$1; shift; fi
TARGETS=1000 SERIES=1000 INTERVAL=15 WARMUP=45 MEASURE=120
while [ $# -gt 0 ]; do
    case $1 in
        --targets) TARGETS=$2; shift 2 ;;
        --series) SERIES=$2; shift 2 ;;
        --interval) INTERVAL=$2; shift 2 ;;
        --warmup) WARMUP=$2; shift 2 ;;
        --measure) MEASURE=$2; shift 2 ;;
        *) echo "unknown option $1"; exit 2 ;;
    esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$OUT"; mkdir -p "$OUT"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
EXP=$(free_port)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

python3 "$HERE/scrape_exporter.py" "$EXP" "$SERIES" > "$OUT/exporter.log" 2>&1 &
PIDS+=($!)
python3 - "$OUT/prometheus.yml" "$EXP" "$TARGETS" "$INTERVAL" <<'PY'
import sys
path, port, n, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
targets = [f"127.0.{1 + i // 250}.{1 + i % 250}:{port}" for i in range(n)]
with open(path, "w") as f:
    f.write(f"global:\n  scrape_interval: {interval}s\n  scrape_timeout: 10s\nscrape_configs:\n  - job_name: bench\n    static_configs:\n      - targets:\n")
    for t in targets:
        f.write(f"          - {t}\n")
PY
sleep 1

# PromQL at URL: the samples scraped in (end - window, end].
scraped() {
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys, urllib.parse, urllib.request
url, end, window = sys.argv[1], float(sys.argv[2]), int(float(sys.argv[3]))
q = f'sum(sum_over_time(scrape_samples_scraped{{job="bench"}}[{window}s]))'
with urllib.request.urlopen(url + "/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": end}), timeout=60) as r:
    res = json.load(r)["data"]["result"]
print(int(float(res[0]["value"][1])) if res else 0)
PY
}
cpu_s() { awk '{ print ($14 + $15) / 100 }' "/proc/$1/stat"; }
hwm() { awk '/VmHWM/ { print $2 * 1024 }' "/proc/$1/status"; }

# One scraper: its pid, base URL; measures and prints JSON.
measure() {
    local name=$1 pid=$2 url=$3
    sleep "$WARMUP"
    local c0 t0 c1 t1 n
    c0=$(cpu_s "$pid"); t0=$(date +%s.%N)
    sleep "$MEASURE"
    c1=$(cpu_s "$pid"); t1=$(date +%s.%N)
    sleep 2
    n=$(scraped "$url" "$t1" "$MEASURE")
    python3 -c "
import json
cpu = $c1 - $c0
n = $n
print(json.dumps({'scraper': '$name', 'cpu_s': round(cpu, 2), 'samples': n, 'wall_s': round($t1 - $t0, 1),
  'cpu_us_per_sample': round(cpu * 1e6 / n, 3) if n else None, 'peak_rss_bytes': $(hwm "$pid")}))" | tee -a "$OUT/summary.jsonl"
}

VMPORT=$(free_port)
/usr/bin/victoria-metrics -storageDataPath="$OUT/vm" -httpListenAddr="127.0.0.1:$VMPORT" \
    -promscrape.config="$OUT/prometheus.yml" -search.disableCache > "$OUT/vm.log" 2>&1 &
VMPID=$!; PIDS+=($VMPID)
measure victoria-metrics "$VMPID" "http://127.0.0.1:$VMPORT"
kill "$VMPID"; wait "$VMPID" 2>/dev/null || true

HTTP=$(free_port); GRPC=$(free_port)
# A million series: over the default max_active_series (150,000), raised as an operator of
# this many targets would.
printf '[scrape]\nfiles = ["%s"]\n[limits]\nmax_active_series = 2000000\nmax_series_per_metric = 2000000\n' \
    "$OUT/prometheus.yml" > "$OUT/strata.toml"
"$STRATA" serve --config "$OUT/strata.toml" --data-dir "$OUT/strata" \
    --http-addr "127.0.0.1:$HTTP" --grpc-addr "127.0.0.1:$GRPC" > "$OUT/strata.log" 2>&1 &
SPID=$!; PIDS+=($SPID)
measure strata "$SPID" "http://127.0.0.1:$HTTP"
kill "$SPID"; wait "$SPID" 2>/dev/null || true
echo "results in $OUT/summary.jsonl"
