#!/usr/bin/env bash
# benches/storage/run-mirror-bench.sh BENCH_MIRROR_BIN SOURCE_DATA_DIR [HOURS]
#
# Upload throughput of the object-storage mirror (docs/scale-out.md) to an S3 server on
# loopback: copies the logs partitions of the first HOURS hours (default 4) of
# SOURCE_DATA_DIR (e.g. the LogQL benchmark's data) with its FLUSHED marker into a fresh
# data directory, starts PyPI's moto_server (a venv under $WORK, made when missing), creates
# a bucket, and runs one mirror pass (bench-mirror). Prints bench-mirror's JSON line.
set -euo pipefail
BIN=${1:?usage: run-mirror-bench.sh BENCH_MIRROR_BIN SOURCE_DATA_DIR [HOURS]}
SRC=${2:?usage: run-mirror-bench.sh BENCH_MIRROR_BIN SOURCE_DATA_DIR [HOURS]}
HOURS=${3:-4}
WORK=${WORK:-/tmp/strata-mirror-bench}
PORT=${PORT:-5129}
mkdir -p "$WORK"
if ! "$WORK/venv/bin/moto_server" --help >/dev/null 2>&1; then
    python3 -m venv "$WORK/venv"
    "$WORK/venv/bin/pip" install --quiet --disable-pip-version-check 'moto[server]'
fi
rm -rf "$WORK/data"
mkdir -p "$WORK/data/metrics"
cp "$SRC/metrics/FLUSHED" "$WORK/data/metrics/"
n=0
for hour in $(find "$SRC/logs" -mindepth 3 -maxdepth 3 -type d | sort); do
    [ "$n" -lt "$HOURS" ] || break
    rel=${hour#"$SRC"/}
    mkdir -p "$WORK/data/$rel"
    cp "$hour"/* "$WORK/data/$rel/"
    n=$((n + 1))
done
echo "data: $(du -sb "$WORK/data" | cut -f1) bytes in $n partitions" >&2
"$WORK/venv/bin/moto_server" -H 127.0.0.1 -p "$PORT" >/dev/null 2>&1 &
MOTO=$!
trap 'kill $MOTO 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$PORT/moto-api/" && break
    sleep 0.1
done
curl -sf -X PUT "http://127.0.0.1:$PORT/bench" >/dev/null
"$BIN" --data "$WORK/data" --endpoint "http://127.0.0.1:$PORT" --bucket bench
