#!/usr/bin/env python3
"""The OpenTelemetry Python SDK exporting exponential histograms to a real `strata serve`,
over OTLP/gRPC and OTLP/HTTP protobuf: run by server/tests/otel_exphist.rs.

    export.py HTTP_BASE GRPC_ENDPOINT

Per transport (its own `service.name`, so its own `job`), two instruments with an
`ExponentialBucketHistogramAggregation` view:
- `exphist_narrow`: values within 0.01% of 1, so the SDK keeps its maximum scale 20; Strata
  stores schema 8 (Prometheus's OTLP translator downscales every scale above 8, merging
  buckets);
- `exphist_wide`: values from 0.003 to 3000 and two zeros, so the SDK lowers the scale until
  the buckets fit in `max_size`.
Two exports (cumulative), then the newest sample of each read back through the Prometheus
API must equal what the spec says: schema min(SDK scale, 8), bucket (2^((i-1)/2^s), 2^(i/2^s)]
per value, the zero bucket of width 1e-128 (Prometheus's fixed zero threshold) holding the
zeros, exact count and sum, and a range query shows both exports. Then a delta-temporality
export is refused (Strata's rule for delta histograms, counted on /metrics) and stores
nothing. The expected values are computed here from the recorded values, not read from the
server.
"""
import json
import math
import sys
import time
import urllib.parse
import urllib.request

from opentelemetry.sdk.metrics import Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource

MAX_SIZE, MAX_SCALE = 160, 20
NARROW_1 = [1.00001, 1.00002, 1.00005]
NARROW_2 = [1.00009, 1.00003, 1.00007, 1.000015]
WIDE_1 = [0.003, 0.02, 0.5, 0.0]
WIDE_2 = [7.0, 120.0, 3000.0, 0.0, 0.75]


def index(v, scale):
    """The bucket holding v > 0 at `scale`: the i with 2^((i-1)/2^s) < v <= 2^(i/2^s)."""
    i = math.ceil(math.log2(v) * 2**scale)
    while v > 2 ** (i / 2**scale):
        i += 1
    while v <= 2 ** ((i - 1) / 2**scale):
        i -= 1
    return i


def sdk_scale(values):
    """The scale the SDK ends at: the largest <= MAX_SCALE whose buckets fit in MAX_SIZE."""
    pos = [v for v in values if v > 0]
    for s in range(MAX_SCALE, -11, -1):
        idx = [index(v, s) for v in pos]
        if max(idx) - min(idx) + 1 <= MAX_SIZE:
            return s
    raise AssertionError("no scale fits")


def expected(values):
    schema = min(sdk_scale(values), 8)
    counts = {}
    for v in values:
        if v > 0:
            i = index(v, schema)
            counts[i] = counts.get(i, 0) + 1
    zeros = sum(1 for v in values if v == 0)
    buckets = [[3, -1e-128, 1e-128, zeros]] if zeros else []
    buckets += [[0, 2 ** ((i - 1) / 2**schema), 2 ** (i / 2**schema), counts[i]] for i in sorted(counts)]
    return schema, len(values), math.fsum(values), buckets


def close(a, b):
    a, b = float(a), float(b)
    return a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b))


def query(base, q, params=None):
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": q, **(params or {})})
    with urllib.request.urlopen(url, timeout=30) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]["result"]


def provider(transport, endpoint, service, temporality):
    if transport == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        exporter = OTLPMetricExporter(endpoint=endpoint, insecure=True,
                                      preferred_temporality={Histogram: temporality})
    else:
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        exporter = OTLPMetricExporter(endpoint=endpoint, preferred_temporality={Histogram: temporality})
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    view = View(instrument_name="exphist_*",
                aggregation=ExponentialBucketHistogramAggregation(max_size=MAX_SIZE, max_scale=MAX_SCALE))
    return MeterProvider(resource=Resource.create({"service.name": service}), metric_readers=[reader], views=[view])


def check(base, name, job, values):
    schema, count, total, buckets = expected(values)
    got = query(base, f'{name}{{job="{job}"}}')
    assert len(got) == 1 and "histogram" in got[0], f"{name} {job}: {got}"
    h = got[0]["histogram"][1]
    assert close(h["count"], count) and close(h["sum"], total), f"{name} {job}: count/sum {h}, want {count}/{total}"
    assert len(h["buckets"]) == len(buckets), f"{name} {job}: {h['buckets']}\nwant {buckets}"
    for g, w in zip(h["buckets"], buckets):
        assert g[0] == w[0] and all(close(x, y) for x, y in zip(g[1:], w[1:])), f"{name} {job}: bucket {g}, want {w}"
    n = query(base, f'count_over_time({name}{{job="{job}"}}[1h])')
    assert n and n[0]["value"][1] == "2", f"{name} {job}: two exports stored: {n}"
    return schema


def main(base, grpc):
    for transport, endpoint in [("grpc", grpc), ("http", base + "/v1/metrics")]:
        job = f"exphist-{transport}"
        meters = provider(transport, endpoint, job, AggregationTemporality.CUMULATIVE)
        meter = meters.get_meter("exphist-test")
        narrow, wide = meter.create_histogram("exphist_narrow"), meter.create_histogram("exphist_wide")
        # Two exports: a forced one, and the one shutdown() makes.
        for i, (batch_n, batch_w) in enumerate([(NARROW_1, WIDE_1), (NARROW_2, WIDE_2)]):
            for v in batch_n:
                narrow.record(v)
            for v in batch_w:
                wide.record(v)
            if i == 0:
                assert meters.force_flush(), f"{transport}: export failed"
                time.sleep(0.01)
        meters.shutdown()
        s1 = check(base, "exphist_narrow", job, NARROW_1 + NARROW_2)
        s2 = check(base, "exphist_wide", job, WIDE_1 + WIDE_2)
        assert s1 == 8 and sdk_scale(NARROW_1 + NARROW_2) == MAX_SCALE, "the narrow one is downscaled from 20 to 8"
        print(f"ok   {transport}: exphist_narrow (SDK scale 20 -> schema {s1}), exphist_wide (schema {s2}) exact")

    # Delta temporality: refused and counted, nothing stored.
    meters = provider("http", base + "/v1/metrics", "exphist-delta", AggregationTemporality.DELTA)
    meters.get_meter("exphist-test").create_histogram("exphist_narrow").record(1.5)
    meters.shutdown()
    assert query(base, 'exphist_narrow{job="exphist-delta"}') == [], "a delta exponential histogram is not stored"
    with urllib.request.urlopen(base + "/metrics", timeout=30) as r:
        metrics = r.read().decode()
    lines = [l for l in metrics.splitlines() if not l.startswith("#") and "otlp" in l and "reject" in l and "metric" in l]
    assert any(float(l.rsplit(" ", 1)[1]) >= 1 for l in lines), f"the refused point is counted: {lines}"
    print("ok   delta temporality refused and counted")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1].rstrip("/"), sys.argv[2]))
