#!/usr/bin/env python3
"""Peak RSS of `strata serve` for compression bombs (docs/benchmarks.md, Memory).

    python3 benches/scripts/bomb-rss.py STRATA_BINARY [LABEL] [SCENARIO...]

Writes, once, WORK (default /tmp/strata-bombs, or $BOMB_DIR) /honest.gz: 1 GiB of zeros
gzipped at level 9 (~1.04 MB, its trailer declaring 1 GiB), /lying.gz: the same with its
trailer claiming 64 MiB (the default server.max_body_bytes: the largest buffer Strata
then allocates before it finds out), and both as gRPC frames. Then, for each scenario,
starts a fresh server (default config, data in a temporary directory, ports chosen by the
OS), waits for /ready, reads VmHWM, sends the bomb(s) with curl, and prints VmHWM after,
the difference, the time and the answer:

    h1 / l1     one honest / lying bomb to POST /v1/metrics
    h12 / l12   twelve at once
    gh1 / gl1   one over OTLP/gRPC (grpc-encoding: gzip; curl --http2-prior-knowledge)

Without SCENARIOs, all of them. Needs curl.
"""
import concurrent.futures
import gzip
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

BIN = sys.argv[1]
LABEL = sys.argv[2] if len(sys.argv) > 2 else os.path.basename(BIN)
ONLY = sys.argv[3:]
WORK = os.environ.get('BOMB_DIR', '/tmp/strata-bombs')
LIMIT = 64 << 20


def make_bombs():
    os.makedirs(WORK, exist_ok=True)
    honest = os.path.join(WORK, 'honest.gz')
    if not os.path.exists(honest):
        zeros = bytes(1 << 20)
        with gzip.open(honest + '.tmp', 'wb', compresslevel=9) as f:
            for _ in range(1024):
                f.write(zeros)
        os.rename(honest + '.tmp', honest)
    body = open(honest, 'rb').read()
    lying = bytearray(body)
    lying[-4:] = LIMIT.to_bytes(4, 'little')
    open(os.path.join(WORK, 'lying.gz'), 'wb').write(lying)
    for name, b in (('honest', body), ('lying', bytes(lying))):
        frame = bytes([1]) + len(b).to_bytes(4, 'big') + b
        open(os.path.join(WORK, name + '.grpc'), 'wb').write(frame)


def vm_hwm(pid):
    for line in open(f'/proc/{pid}/status'):
        if line.startswith('VmHWM:'):
            return int(line.split()[1]) * 1024
    return 0


def start():
    data = tempfile.mkdtemp(prefix='strata-bomb-data-')
    proc = subprocess.Popen(
        [BIN, 'serve', '--data-dir', data, '--http-addr', '127.0.0.1:0',
         '--grpc-addr', '127.0.0.1:0'],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    m = re.search(r'http=(\S+) grpc=(\S+)', proc.stdout.readline())
    http, grpc = m.group(1), m.group(2)
    for _ in range(600):
        try:
            if urllib.request.urlopen(f'http://{http}/ready').status == 200:
                break
        except OSError:
            pass
        time.sleep(0.1)
    time.sleep(0.5)
    return proc, http, grpc, data


def curl(args):
    r = subprocess.run(['curl', '-s'] + args, capture_output=True,
                       encoding='utf-8', errors='replace')
    return r.stdout, r.stderr


def post_http(http, name):
    code, body = curl(['-o', '/dev/stderr', '-w', '%{http_code}',
                       '-H', 'Content-Type: application/x-protobuf',
                       '-H', 'Content-Encoding: gzip',
                       '--data-binary', '@' + os.path.join(WORK, name + '.gz'),
                       f'http://{http}/v1/metrics'])
    # The body is a google.rpc.Status: its message, without the protobuf framing.
    return code + ' ' + re.sub(r'[^ -~]', '', body)[:110]


def post_grpc(grpc, name):
    out, _ = curl(['--http2-prior-knowledge', '-o', '/dev/null', '-D', '-',
                   '-H', 'content-type: application/grpc', '-H', 'te: trailers',
                   '-H', 'grpc-encoding: gzip',
                   '--data-binary', '@' + os.path.join(WORK, name + '.grpc'),
                   f'http://{grpc}/opentelemetry.proto.collector.metrics.v1.MetricsService/Export'])
    lines = [l for l in out.splitlines() if l.lower().startswith('grpc-status')]
    return ' '.join(lines)


def twelve(name):
    def send(http, _grpc):
        with concurrent.futures.ThreadPoolExecutor(12) as ex:
            answers = list(ex.map(lambda _: post_http(http, name), range(12)))
        codes = sorted(a[:3] for a in answers)
        return ' '.join(f'{c}x{codes.count(c)}' for c in sorted(set(codes)))
    return send


SCENARIOS = {
    'h1': ('HTTP, one honest bomb', lambda h, g: post_http(h, 'honest')),
    'l1': ('HTTP, one lying bomb', lambda h, g: post_http(h, 'lying')),
    'h12': ('HTTP, twelve honest bombs at once', twelve('honest')),
    'l12': ('HTTP, twelve lying bombs at once', twelve('lying')),
    'gh1': ('gRPC, one honest bomb', lambda h, g: post_grpc(g, 'honest')),
    'gl1': ('gRPC, one lying bomb', lambda h, g: post_grpc(g, 'lying')),
}


def main():
    make_bombs()
    for key, (what, send) in SCENARIOS.items():
        if ONLY and key not in ONLY:
            continue
        proc, http, grpc, data = start()
        try:
            idle = vm_hwm(proc.pid)
            t = time.time()
            answer = send(http, grpc)
            took = time.time() - t
            time.sleep(0.3)
            peak = vm_hwm(proc.pid)
            print(f'{LABEL}\t{what}\tVmHWM idle {idle / 1e6:.0f} MB, after {peak / 1e6:.0f} MB '
                  f'(+{(peak - idle) / 1e6:.0f} MB)\t{took:.2f} s\t{answer}', flush=True)
        finally:
            proc.terminate()
            proc.wait()
            subprocess.run(['rm', '-rf', data], check=False)


if __name__ == '__main__':
    main()
