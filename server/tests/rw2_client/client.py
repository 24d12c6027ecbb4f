#!/usr/bin/env python3
"""A remote-write 2.0 client built from the published proto (types.proto, vendored from
Prometheus), against a real `strata serve`: run by server/tests/rw2_client.rs.

    client.py BASE_URL

Compiles types.proto with grpcio-tools (PyPI) into a temporary folder, compresses with
cramjam's snappy (PyPI), and checks what the remote-write 2.0 spec and Prometheus's receiver
promise: 204 with the `X-Prometheus-Remote-Write-{Samples,Histograms,Exemplars}-Written`
headers; floats, integer, float and custom-bucket native histograms and exemplars read back
exactly through the Prometheus API; a partly bad request answered 400 with the reason and
the written counts while its good series are stored; bad symbol references refused; an
unknown `proto=` answered 415. Exits non-zero with the first difference.
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

import cramjam

HERE = os.path.dirname(os.path.abspath(__file__))
V2 = "application/x-protobuf;proto=io.prometheus.write.v2.Request"


def compile_proto():
    out = tempfile.mkdtemp(prefix="rw2-proto-")
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{HERE}", f"--python_out={out}",
                    os.path.join(HERE, "types.proto")], check=True)
    sys.path.insert(0, out)
    import types_pb2  # noqa: E402
    return types_pb2


pb = compile_proto()


class Symbols:
    """The request's string table; symbols[0] is "" as the spec requires."""

    def __init__(self):
        self.table, self.index = [""], {"": 0}

    def ref(self, s):
        if s not in self.index:
            self.index[s] = len(self.table)
            self.table.append(s)
        return self.index[s]

    def refs(self, labels):
        return [r for k, v in sorted(labels.items()) for r in (self.ref(k), self.ref(v))]


def post(base, request, content_type=V2):
    body = bytes(cramjam.snappy.compress_raw(request.SerializeToString()))
    req = urllib.request.Request(base + "/api/v1/write", data=body, method="POST", headers={
        "Content-Type": content_type, "Content-Encoding": "snappy",
        "X-Prometheus-Remote-Write-Version": "2.0.0"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def query(base, q, at):
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": f"{at / 1000:.3f}"})
    with urllib.request.urlopen(url, timeout=30) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]["result"]


def written(headers):
    get = lambda k: headers.get(f"X-Prometheus-Remote-Write-{k}-Written")
    return get("Samples"), get("Histograms"), get("Exemplars")


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def close(a, b):
    return float(a) == float(b) or abs(float(a) - float(b)) <= 1e-12 * max(abs(float(a)), abs(float(b)))


def exp_bounds(schema, index):
    """Bucket `index` of exponential `schema`: (2^((index-1)/2^schema), 2^(index/2^schema)]."""
    return 2 ** ((index - 1) / 2**schema), 2 ** (index / 2**schema)


def expected_buckets(schema, zero_threshold, zero_count, pos, neg, custom=()):
    """The Prometheus JSON API's buckets ([boundary, lower, upper, count], empty ones left
    out, negative first) for absolute counts `pos`/`neg` keyed by bucket index."""
    out = []
    for i in sorted(neg, reverse=True):
        lo, hi = exp_bounds(schema, i)
        out.append([1, -hi, -lo, neg[i]])  # negative buckets are [lower, upper)
    if zero_count:
        out.append([3, -zero_threshold, zero_threshold, zero_count])
    for i in sorted(pos):
        boundary = 0  # (lower, upper]
        if schema == -53:
            lo = -math.inf if i == 0 else custom[i - 1]
            hi = custom[i] if i < len(custom) else math.inf
            if i == 0:
                boundary = 3  # Prometheus closes the first custom bucket: [-Inf, upper]
        else:
            lo, hi = exp_bounds(schema, i)
        out.append([boundary, lo, hi, pos[i]])
    return [b for b in out if b[3] != 0]


def same_buckets(got, want):
    if len(got) != len(want):
        return False
    for g, w in zip(got, want):
        if g[0] != w[0] or not all(close(x, y) for x, y in zip(g[1:], w[1:])):
            return False
    return True


def spans_of(indices):
    spans, prev = [], None
    for i in indices:
        if prev is not None and i == prev + 1:
            spans[-1][1] += 1
        else:
            spans.append([i if prev is None else i - prev - 1, 1])
        prev = i
    return [pb.BucketSpan(offset=o, length=n) for o, n in spans]


def int_histogram(ts, schema, zt, zero_count, pos, neg=None, total_sum=0.0, custom=()):
    neg = neg or {}
    deltas = lambda d: [d[k] - (d[p] if j else 0) for j, (p, k) in enumerate(zip([None] + sorted(d)[:-1], sorted(d)))]
    h = pb.Histogram(count_int=zero_count + sum(pos.values()) + sum(neg.values()), sum=total_sum,
                     schema=schema, zero_threshold=zt, zero_count_int=zero_count,
                     positive_spans=spans_of(sorted(pos)), positive_deltas=deltas(pos),
                     negative_spans=spans_of(sorted(neg)), negative_deltas=deltas(neg),
                     timestamp=ts, custom_values=list(custom))
    return h


def main(base):
    now = int(time.time() * 1000)
    t1, t2 = now - 20_000, now - 10_000
    sym = Symbols()
    req = pb.Request()

    # A counter with metadata, start timestamps and an exemplar.
    ts = req.timeseries.add(labels_refs=sym.refs({"__name__": "rw2_requests_total", "job": "rw2"}))
    ts.samples.add(value=5, timestamp=t1, start_timestamp=now - 60_000)
    ts.samples.add(value=8, timestamp=t2, start_timestamp=now - 60_000)
    ts.exemplars.add(labels_refs=sym.refs({"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736"}), value=0.25, timestamp=t2)
    ts.metadata.type = pb.Metadata.METRIC_TYPE_COUNTER
    ts.metadata.help_ref = sym.ref("Requests served.")
    ts.metadata.unit_ref = sym.ref("")

    # An integer native histogram: schema 2, a zero bucket, negative and positive buckets.
    lat = {"pos": {0: 3, 1: 4, 5: 2}, "neg": {-1: 1}, "zero": 2}
    ts = req.timeseries.add(labels_refs=sym.refs({"__name__": "rw2_latency_seconds", "job": "rw2"}))
    for t in (t1, t2):
        ts.histograms.append(int_histogram(t, 2, 0.001, lat["zero"], lat["pos"], lat["neg"], 3.5))
        ts.histograms[-1].start_timestamp = now - 60_000

    # A float histogram (absolute counts), a gauge.
    ts = req.timeseries.add(labels_refs=sym.refs({"__name__": "rw2_ratio", "job": "rw2"}))
    ts.histograms.add(count_float=4.0, sum=7.25, schema=0, zero_threshold=0.0, zero_count_float=0.0,
                      positive_spans=[pb.BucketSpan(offset=1, length=3)], positive_counts=[1.5, 0, 2.5],
                      reset_hint=pb.Histogram.RESET_HINT_GAUGE, timestamp=t2)

    # A custom-bucket histogram (schema -53, Prometheus's NHCB).
    custom = [0.1, 0.5, 1.0]
    nhcb = {0: 1, 1: 2, 2: 2, 3: 1}
    ts = req.timeseries.add(labels_refs=sym.refs({"__name__": "rw2_nhcb_seconds", "job": "rw2"}))
    ts.histograms.append(int_histogram(t2, -53, 0.0, 0, nhcb, total_sum=2.4, custom=custom))

    req.symbols.extend(sym.table)
    status, headers, body = post(base, req)
    expect(status == 204, f"a valid v2 request: HTTP {status}: {body}")
    expect(written(headers) == ("2", "4", "1"), f"written headers {written(headers)}, want samples 2, histograms 4, exemplars 1")
    print("ok   v2 request: 204, written 2 samples, 4 histograms, 1 exemplar")

    got = query(base, "rw2_requests_total", t2)
    expect(len(got) == 1 and got[0]["value"][1] == "8", f"rw2_requests_total: {got}")
    h = query(base, "rw2_latency_seconds", t2)
    expect(len(h) == 1 and "histogram" in h[0], f"rw2_latency_seconds: {h}")
    hv = h[0]["histogram"][1]
    expect(hv["count"] == "12" and hv["sum"] == "3.5", f"count/sum {hv}")
    want = expected_buckets(2, 0.001, 2, lat["pos"], lat["neg"])
    expect(same_buckets(hv["buckets"], want), f"buckets {hv['buckets']}, want {want}")
    r = query(base, "rw2_ratio", t2)[0]["histogram"][1]
    expect(r["count"] == "4" and r["sum"] == "7.25"
           and same_buckets(r["buckets"], expected_buckets(0, 0, 0, {1: 1.5, 3: 2.5}, {})), f"rw2_ratio {r}")
    n = query(base, "rw2_nhcb_seconds", t2)[0]["histogram"][1]
    expect(same_buckets(n["buckets"], expected_buckets(-53, 0, 0, nhcb, {}, custom)), f"rw2_nhcb_seconds {n}")
    # Start timestamps: a zero sample (an empty histogram) at the first sample's start, as
    # Prometheus's start-timestamp zero ingestion stores it; the second's start is older
    # than the series' newest sample and is dropped, counted as not stored.
    raw = query(base, "rw2_requests_total[2m]", t2)
    got = [(int(round(float(t) * 1000)), v) for t, v in raw[0]["values"]] if raw else []
    expect(got == [(now - 60_000, "0"), (t1, "5"), (t2, "8")], f"rw2_requests_total[2m] with its start: {got}")
    raw = query(base, "rw2_latency_seconds[2m]", t2)
    hs = raw[0]["histograms"] if raw else []
    expect([int(round(float(t) * 1000)) for t, _ in hs] == [now - 60_000, t1, t2]
           and hs[0][1]["count"] == "0" and "buckets" not in hs[0][1], f"rw2_latency_seconds[2m] with its start: {hs}")
    inc = query(base, "increase(rw2_requests_total[70s])", t2)
    # From the zero sample: 8 (without it, 5 to 8 extrapolated over the window: 4.5).
    expect(len(inc) == 1 and float(inc[0]["value"][1]) == 8.0, f"increase counts from the zero sample: {inc}")
    print("ok   start timestamps: zero sample and empty histogram stored before the first samples")
    rate = query(base, "histogram_count(increase(rw2_latency_seconds[15s]))", t2)
    expect(len(rate) == 1 and float(rate[0]["value"][1]) == 0.0, f"no increase between equal histograms: {rate}")
    print("ok   read back: floats, integer, float and custom-bucket histograms exactly")

    # A partly bad request: one good float series, one histogram whose spans hold 2 buckets
    # but which has 3 deltas. The good series is stored; the answer says why the other was not.
    sym = Symbols()
    bad = pb.Request()
    ts = bad.timeseries.add(labels_refs=sym.refs({"__name__": "rw2_partial", "job": "rw2"}))
    ts.samples.add(value=1, timestamp=t2)
    ts = bad.timeseries.add(labels_refs=sym.refs({"__name__": "rw2_broken", "job": "rw2"}))
    hb = int_histogram(t2, 0, 0.0, 0, {0: 1, 1: 1})
    hb.positive_deltas.append(1)
    hb.count_int = 3
    ts.histograms.append(hb)
    bad.symbols.extend(sym.table)
    status, headers, body = post(base, bad)
    expect(status == 400, f"a partly bad request: HTTP {status}: {body}")
    expect(written(headers)[:2] == ("1", "0"), f"partial write headers {written(headers)}")
    expect("rw2_broken" in body, f"the 400 names the refused series: {body}")
    expect(len(query(base, "rw2_partial", t2)) == 1, "the good series of a partly bad request is stored")
    expect(query(base, "rw2_broken", t2) == [], "the bad histogram is not stored")
    print(f"ok   partly bad request: 400 ({body.strip()[:120]}), good series stored")

    # A label reference past the symbol table.
    sym = Symbols()
    bad = pb.Request()
    ts = bad.timeseries.add(labels_refs=[sym.ref("__name__"), 99])
    ts.samples.add(value=1, timestamp=t2)
    bad.symbols.extend(sym.table)
    status, headers, body = post(base, bad)
    expect(status == 400 and "99" in body, f"a reference past the symbols: HTTP {status}: {body}")
    print("ok   bad symbol reference: 400")

    status, _, body = post(base, req, "application/x-protobuf;proto=io.prometheus.write.v3.Request")
    expect(status == 415, f"an unknown proto: HTTP {status}: {body}")
    print("ok   unknown proto: 415")

    with urllib.request.urlopen(base + "/metrics", timeout=30) as r:
        metrics = r.read().decode()
    lines = [l for l in metrics.splitlines() if "invalid_histogram" in l and not l.startswith("#")]
    expect(lines and any(float(l.rsplit(" ", 1)[1]) >= 1 for l in lines), f"invalid_histogram counted: {lines}")
    print("ok   the refusal is counted: " + lines[0])
    lines = [l for l in metrics.splitlines() if "start_timestamp_not_stored" in l and not l.startswith("#")]
    expect(len(lines) == 1 and float(lines[0].rsplit(" ", 1)[1]) == 2, f"2 start timestamps not stored: {lines}")
    print("ok   start timestamps dropped are counted: " + lines[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1].rstrip("/")))
