#!/usr/bin/env python3
"""`[otlp] delta_to_cumulative` with the OpenTelemetry Python SDK: run by
server/tests/otel_delta.rs.

    export.py CUMULATIVE_BASE DELTA_BASE

The same values are recorded twice: once exported with cumulative temporality to a default
`strata serve`, once with delta temporality to one with the option. Three exports each
(OTLP/HTTP protobuf): a counter, an explicit-bucket histogram and an exponential
histogram. Then both servers hold the same values: the counter's, every `_bucket`, `_sum`
and `_count` series of the explicit histogram, and the exponential one's native histogram
(count and sum; its buckets are at the delta exports' finer scale, each within one bucket of
the cumulative export's coarser one with the same counts there), each with three samples;
and the delta server counts the samples it made cumulative.
"""
import json
import sys
import urllib.parse
import urllib.request

from opentelemetry.sdk.metrics import Counter, Histogram, MeterProvider
from opentelemetry.sdk.metrics.export import AggregationTemporality, PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import (ExplicitBucketHistogramAggregation,
                                            ExponentialBucketHistogramAggregation, View)
from opentelemetry.sdk.resources import Resource
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

ROUNDS = [
    ([1, 2], [0.02, 0.3], [3.0, 40.0]),
    ([5], [0.7, 0.004, 2.5], [0.5]),
    ([3, 3, 1], [0.09], [1000.0, 7.0, 7.5]),
]


def query(base, q):
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=30) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return {json.dumps(s["metric"], sort_keys=True): s.get("value", s.get("histogram"))[1] for s in body["data"]["result"]}


def coarse(result, onto=None):
    """A native histogram result as (count, sum, counts per bucket of `onto`'s layout)."""
    out = {}
    for k, h in result.items():
        ref = (onto or {}).get(k) if onto else None
        ref_buckets = ref[2] if ref else [(float(b[1]), float(b[2])) for b in h["buckets"]]
        counts = [0] * len(ref_buckets)
        for b in h["buckets"]:
            lo, hi, n = float(b[1]), float(b[2]), int(float(b[3]))
            at = [i for i, (l2, h2) in enumerate(ref_buckets) if l2 <= lo * (1 + 1e-12) and hi <= h2 * (1 + 1e-12)]
            assert len(at) == 1, f"bucket ({lo}, {hi}] in {ref_buckets}"
            counts[at[0]] += n
        out[k] = (h["count"], h["sum"], ref_buckets, counts)
    return out


def export(base, temporality):
    exporter = OTLPMetricExporter(endpoint=base + "/v1/metrics",
                                  preferred_temporality={Counter: temporality, Histogram: temporality})
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    views = [View(instrument_name="dc_latency", aggregation=ExplicitBucketHistogramAggregation(boundaries=[0.01, 0.1, 1.0])),
             View(instrument_name="dc_size", aggregation=ExponentialBucketHistogramAggregation(max_size=40))]
    meters = MeterProvider(resource=Resource.create({"service.name": "delta-test"}), metric_readers=[reader], views=views)
    m = meters.get_meter("delta-test")
    requests, latency, size = m.create_counter("dc_requests"), m.create_histogram("dc_latency", unit="s"), m.create_histogram("dc_size", unit="By")
    for i, (reqs, lats, sizes) in enumerate(ROUNDS):
        for v in reqs:
            requests.add(v)
        for v in lats:
            latency.record(v)
        for v in sizes:
            size.record(v)
        if i < len(ROUNDS) - 1:
            assert meters.force_flush(), f"{base}: export failed"
    meters.shutdown()


def main(cumulative, delta):
    export(cumulative, AggregationTemporality.CUMULATIVE)
    export(delta, AggregationTemporality.DELTA)
    checked = 0
    for q in ["dc_requests_total", "dc_latency_seconds_bucket", "dc_latency_seconds_sum",
              "dc_latency_seconds_count", "dc_size_bytes"]:
        a, b = query(cumulative, q), query(delta, q)
        if q == "dc_size_bytes":
            a = coarse(a)
            b = coarse(b, a)
        assert a and a == b, f"{q}: cumulative {a}\ndelta {b}"
        n = query(delta, f"count_over_time({q}[1h])")
        assert set(n.values()) == {"3"}, f"{q}: three samples each: {n}"
        checked += len(a)
    print(f"ok   {checked} series equal to the cumulative export's, three samples each")
    with urllib.request.urlopen(delta + "/metrics", timeout=30) as r:
        text = r.read().decode()
    lines = [l for l in text.splitlines() if l.startswith("strata_otlp_delta_converted_samples_total")]
    assert lines and float(lines[0].rsplit(" ", 1)[1]) > 0, lines
    print(f"ok   counted: {lines[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/")))
