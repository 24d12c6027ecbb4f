#!/usr/bin/env python3
"""A scrape target that exposes native histograms in Prometheus's protobuf exposition
format (`io.prometheus.client.MetricFamily`, length-delimited), for
prometheus-remote-write.sh: Debian's Prometheus scrapes it with native histograms on and
remote-writes what it scraped to Strata.

    nh_target.py PORT

Every scrape adds a fixed, seeded set of observations, so the data is the same on every
run. Two metric families:

- `nh_request_seconds` (counter histogram, schema 3, zero threshold 1e-3): latencies from a
  log-normal, some exactly 0 (the zero bucket); series `path="/a"` and `path="/b"`, where
  `/b` restarts (its counts go back to zero: a counter reset) every 30 scrapes.
- `nh_offset_celsius` (counter histogram, schema 0): values on both sides of zero
  (negative buckets).

Only the standard library: the protobuf messages are small enough to encode by hand (field
numbers from prompb/io/prometheus/client/metrics.proto).
"""
import http.server
import math
import random
import struct
import sys
import threading

CONTENT_TYPE = "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited"
RESET_EVERY = 30


# --- protobuf encoding (proto3, only what the messages need) -------------------------
def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def zigzag(n):
    return (n << 1) ^ (n >> 63)


def key(field, wire):
    return varint(field << 3 | wire)


def f_varint(field, n):
    return key(field, 0) + varint(n)


def f_sint(field, n):
    return key(field, 0) + varint(zigzag(n) & (2**64 - 1))


def f_double(field, x):
    return key(field, 1) + struct.pack("<d", x)


def f_bytes(field, b):
    return key(field, 2) + varint(len(b)) + b


def f_packed_sint(field, ns):
    return f_bytes(field, b"".join(varint(zigzag(n) & (2**64 - 1)) for n in ns)) if ns else b""


# --- native histogram state -----------------------------------------------------------
class Native:
    """Observations bucketed as Prometheus's client libraries do: bucket i of schema s
    holds (2^((i-1)/2^s), 2^(i/2^s)], negative values mirrored, |v| <= threshold in the
    zero bucket."""

    def __init__(self, schema, zero_threshold):
        self.schema, self.zt = schema, zero_threshold
        self.reset()

    def reset(self):
        self.count, self.sum, self.zero = 0, 0.0, 0
        self.pos, self.neg = {}, {}

    def index(self, v):
        i = math.ceil(math.log2(v) * 2**self.schema)
        # log2 may round either way near a boundary: settle it exactly.
        while v > 2 ** ((i) / 2**self.schema):
            i += 1
        while v <= 2 ** ((i - 1) / 2**self.schema):
            i -= 1
        return i

    def observe(self, v):
        self.count += 1
        self.sum += v
        if abs(v) <= self.zt:
            self.zero += 1
        else:
            side = self.pos if v > 0 else self.neg
            i = self.index(abs(v))
            side[i] = side.get(i, 0) + 1

    @staticmethod
    def spans_deltas(buckets):
        spans, deltas, prev_idx, prev_count = [], [], None, 0
        for i in sorted(buckets):
            if prev_idx is None:
                spans.append([i, 1])
            elif i == prev_idx + 1:
                spans[-1][1] += 1
            else:
                spans.append([i - prev_idx - 1, 1])
            deltas.append(buckets[i] - prev_count)
            prev_idx, prev_count = i, buckets[i]
        return spans, deltas

    def encode(self):
        h = f_varint(1, self.count) + f_double(2, self.sum) + f_sint(5, self.schema)
        h += f_double(6, self.zt) + f_varint(7, self.zero)
        for field_span, field_delta, side in ((9, 10, self.neg), (12, 13, self.pos)):
            spans, deltas = self.spans_deltas(side)
            for off, n in spans:
                h += f_bytes(field_span, f_sint(1, off) + f_varint(2, n))
            h += f_packed_sint(field_delta, deltas)
        if not self.pos and not self.neg and self.zt == 0:
            h += f_bytes(12, b"")  # a no-op span: "native, no observations yet"
        return h


def metric(labels, hist):
    m = b"".join(f_bytes(1, f_bytes(1, k.encode()) + f_bytes(2, v.encode())) for k, v in labels)
    return m + f_bytes(7, hist.encode())


def family(name, help_text, metrics):
    body = f_bytes(1, name.encode()) + f_bytes(2, help_text.encode()) + f_varint(3, 4)
    return body + b"".join(f_bytes(4, m) for m in metrics)


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.rng = random.Random(41)
        self.scrapes = 0
        self.req = {p: Native(3, 1e-3) for p in ("/a", "/b")}
        self.temp = Native(0, 0.0)

    def step(self):
        self.scrapes += 1
        if self.scrapes % RESET_EVERY == 0:
            self.req["/b"].reset()
        for path, h in self.req.items():
            for _ in range(self.rng.randint(5, 40) * (2 if path == "/a" else 1)):
                h.observe(0.0 if self.rng.random() < 0.05 else self.rng.lognormvariate(-3, 1.2))
        for _ in range(self.rng.randint(3, 12)):
            self.temp.observe(self.rng.gauss(0.5, 4.0))

    def exposition(self):
        with self.lock:
            self.step()
            fams = [
                family("nh_request_seconds", "Request latency.",
                       [metric([("path", p)], h) for p, h in self.req.items()]),
                family("nh_offset_celsius", "Offset from the set point.", [metric([], self.temp)]),
            ]
        return b"".join(varint(len(f)) + f for f in fams)


STATE = State()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path != "/metrics":
            self.send_error(404)
            return
        if "io.prometheus.client.MetricFamily" not in self.headers.get("Accept", ""):
            self.send_error(406, "this target speaks only the protobuf exposition format")
            return
        body = STATE.exposition()
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
