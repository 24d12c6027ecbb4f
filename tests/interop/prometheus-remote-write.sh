#!/usr/bin/env bash
# Interop: a real Prometheus (Debian's package) scrapes node_exporter, itself and a target
# exposing native histograms (nh_target.py), and remote-writes everything to a real
# `strata serve` (native histograms included: `--enable-feature=native-histograms` and
# `send_native_histograms`); then the same PromQL range queries, series and label lookups go
# to both, and the answers must be the same (compare.py for floats and classic histograms,
# compare_nh.py for native histograms, which also says what Prometheus 2.42 cannot be
# compared on). Run by .ci/test.sh.
#
#   bash tests/interop/prometheus-remote-write.sh [path/to/strata]
#
# Installs the Debian packages `prometheus` and `prometheus-node-exporter` (without their
# recommends) with apt-get when missing, and starts no packaged service: it runs its own
# Prometheus, node_exporter and Strata on free ports with their own config and data in $WORK,
# and stops them by pid. Leaves nothing running; logs and data stay in $WORK (printed) when
# it fails.
#
# It compares as soon as there is enough data (tests/interop/compare.py says what window it
# compares: from 62 s after the first scrape to 8 s before the comparison), polling both
# servers until Strata holds that window. STRATA_INTEROP_SECONDS (default 10, the least
# compare.py accepts) is the length of that window: the run takes about 75 s plus that, and
# fails with the reason when it is not ready within 60 s more.
# python3 is the one on PATH (the venv's under .ci/test.sh; compare.py needs only the stdlib).
set -euo pipefail
cd "$(dirname "$0")/../.."

STRATA="${1:-${CARGO_TARGET_DIR:-target}/debug/strata}"
[ -x "$STRATA" ] || { echo "no strata binary at $STRATA (cargo build -p strata-server)"; exit 1; }
SECS="${STRATA_INTEROP_SECONDS:-10}"
[[ "$SECS" =~ ^[0-9]+$ ]] && [ "$SECS" -ge 10 ] \
    || { echo "STRATA_INTEROP_SECONDS must be a whole number of seconds, 10 or more"; exit 1; }

need=()
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
[ -x /usr/bin/prometheus-node-exporter ] || need+=(prometheus-node-exporter)
if [ ${#need[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "needs ${need[*]}: apt-get install --no-install-recommends ${need[*]} (as root)"; exit 1; }
    echo "installing Debian packages: ${need[*]}"
    # The packages' maintainer scripts start their services through invoke-rc.d or
    # deb-systemd-invoke, and both ask /usr/sbin/policy-rc.d first: exit 101 means "do not
    # start" (we run our own). A policy already there (container images ship one) is left
    # as it is; otherwise one is put there for the install and removed after it.
    own_policy=
    drop_policy() { if [ -n "$own_policy" ]; then rm -f /usr/sbin/policy-rc.d; own_policy=; fi; }
    trap drop_policy EXIT
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        own_policy=1
        printf '#!/bin/sh\n# put here by strata tests/interop for one apt-get install\nexit 101\n' \
            > /usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
    fi
    apt_install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; }
    apt_install || { apt-get update -qq && apt_install; }
    drop_policy
    trap - EXIT
    # Should a policy have let a packaged service start anyway (sysvinit), stop it by the pid
    # file its init script writes, never by process name: other instances may be the user's.
    for name in "${need[@]}"; do
        pidfile=/run/prometheus/$name.pid
        if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            echo "stopping the $name service its package started (pid $(cat "$pidfile"))"
            kill "$(cat "$pidfile")"
        fi
    done
fi

WORK=$(mktemp -d /tmp/strata-interop.XXXXXX)
STRATA_PID= NODE_PID= PROM_PID= NH_PID=
# Stops one of our processes by pid: SIGTERM, then SIGKILL after 30 s.
stop() {
    local pid=$1
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}
# Prometheus first, while Strata still takes its last remote-write batches (stopped after
# Strata, it retries them until its 1 min flush deadline).
cleanup() {
    stop "$PROM_PID"; stop "$NODE_PID"; stop "$NH_PID"; stop "$STRATA_PID"
    PROM_PID= NODE_PID= NH_PID= STRATA_PID=
}
fail() {
    echo "interop FAILED: $*"
    cleanup
    tail -n 20 "$WORK/strata.log" "$WORK/prometheus.log" "$WORK/node.log" "$WORK/nh.log" 2>/dev/null || true
    echo "logs and data in $WORK"
    exit 1
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP=$(free_port); GRPC=$(free_port); PROM=$(free_port); NODE=$(free_port); NH=$(free_port)

"$STRATA" serve --data-dir "$WORK/strata" --http-addr "127.0.0.1:$HTTP" \
    --grpc-addr "127.0.0.1:$GRPC" >"$WORK/strata.log" 2>&1 &
STRATA_PID=$!
/usr/bin/prometheus-node-exporter --web.listen-address="127.0.0.1:$NODE" \
    --collector.disable-defaults --collector.cpu --collector.meminfo --collector.loadavg \
    --collector.filesystem --collector.netdev --collector.stat >"$WORK/node.log" 2>&1 &
NODE_PID=$!
python3 tests/interop/nh_target.py "$NH" >"$WORK/nh.log" 2>&1 &
NH_PID=$!

cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: node
    static_configs: [{ targets: ["127.0.0.1:$NODE"] }]
  - job_name: prometheus
    static_configs: [{ targets: ["127.0.0.1:$PROM"] }]
  - job_name: nh
    static_configs: [{ targets: ["127.0.0.1:$NH"] }]
remote_write:
  - url: http://127.0.0.1:$HTTP/api/v1/write
    send_native_histograms: true
    queue_config: { batch_send_deadline: 1s, max_samples_per_send: 2000 }
YML

for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$HTTP/ready" >/dev/null 2>&1 && break
    sleep 0.1
done
curl -fsS "http://127.0.0.1:$HTTP/ready" >/dev/null || fail "strata did not get ready in 10 s"

prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom" \
    --web.listen-address="127.0.0.1:$PROM" --enable-feature=native-histograms \
    >"$WORK/prometheus.log" 2>&1 &
PROM_PID=$!

# Polls COMPARE_SCRIPT --ready until it can compare $SECS s that Strata holds in full; sets
# READY_AT to the time to compare at.
wait_ready() {
    local script=$1 rc out
    local timeout=$((62 + 8 + SECS + 60)) start=$SECONDS said=$SECONDS
    echo "$script: waiting for $SECS s of data to compare (at most $timeout s; work dir $WORK)"
    while :; do
        rc=0
        out=$(python3 "tests/interop/$script" --ready "$SECS" \
            "http://127.0.0.1:$PROM" "http://127.0.0.1:$HTTP" 2>&1) || rc=$?
        [ $rc -eq 0 ] && break
        [ $rc -eq 2 ] || fail "$script --ready: $out"
        for p in "strata:$STRATA_PID" "node_exporter:$NODE_PID" "prometheus:$PROM_PID" "nh_target:$NH_PID"; do
            kill -0 "${p#*:}" 2>/dev/null || fail "${p%%:*} exited early"
        done
        [ $((SECONDS - start)) -lt "$timeout" ] || fail "no comparable data after $timeout s: $out"
        if [ $((SECONDS - said)) -ge 15 ]; then echo "  $((SECONDS - start)) s: $out"; said=$SECONDS; fi
        sleep 1
    done
    echo "comparing after $((SECONDS - start)) s"
    READY_AT=$out
}

wait_ready compare.py
python3 tests/interop/compare.py --at "$READY_AT" "http://127.0.0.1:$PROM" "http://127.0.0.1:$HTTP" \
    || fail "Prometheus and Strata answer differently"
wait_ready compare_nh.py
python3 tests/interop/compare_nh.py --at "$READY_AT" "http://127.0.0.1:$PROM" "http://127.0.0.1:$HTTP" \
    || fail "Prometheus and Strata answer differently on native histograms"
echo "interop: Prometheus and Strata agree"
cleanup
rm -rf "$WORK"
