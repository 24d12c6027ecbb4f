#!/usr/bin/env python3
"""The OpenTelemetry Python SDK exporting an explicit-bucket histogram to two real `strata
serve`s: one as configured by default (classic `_bucket`, `_sum`, `_count` series), one with
`[otlp] convert_histograms_to_nhcb = true` (a native histogram with custom buckets). Run by
server/tests/otel_nhcb.rs.

    export.py CLASSIC_BASE NHCB_BASE

The same values are recorded for both (two exports each, cumulative, over OTLP/HTTP
protobuf). Then the NHCB server holds no classic series and one native histogram whose
buckets are the explicit bounds with the recorded counts, and every PromQL answer over it
(`histogram_quantile` at several quantiles, over the raw histogram and over `rate`,
`histogram_count`, `histogram_sum`) equals the classic server's answer over its buckets.
"""
import json
import sys
import urllib.parse
import urllib.request

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.metrics.view import ExplicitBucketHistogramAggregation, View
from opentelemetry.sdk.resources import Resource
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

BOUNDS = [0.005, 0.01, 0.1, 0.5, 1.0, 5.0]
FIRST = [0.003, 0.02, 0.07, 0.2, 0.2, 0.9]
SECOND = [0.004, 0.3, 0.45, 2.0, 7.5, 0.08, 0.06]


def query(base, q):
    url = base + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
    with urllib.request.urlopen(url, timeout=30) as r:
        body = json.load(r)
    assert body["status"] == "success", body
    return body["data"]["result"]


def export(base):
    exporter = OTLPMetricExporter(endpoint=base + "/v1/metrics")
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=3_600_000)
    view = View(instrument_name="nhcb_*", aggregation=ExplicitBucketHistogramAggregation(boundaries=BOUNDS))
    meters = MeterProvider(resource=Resource.create({"service.name": "nhcb-test"}),
                           metric_readers=[reader], views=[view])
    h = meters.get_meter("nhcb-test").create_histogram("nhcb_latency", unit="s")
    for v in FIRST:
        h.record(v)
    assert meters.force_flush(), f"{base}: export failed"
    for v in SECOND:
        h.record(v)
    meters.shutdown()


def value(result):
    assert len(result) == 1, result
    return float(result[0]["value"][1])


def main(classic, nhcb):
    export(classic)
    export(nhcb)
    assert query(nhcb, "nhcb_latency_seconds_bucket") == [], "no classic series with the option"
    got = query(nhcb, "nhcb_latency_seconds")
    assert len(got) == 1 and "histogram" in got[0], got
    h = got[0]["histogram"][1]
    values = FIRST + SECOND
    assert float(h["count"]) == len(values), h
    assert abs(float(h["sum"]) - sum(values)) < 1e-9, h
    edges = [float("-inf")] + BOUNDS + [float("inf")]
    want = []
    for lo, hi in zip(edges, edges[1:]):
        n = sum(1 for v in values if lo < v <= hi)
        if n:
            want.append((lo, hi, n))
    buckets = [(float(b[1]), float(b[2]), int(float(b[3]))) for b in h["buckets"]]
    # The first custom bucket's lower bound is -Inf, as Prometheus writes it.
    assert buckets == want, f"buckets {buckets}, want {want}"
    print(f"ok   NHCB buckets {buckets}")
    pairs = [("histogram_count(nhcb_latency_seconds)", "nhcb_latency_seconds_count"),
             ("histogram_sum(nhcb_latency_seconds)", "nhcb_latency_seconds_sum")]
    for q in (0.1, 0.5, 0.75, 0.9, 0.99):
        pairs.append((f"histogram_quantile({q}, nhcb_latency_seconds)",
                      f"histogram_quantile({q}, nhcb_latency_seconds_bucket)"))
        pairs.append((f"histogram_quantile({q}, rate(nhcb_latency_seconds[5m]))",
                      f"histogram_quantile({q}, rate(nhcb_latency_seconds_bucket[5m]))"))
    for native_q, classic_q in pairs:
        a, b = value(query(nhcb, native_q)), value(query(classic, classic_q))
        assert a == b or abs(a - b) <= 1e-12 * max(abs(a), abs(b)), f"{native_q} = {a}, {classic_q} = {b}"
    print(f"ok   {len(pairs)} PromQL answers over the NHCB equal the classic ones")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/")))
