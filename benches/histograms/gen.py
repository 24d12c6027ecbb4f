#!/usr/bin/env python3
"""Native and classic histograms of the same observations, as remote-write 1.0 requests,
for benches/histograms/run.sh.

    gen.py --out DIR [--series 500] [--interval 15s] [--duration 6h] [--seed 41]

Every series is one endpoint of one host (`host`, `endpoint` labels) observing request
latencies (log-normal, a daily traffic cycle, about 1 % exact zeros); every scrape step
adds its observations to both forms:

- native: `bench_latency_seconds`, an integer native histogram of schema 3 with a zero
  bucket of width 1e-3 (as a Prometheus client library exposes one), in `native/rw/`;
- classic: `bench_latency_seconds_bucket{le}` for the 11 bounds of Prometheus's client
  default (`0.005` ... `10`) and `+Inf`, `_sum` and `_count`, in `classic/rw/`;
- nhcb: `bench_latency_seconds`, a native histogram with custom buckets (schema -53) on
  the classic form's 11 bounds, what Prometheus makes of a classic histogram with
  `convert_classic_histograms_to_nhcb`, in `nhcb/rw/`: the classic form's buckets in one
  native series.

Files hold one time window of 4 steps for a block of series, named so that a plain sort
gives window-major order, with an `index.tsv`, exactly as ../shared/bench's rw files: its
`load_peers.py rw --ds DIR/native` sends them. `meta.json` says what was made.
Deterministic: the same arguments give the same bytes. Needs `cramjam` (PyPI) for snappy.
"""
import argparse
import json
import math
import os
import random
import struct
import time

import cramjam

BOUNDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
SCHEMA, ZERO_THRESHOLD = 3, 1e-3
STEPS_PER_FILE, SERIES_PER_FILE = 4, 50


def varint(n):
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def zz(n):
    return (n << 1) ^ (n >> 63)


def fld(f, wire, payload):
    return varint(f << 3 | wire) + payload


def ld(f, b):
    return fld(f, 2, varint(len(b)) + b)


def dbl(f, x):
    return fld(f, 1, struct.pack("<d", x))


def vint(f, n):
    return fld(f, 0, varint(n))


def labels_pb(labels):
    return b"".join(ld(1, ld(1, k.encode()) + ld(2, v.encode())) for k, v in sorted(labels.items()))


def sample_pb(value, ts):
    return ld(2, dbl(1, value) + vint(2, ts))


def histogram_pb(h, ts, custom=False):
    """prompb Histogram (types.proto: count_int 1, sum 3, schema 4, zero_threshold 5,
    zero_count_int 6, positive_spans 11, positive_deltas 12, timestamp 15, custom_values
    16); `custom`: schema -53 on BOUNDS, the buckets of `h.le` (cumulative) that hold any."""
    pos = h.pos
    if custom:
        per = [c - p for c, p in zip(h.le + [h.count], [0] + h.le)]
        pos = {i: c for i, c in enumerate(per) if c}
    spans, deltas, prev_i, prev_c = [], [], None, 0
    for i in sorted(pos):
        if prev_i is not None and i == prev_i + 1:
            spans[-1][1] += 1
        else:
            spans.append([i if prev_i is None else i - prev_i - 1, 1])
        deltas.append(pos[i] - prev_c)
        prev_i, prev_c = i, pos[i]
    if custom:
        b = vint(1, h.count) + dbl(3, h.sum) + vint(4, zz(-53) & (2**64 - 1))
    else:
        b = vint(1, h.count) + dbl(3, h.sum) + vint(4, zz(SCHEMA)) + dbl(5, ZERO_THRESHOLD) + vint(6, h.zero)
    b += b"".join(ld(11, vint(1, zz(o)) + vint(2, n)) for o, n in spans)
    if deltas:
        b += ld(12, b"".join(varint(zz(d) & (2**64 - 1)) for d in deltas))
    b += vint(15, ts)
    if custom:
        b += ld(16, b"".join(struct.pack("<d", x) for x in BOUNDS))
    return b


class Series:
    def __init__(self, rng, host, endpoint):
        self.rng, self.labels = rng, {"host": host, "endpoint": endpoint}
        self.mu = rng.uniform(-4.5, -2.0)
        self.count, self.sum, self.zero, self.pos = 0, 0.0, 0, {}
        self.le = [0] * len(BOUNDS)

    def observe(self, v):
        self.count += 1
        self.sum += v
        for j, b in enumerate(BOUNDS):
            if v <= b:
                self.le[j] += 1
        if v <= ZERO_THRESHOLD:
            self.zero += 1
            return
        i = math.ceil(math.log2(v) * 2**SCHEMA)
        while v > 2 ** (i / 2**SCHEMA):
            i += 1
        while v <= 2 ** ((i - 1) / 2**SCHEMA):
            i -= 1
        self.pos[i] = self.pos.get(i, 0) + 1

    def step(self, day_phase):
        n = max(0, int(self.rng.gauss(12, 4) * (1.3 + math.sin(day_phase))))
        for _ in range(n):
            self.observe(0.0 if self.rng.random() < 0.01 else self.rng.lognormvariate(self.mu, 1.0))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--series", type=int, default=500)
    ap.add_argument("--interval", default="15s")
    ap.add_argument("--duration", default="6h")
    ap.add_argument("--seed", type=int, default=41)
    a = ap.parse_args()
    unit = {"s": 1000, "m": 60_000, "h": 3_600_000}
    ms = lambda v: int(v[:-1]) * unit[v[-1]]
    step_ms, steps = ms(a.interval), ms(a.duration) // ms(a.interval)
    # Ends an interval before the hour the generator ran in, so a fresh server accepts it all
    # and the data lies within any retention over a day.
    end = (int(time.time() * 1000) // 3_600_000) * 3_600_000 - step_ms
    start = end - (steps - 1) * step_ms
    rng = random.Random(a.seed)
    series = [Series(random.Random(rng.random()), f"host-{i // 10:04d}", f"/api/{i % 10}") for i in range(a.series)]
    forms = ("native", "classic", "nhcb")
    for form in forms:
        os.makedirs(os.path.join(a.out, form, "rw"), exist_ok=True)
    files = {f: 0 for f in forms}
    samples = {f: 0 for f in forms}
    index = {f: [] for f in forms}
    for w0 in range(0, steps, STEPS_PER_FILE):
        window = range(w0, min(w0 + STEPS_PER_FILE, steps))
        native = {id(s): [] for s in series}
        nhcb = {id(s): [] for s in series}
        classic = {id(s): [] for s in series}
        for k in window:
            ts = start + k * step_ms
            phase = 2 * math.pi * (ts % 86_400_000) / 86_400_000
            for s in series:
                s.step(phase)
                native[id(s)].append(histogram_pb(s, ts))
                nhcb[id(s)].append(histogram_pb(s, ts, custom=True))
                classic[id(s)].append((ts, list(s.le), s.count, s.sum))
        for b0 in range(0, len(series), SERIES_PER_FILE):
            block = series[b0:b0 + SERIES_PER_FILE]
            nat, nhc, cla, ncla = b"", b"", b"", 0
            for s in block:
                base = {"__name__": "bench_latency_seconds", **s.labels}
                nat += ld(1, labels_pb(base) + b"".join(ld(4, h) for h in native[id(s)]))
                nhc += ld(1, labels_pb(base) + b"".join(ld(4, h) for h in nhcb[id(s)]))
                pts = classic[id(s)]
                for j, b in enumerate(BOUNDS + [math.inf]):
                    lab = {**base, "__name__": "bench_latency_seconds_bucket", "le": "+Inf" if b == math.inf else repr(b) if b != int(b) else str(int(b))}
                    cla += ld(1, labels_pb(lab) + b"".join(sample_pb(float(le[j] if j < len(BOUNDS) else c), ts) for ts, le, c, _ in pts))
                cla += ld(1, labels_pb({**base, "__name__": "bench_latency_seconds_sum"}) + b"".join(sample_pb(sm, ts) for ts, _, _, sm in pts))
                cla += ld(1, labels_pb({**base, "__name__": "bench_latency_seconds_count"}) + b"".join(sample_pb(float(c), ts) for ts, _, c, _ in pts))
                ncla += len(pts) * (len(BOUNDS) + 3)
            name = f"{w0:06d}_{b0:06d}.rwb"
            one = len(block) * len(window)
            for form, body, n in (("native", nat, one), ("classic", cla, ncla), ("nhcb", nhc, one)):
                with open(os.path.join(a.out, form, "rw", name), "wb") as f:
                    f.write(bytes(cramjam.snappy.compress_raw(body)))
                files[form] += 1
                samples[form] += n
                index[form].append(f"{name}\t{n}\t{start + w0 * step_ms}")
    for form in index:
        with open(os.path.join(a.out, form, "rw", "index.tsv"), "w") as f:
            f.write("\n".join(index[form]) + "\n")
    meta = {"series": a.series, "interval_ms": step_ms, "steps": steps, "start_ms": start, "end_ms": end,
            "seed": a.seed, "schema": SCHEMA, "zero_threshold": ZERO_THRESHOLD, "bounds": BOUNDS,
            "files": files, "samples": samples,
            "observations": sum(s.count for s in series)}
    with open(os.path.join(a.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
