#!/usr/bin/env bash
# head-queries.sh STRATA_BIN [SERIES] [RUNS]
#
# Small PromQL queries against a big head through the HTTP API: starts `STRATA_BIN serve`
# on a fresh data directory (limits out of the way, WAL fsync, loopback port 27501), loads
# SERIES series (default 200,000) with bench-head-queries (taken from beside STRATA_BIN),
# times the queries (RUNS runs each, default 200), prints bench-head-queries' JSON, and stops
# the server it started (by pid). Adds the server's resident memory (VmRSS, VmHWM) in MB.
# The client also times the cardinality endpoint (`/api/v1/status/tsdb`, under "status").
#
# PEER_PROMETHEUS=/usr/bin/prometheus: also starts that Prometheus (remote-write receiver
# on, loopback port 27502, fresh TSDB, no scrapes), loads the same series into it with the
# same client, and adds its figures under "prometheus". Prometheus caches its cardinality
# answer for 30 s per limit, so its timings after the first call are cache hits.
set -euo pipefail
STRATA=${1:?usage: head-queries.sh STRATA_BIN [SERIES] [RUNS]}
SERIES=${2:-200000}
RUNS=${3:-200}
CLIENT=${CLIENT:-$(dirname "$STRATA")/bench-head-queries}
[[ -x $STRATA && -x $CLIENT ]] || { echo "need $STRATA and $CLIENT" >&2; exit 2; }
ADDR=127.0.0.1:${PORT:-27501}
DIR=$(mktemp -d /tmp/head-queries.XXXXXX)
cat > "$DIR/strata.toml" <<CONF
data_dir = "$DIR/data"

[server]
http_addr = "$ADDR"
grpc_addr = "127.0.0.1:0"

[wal]
durability = "fsync"

[limits]
max_active_series = 10000000
max_series_per_metric = 10000000
ingest_rate = 1000000000
ingest_burst = 1000000000
CONF
"$STRATA" serve --config "$DIR/strata.toml" > "$DIR/strata.out" 2> "$DIR/strata.log" < /dev/null &
PID=$!
PPID_PROM=""
stop() {
  kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
  if [[ -n $PPID_PROM ]]; then kill "$PPID_PROM" 2>/dev/null && wait "$PPID_PROM" 2>/dev/null || true; fi
  rm -rf "$DIR"
}
trap stop EXIT
for _ in $(seq 1 100); do
  curl -fsS -o /dev/null "http://$ADDR/ready" 2>/dev/null && break
  sleep 0.1
done
OUT=$("$CLIENT" --url "http://$ADDR" --series "$SERIES" --runs "$RUNS")
MEM=$(awk '/^VmRSS|^VmHWM/ {printf "\"%s_mb\": %.1f, ", $1, $2/1024}' "/proc/$PID/status" | sed 's/:_mb/_mb/g')
PEER=null
if [[ -n ${PEER_PROMETHEUS:-} ]]; then
  PADDR=127.0.0.1:${PROM_PORT:-27502}
  printf 'global:\n  scrape_interval: 1h\n' > "$DIR/prometheus.yml"
  "$PEER_PROMETHEUS" --config.file="$DIR/prometheus.yml" --storage.tsdb.path="$DIR/prom" \
    --web.listen-address="$PADDR" --web.enable-remote-write-receiver \
    > "$DIR/prom.log" 2>&1 < /dev/null &
  PPID_PROM=$!
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://$PADDR/-/ready" 2>/dev/null && break
    sleep 0.1
  done
  PEER=$("$CLIENT" --url "http://$PADDR" --series "$SERIES" --runs "$RUNS")
fi
python3 - "$OUT" "{${MEM%, }}" "$PEER" <<'PY'
import json, sys
out = json.loads(sys.argv[1])
out["server_memory"] = json.loads(sys.argv[2])
out["prometheus"] = json.loads(sys.argv[3])
print(json.dumps(out, indent=1))
PY
