#!/usr/bin/env python3
"""A test exporter for tests/interop/prometheus-scrape.sh (stdlib only).

    scrape_target.py PORT [PORT2] STATE_DIR

Serves on PORT:
  /metrics  text format 0.0.4: counters (with a reset-free increment per request),
            a classic histogram, a summary, a gauge that disappears once STATE_DIR/drop exists,
            and a sample whose `instance` label clashes with the target's (exported_instance)
  /om       OpenMetrics 1.0 with exemplars and units, gzipped when the request accepts it;
            its `job` label is honoured by `honor_labels`
  /proto    Prometheus's protobuf format (delimited MetricFamily messages, encoded here):
            a counter with an exemplar, a gauge, a summary, a classic histogram (bounds
            written 0.1, 1 and 1e6, no +Inf bucket) and a native histogram with an exemplar
            (constant, so both scrapers store equal values); the gauge and the native
            histogram disappear once STATE_DIR/drop exists
On PORT2 (the target file_sd later removes): /metrics, a counter and a gauge.
Values depend only on the count of requests for that path, so both scrapers see series of
the same shape.
"""
import gzip
import http.server
import os
import struct
import sys
import threading
import time

STATE = sys.argv[-1]
counts = {}
lock = threading.Lock()


def text(n, port):
    lines = [
        "# HELP demo_requests_total Requests handled.",
        "# TYPE demo_requests_total counter",
        f'demo_requests_total{{code="200",method="get"}} {100 + n * 7}',
        f'demo_requests_total{{code="500",method="get"}} {n // 3}',
        "# HELP demo_latency_seconds Request latency.",
        "# TYPE demo_latency_seconds histogram",
    ]
    cum = 0
    for le, inc in (("0.1", 5), ("0.5", 3), ("1", 1), ("+Inf", 1)):
        cum += inc * (n + 1)
        lines.append(f'demo_latency_seconds_bucket{{le="{le}"}} {cum}')
    lines += [
        f"demo_latency_seconds_sum {0.37 * (n + 1):.2f}",
        f"demo_latency_seconds_count {cum}",
        "# TYPE demo_rpc_seconds summary",
        f'demo_rpc_seconds{{quantile="0.5"}} 0.25',
        f'demo_rpc_seconds{{quantile="0.99"}} 1.5',
        f"demo_rpc_seconds_sum {n * 0.5}",
        f"demo_rpc_seconds_count {n}",
        'demo_clash{instance="from-the-body"} 1',
        f'demo_escapes{{path="C:\\\\dir",msg="say \\"hi\\"\\nbye"}} 2',
        "demo_special +Inf",
    ]
    if not os.path.exists(os.path.join(STATE, "drop")):
        lines += ["# TYPE demo_temperature gauge", "demo_temperature 21.5"]
    if port != PORTS[0]:
        lines = [f"vanish_total {n}", "vanish_gauge 1"]
    return ("\n".join(lines) + "\n").encode()


def om(n):
    return (
        "# TYPE demo_events counter\n"
        "# HELP demo_events Events seen.\n"
        f'demo_events_total{{job="exposed"}} {n} # {{trace_id="4bf92f3577b34da6a3ce929d0e0e4736"}} 1.0\n'
        "# TYPE demo_size_bytes gauge\n"
        "# UNIT demo_size_bytes bytes\n"
        "demo_size_bytes 1024\n"
        "# EOF\n"
    ).encode()


# Protobuf encoding (proto3 wire format), enough for io.prometheus.client.MetricFamily.
def varint(n):
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def f_len(field, b):
    return varint(field << 3 | 2) + varint(len(b)) + b


def f_str(field, s):
    return f_len(field, s.encode())


def f_double(field, v):
    return varint(field << 3 | 1) + struct.pack("<d", v)


def f_varint(field, n):
    return varint(field << 3) + varint(n)


def zigzag(n):
    return (n << 1) ^ (n >> 63)


def labels(pairs):
    return b"".join(f_len(1, f_str(1, k) + f_str(2, v)) for k, v in pairs)


EXEMPLAR_AT = time.time()


def exemplar(trace, value):
    secs = int(EXEMPLAR_AT)
    ts = f_varint(1, secs) + f_varint(2, 500_000_000)
    return f_len(1, f_str(1, "trace_id") + f_str(2, trace)) + f_double(2, value) + f_len(3, ts)


def family(name, typ, metrics, help_=""):
    msg = f_str(1, name) + (f_str(2, help_) if help_ else b"") + f_varint(3, typ)
    msg += b"".join(f_len(4, m) for m in metrics)
    return varint(len(msg)) + msg


def span(offset, length):
    return f_varint(1, zigzag(offset)) + f_varint(2, length)


def proto(n):
    counter = f_double(1, 10 + n) + f_len(2, exemplar("a1b2c3d4e5f60718293a4b5c6d7e8f90", 0.5))
    out = family("proto_requests_total", 0, [labels([("path", "/a")]) + f_len(3, counter)], "Requests.")
    summary = f_varint(1, 4) + f_double(2, 2.0)
    summary += f_len(3, f_double(1, 0.5) + f_double(2, 0.25)) + f_len(3, f_double(1, 0.99) + f_double(2, 1.5))
    out += family("proto_rpc_seconds", 2, [f_len(4, summary)])
    classic = f_varint(1, 9) + f_double(2, 3.25)
    for upper, cum in ((0.1, 2), (1.0, 5), (1e6, 8)):
        classic += f_len(3, f_varint(1, cum) + f_double(2, upper))
    out += family("proto_latency_seconds", 4, [labels([("route", "/b")]) + f_len(7, classic)])
    # Integer native histogram, schema 0: zero bucket 3; positive buckets 2, 3, 2 (the
    # third after a gap); one negative bucket 2. Count 12, sum 7.5.
    native = f_varint(1, 12) + f_double(2, 7.5) + f_varint(5, zigzag(0))
    native += f_double(6, 0.001) + f_varint(7, 3)
    native += f_len(9, span(-1, 1)) + f_len(10, varint(zigzag(2)))
    native += f_len(12, span(0, 2)) + f_len(12, span(1, 1))
    native += f_len(13, b"".join(varint(zigzag(d)) for d in (2, 1, -1)))
    native += f_len(16, exemplar("0f0e0d0c0b0a09080706050403020100", 1.25))
    if not os.path.exists(os.path.join(STATE, "drop")):
        out += family("proto_temperature", 1, [f_len(2, f_double(1, 20.5))])
        out += family("proto_native_seconds", 4, [labels([("route", "/c")]) + f_len(7, native)])
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        port = self.server.server_address[1]
        key = (port, self.path)
        with lock:
            counts[key] = counts.get(key, 0) + 1
            n = counts[key]
        if self.path == "/metrics":
            body, ctype = text(n, port), "text/plain; version=0.0.4; charset=utf-8"
        elif self.path == "/om" and port == PORTS[0]:
            body, ctype = om(n), "application/openmetrics-text; version=1.0.0; charset=utf-8"
        elif self.path == "/proto" and port == PORTS[0]:
            body = proto(n)
            ctype = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
        else:
            self.send_response(404)
            self.end_headers()
            return
        encoding = None
        if "gzip" in (self.headers.get("Accept-Encoding") or "") and self.path == "/om":
            body, encoding = gzip.compress(body), "gzip"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


PORTS = [int(p) for p in sys.argv[1:-1]]
servers = [http.server.ThreadingHTTPServer(("127.0.0.1", p), Handler) for p in PORTS]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
