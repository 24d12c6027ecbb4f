#!/usr/bin/env python3
"""Turns a ../shared/bench dataset's remote-write 1.0 requests (`DS/rw/*.rwb`) into the same
requests in remote-write 2.0 (`io.prometheus.write.v2.Request`: a symbol table and label
references), file for file, with the same names and `index.tsv`, for benches/rw2/run.sh.

    convert.py DS OUT        (writes OUT/rw/)

Every sample, label and order is kept; only the encoding changes. Standard library plus
`cramjam` (PyPI) for snappy. Field numbers: prompb/types.proto (v1) and
prompb/io/prometheus/write/v2/types.proto (v2).
"""
import os
import shutil
import struct
import sys

import cramjam


def varint(n):
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def read_varint(b, i):
    n = shift = 0
    while True:
        x = b[i]
        i += 1
        n |= (x & 0x7F) << shift
        if x < 0x80:
            return n, i
        shift += 7


def fields(b):
    """(field, wire type, value) of one message; value is bytes for length-delimited,
    an int for varints, raw bytes for fixed64."""
    i = 0
    while i < len(b):
        key, i = read_varint(b, i)
        f, w = key >> 3, key & 7
        if w == 0:
            v, i = read_varint(b, i)
        elif w == 1:
            v, i = b[i:i + 8], i + 8
        elif w == 2:
            n, i = read_varint(b, i)
            v, i = b[i:i + n], i + n
        elif w == 5:
            v, i = b[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {w}")
        yield f, w, v


def ld(f, b):
    return varint(f << 3 | 2) + varint(len(b)) + b


def convert(body):
    symbols, index, series = [""], {"": 0}, []

    def ref(s):
        if s not in index:
            index[s] = len(symbols)
            symbols.append(s)
        return index[s]

    for f, _, ts in fields(body):
        if f != 1:
            continue
        refs, samples = [], []
        for g, _, v in fields(ts):
            if g == 1:  # Label{name 1, value 2}
                kv = {h: x.decode() for h, _, x in fields(v)}
                refs += [ref(kv.get(1, "")), ref(kv.get(2, ""))]
            elif g == 2:  # Sample{value 1 double, timestamp 2 int64}
                value, t = b"\0" * 8, 0
                for h, _, x in fields(v):
                    if h == 1:
                        value = x
                    elif h == 2:
                        t = x
                samples.append(varint(1 << 3 | 1) + value + varint(2 << 3 | 0) + varint(t))
            elif g in (3, 4):
                raise ValueError("exemplars or histograms: not in the shared dataset")
        packed = b"".join(varint(r) for r in refs)
        series.append(ld(1, packed) + b"".join(ld(2, s) for s in samples))
    return b"".join(ld(4, s.encode()) for s in symbols) + b"".join(ld(5, s) for s in series)


def main(ds, out):
    src, dst = os.path.join(ds, "rw"), os.path.join(out, "rw")
    os.makedirs(dst, exist_ok=True)
    n = 0
    for name in sorted(os.listdir(src)):
        if not name.endswith(".rwb"):
            continue
        with open(os.path.join(src, name), "rb") as f:
            v1 = bytes(cramjam.snappy.decompress_raw(f.read()))
        with open(os.path.join(dst, name), "wb") as f:
            f.write(bytes(cramjam.snappy.compress_raw(convert(v1))))
        n += 1
    shutil.copy(os.path.join(src, "index.tsv"), os.path.join(dst, "index.tsv"))
    print(f"converted {n} requests into {dst}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
