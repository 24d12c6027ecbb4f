#!/usr/bin/env python3
"""Times remote read (`POST /api/v1/read`, SAMPLES) of one series over a range against a
server: RUNS requests after one warm-up, the median and every time in ms, and the samples
each answer held (benches/scripts/remote-read-bench.sh). Needs cramjam (snappy).

    remote_read_time.py URL START_MS END_MS RUNS name=value [name=value ...]
"""
import json
import statistics
import sys
import time
import urllib.request

import cramjam


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


def field(tag, wire, payload):
    key = varint((tag << 3) | wire)
    if wire == 2:
        return key + varint(len(payload)) + payload
    return key + payload


def request(start, end, matchers):
    q = field(1, 0, varint(start)) + field(2, 0, varint(end))
    for name, value in matchers:
        m = field(1, 0, varint(0)) + field(2, 2, name.encode()) + field(3, 2, value.encode())
        q += field(3, 2, m)
    return field(1, 2, q) + field(2, 0, varint(0))


def samples_in(body):
    """Counts `Sample` messages: field 2 of each TimeSeries (a rough but exact walk)."""
    raw = bytes(cramjam.snappy.decompress_raw(body))

    def read_varint(b, i):
        shift = n = 0
        while True:
            c = b[i]; i += 1
            n |= (c & 0x7F) << shift
            if c < 0x80:
                return n, i
            shift += 7

    def messages(b, want):
        i, out = 0, []
        while i < len(b):
            key, i = read_varint(b, i)
            tag, wire = key >> 3, key & 7
            if wire == 2:
                n, i = read_varint(b, i)
                if tag == want:
                    out.append(b[i:i + n])
                i += n
            elif wire == 0:
                _, i = read_varint(b, i)
            elif wire == 1:
                i += 8
            elif wire == 5:
                i += 4
        return out
    return sum(len(messages(ts, 2)) for r in messages(raw, 1) for ts in messages(r, 1))


def main():
    url, start, end, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    matchers = [a.split("=", 1) for a in sys.argv[5:]]
    body = bytes(cramjam.snappy.compress_raw(request(start, end, matchers)))
    headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
               "X-Prometheus-Remote-Read-Version": "0.1.0"}
    times, n = [], 0
    for k in range(runs + 1):
        t0 = time.perf_counter()
        with urllib.request.urlopen(urllib.request.Request(url + "/api/v1/read", body, headers), timeout=60) as r:
            answer = r.read()
        dt = (time.perf_counter() - t0) * 1000
        if k:
            times.append(round(dt, 2))
        n = samples_in(answer)
    print(json.dumps({"url": url, "p50_ms": statistics.median(times), "ms": times, "samples": n}))


main()
