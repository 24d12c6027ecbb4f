#!/usr/bin/env bash
# run-ingest-variants.sh STRATA_BIN [--work DIR] [--repeats N]
#
# Remote-write ingest of the shared dataset (../shared/bench/gen_dataset.py, 50 hosts x
# 200 series x 15 s x 6 h = 14.4 M samples) into a fresh `strata serve` three ways, in
# turn (A B C, N rounds), with the same loader (rules_bench.py rw: load_peers.py's
# windows over keep-alive connections, 2 workers):
#   plain     the defaults
#   relabel   five [relabel.metrics] rules every series goes through (labeldrop, replace,
#             drop, lowercase, hashmod), none of which drops a series
#   tls       [server.tls] with an ECDSA P-256 certificate, the loader over HTTPS
# Then TLS handshakes: `openssl s_time -new` against the TLS server for 10 s (full
# handshakes per second, and the server's CPU per handshake).
# Results: WORK/out/*.json, WORK/out/summary.txt.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SHARED=${SHARED_BENCH:-$(cd "$ROOT/../shared/bench" 2>/dev/null && pwd || true)}
[[ -f $SHARED/gen_dataset.py ]] || { echo "shared harness not found; set SHARED_BENCH" >&2; exit 2; }
STRATA=${1:?usage: run-ingest-variants.sh STRATA_BIN [--work DIR] [--repeats N]}
shift
WORK=/tmp/strata-ingest-variants REPEATS=3
while [[ $# -gt 0 ]]; do
  case $1 in
    --work) WORK=$2; shift 2;;
    --repeats) REPEATS=$2; shift 2;;
    *) echo "unknown option $1" >&2; exit 2;;
  esac
done
mkdir -p "$WORK/out"
OUT=$WORK/out
rm -f "$OUT"/*.json
if [[ ! -f $WORK/ds/meta.json ]]; then
  rm -rf "$WORK/ds"
  python3 "$SHARED/gen_dataset.py" --out "$WORK/ds" --hosts 50 --series-per-host 200 \
    --interval 15s --duration 6h --formats rw >/dev/null
fi
if [[ ! -f $WORK/tls/server.pem ]]; then
  mkdir -p "$WORK/tls"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$WORK/tls/server.key" -out "$WORK/tls/server.pem" 2>/dev/null
fi
BASE='[limits]
max_active_series = 10000000
max_series_per_metric = 10000000
ingest_rate = 100000000
ingest_burst = 100000000
[retention]
metrics = "36500d"'
cat > "$WORK/plain.toml" <<EOF
$BASE
EOF
cat > "$WORK/relabel.toml" <<EOF
$BASE
[[relabel.metrics]]
action = "labeldrop"
regex = "peer_id"
[[relabel.metrics]]
source_labels = ["job"]
target_label = "team"
replacement = "ops-\$1"
[[relabel.metrics]]
action = "drop"
source_labels = ["__name__"]
regex = "debug_.*"
[[relabel.metrics]]
action = "lowercase"
source_labels = ["instance"]
target_label = "instance"
[[relabel.metrics]]
action = "hashmod"
source_labels = ["instance"]
modulus = 8
target_label = "shard"
EOF
cat > "$WORK/tls.toml" <<EOF
$BASE
[server.tls]
cert_file = "$WORK/tls/server.pem"
key_file = "$WORK/tls/server.key"
EOF

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
start() { # variant -> sets SPID
  rm -rf "$WORK/data"
  "$STRATA" serve --config "$WORK/$1.toml" --data-dir "$WORK/data" \
    --http-addr 127.0.0.1:19600 --grpc-addr 127.0.0.1:19601 > /dev/null 2> "$WORK/$1.log" &
  SPID=$!
  local scheme=http opts=()
  [[ $1 == tls ]] && scheme=https opts=(--cacert "$WORK/tls/server.pem")
  for _ in $(seq 300); do curl -sf "${opts[@]}" "$scheme://127.0.0.1:19600/ready" >/dev/null && return; sleep 0.2; done
  echo "strata ($1) did not start" >&2; exit 1
}
stop() { kill -TERM "$SPID"; wait "$SPID" || true; }

for r in $(seq "$REPEATS"); do
  for v in plain relabel tls; do
    start "$v"
    url=http://127.0.0.1:19600/api/v1/write ca=()
    [[ $v == tls ]] && url=https://127.0.0.1:19600/api/v1/write ca=(--cafile "$WORK/tls/server.pem")
    c0=$(cpu "$SPID")
    python3 "$HERE/rules_bench.py" rw --ds "$WORK/ds" --url "$url" --workers 2 "${ca[@]}" > "$OUT/$v-$r.json"
    c1=$(cpu "$SPID")
    python3 - "$OUT/$v-$r.json" "$c0" "$c1" <<'PYEOF'
import json, os, sys
p, c0, c1 = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
d = json.load(open(p)); d["server_cpu_s"] = (c1 - c0) / os.sysconf("SC_CLK_TCK")
json.dump(d, open(p, "w"))
PYEOF
    echo "$v round $r: $(cat "$OUT/$v-$r.json")"
    stop
  done
done

start tls
c0=$(cpu "$SPID")
openssl s_time -connect 127.0.0.1:19600 -new -time 10 -CAfile "$WORK/tls/server.pem" 2>/dev/null \
  | grep -E "connections in" | head -1 > "$OUT/handshakes.txt" || true
c1=$(cpu "$SPID")
echo "$c0 $c1" >> "$OUT/handshakes.txt"
stop

python3 - "$OUT" "$REPEATS" <<'PYEOF' | tee "$OUT/summary.txt"
import json, os, re, statistics, sys
out, n = sys.argv[1], int(sys.argv[2])
res = {v: [json.load(open(f"{out}/{v}-{r}.json")) for r in range(1, n + 1)] for v in ["plain", "relabel", "tls"]}
med = lambda v, k: statistics.median(x[k] for x in res[v])
base = med("plain", "samples_per_s")
print("| variant | samples/s, median of %d | server CPU-s per load, median | paired ratio to plain (rate; CPU), median | all rounds (rate) |" % n)
print("|---|---|---|---|---|")
for v in ["plain", "relabel", "tls"]:
    s = med(v, "samples_per_s")
    rate = statistics.median(x["samples_per_s"] / p["samples_per_s"] for x, p in zip(res[v], res["plain"]))
    cpu = statistics.median(x["server_cpu_s"] / p["server_cpu_s"] for x, p in zip(res[v], res["plain"]))
    rounds = ", ".join(f"{x['samples_per_s']/1e6:.2f}" for x in res[v])
    print(f"| {v} | {s/1e6:.2f} M | {med(v, 'server_cpu_s'):.2f} | {rate:.3f}; {cpu:.3f} | {rounds} M |")
lines = open(f"{out}/handshakes.txt").read().splitlines()
m = re.search(r"(\d+) connections in ([\d.]+)s", lines[0]) if lines else None
if m and len(lines) > 1:
    conns, secs = int(m.group(1)), float(m.group(2))
    c0, c1 = map(int, lines[-1].split())
    cpu = (c1 - c0) / os.sysconf("SC_CLK_TCK")
    print(f"TLS handshakes (openssl s_time -new, 10 s): {conns/secs:.0f}/s; server CPU {1000*cpu/conns:.2f} ms per handshake")
PYEOF
