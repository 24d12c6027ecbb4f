#!/usr/bin/env bash
# Two builds of strata on the shared bench in one run, for a before/after figure:
#
#   benches/peers/ab.sh A_BIN B_BIN [LOAD_ROUNDS [QUERY_ROUNDS]]    (defaults 3 and 3)
#
# Each round loads the shared dataset (50 hosts x 200 series x 15 s x 6 h, generated into
# $DS once) by remote-write (`load_peers.py rw`, 2 workers) into a fresh A and a fresh B
# server, the order alternating per round, and prints samples/s and the server's CPU
# seconds. The last round's two servers stay up, flush, and answer the shared 43 PromQL
# queries QUERY_ROUNDS times (`query_peers.py --runs 5`, each query on A then B; B's
# answers diffed against A's). Ports 19201-19204; settings as run-strata-peers.sh's, with
# partitions kept young (the dataset is from 2024); A_EXTRA and B_EXTRA are TOML appended
# to A's and B's configuration, e.g. B_EXTRA=$'[storage]\ncold_after = "0s"' to compare
# cold partitions with young ones on one build (with QUERY_WAIT=200, the seconds waited
# before the queries, so that compaction has run).
set -euo pipefail
A=${1:?usage: ab.sh A_BIN B_BIN [LOAD_ROUNDS [QUERY_ROUNDS]]} B=${2:?usage: ab.sh A_BIN B_BIN}
ROUNDS=${3:-3} QROUNDS=${4:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
SH=${SHARED_BENCH:-$(cd "$HERE/../../../shared/bench" && pwd)}
DS=${DS:-/tmp/strata-bench/ds} W=${WORK:-/tmp/strata-bench/ab}
[[ -f $DS/meta.json ]] || python3 $SH/gen_dataset.py --out $DS --hosts 50 --series-per-host 200 --interval 15s --duration 6h --formats rw >&2
rm -rf "$W"; mkdir -p "$W"
port() { [[ $1 == A ]] && echo 19201 || echo 19203; }
start() { # start NAME BIN
  local d=$W/$1 http=127.0.0.1:$(port $1) grpc=127.0.0.1:$(( $(port $1) + 1 )); rm -rf $d; mkdir -p $d
  cat > $d/strata.toml <<T
data_dir = "$d/data"
[server]
http_addr = "$http"
grpc_addr = "$grpc"
[wal]
durability = "fsync"
[retention]
metrics = "36500d"
[limits]
max_active_series = 10000000
max_series_per_metric = 10000000
ingest_rate = 1000000000
ingest_burst = 1000000000
[engine]
flush_interval = "1m"
maintenance_interval = "1m"
T
  local extra=${A_EXTRA:-}; [[ $1 == B ]] && extra=${B_EXTRA:-}
  # Young partitions unless the extra TOML sets cold_after itself.
  if [[ $extra != *cold_after* ]]; then extra=$'[storage]\ncold_after = "36500d"\n'$extra; fi
  printf '%s\n' "$extra" >> $d/strata.toml
  setsid $2 serve --config $d/strata.toml > $d/out 2> $d/log < /dev/null &
  echo $! > $d/pid
  for i in $(seq 1 240); do curl -fsS -o /dev/null http://$http/ready 2>/dev/null && return 0; sleep 0.5; done
  echo "not ready $1" >&2; exit 1
}
stop() { local p; p=$(cat $W/$1/pid); kill -TERM $p 2>/dev/null || return 0; for i in $(seq 1 600); do kill -0 $p 2>/dev/null || return 0; sleep 0.5; done; kill -9 $p; }
cpu() { awk '{print ($14+$15)/100}' /proc/$(cat $W/$1/pid)/stat; }
trap 'stop A; stop B' EXIT
for r in $(seq 1 $ROUNDS); do
  order="A B"; (( r % 2 == 0 )) && order="B A"
  for n in $order; do
    bin=$A; [[ $n == B ]] && bin=$B
    start $n $bin
    out=$(python3 $SH/load_peers.py rw --ds $DS --url http://127.0.0.1:$(port $n)/api/v1/write --workers 2)
    echo "load $n round $r: samples/s $(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["samples_per_s"], "failed", d["requests_failed"])') server_cpu_s $(cpu $n)"
    [[ $r -lt $ROUNDS ]] && stop $n
  done
done
sleep ${QUERY_WAIT:-75}   # both flush (flush_interval 1m); compaction may take longer
for q in $(seq 1 $QROUNDS); do
  python3 $SH/query_peers.py --ds $DS --runs 5 --peer A=http://127.0.0.1:19201 --peer B=http://127.0.0.1:19203 --ref A --json-out $W/q$q.json > $W/q$q.txt
  tail -5 $W/q$q.txt
done
