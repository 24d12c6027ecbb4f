"""Sends spans with the OpenTelemetry Python SDK over OTLP/HTTP protobuf, for
`server/tests/derived_metrics.rs`.

    python3 sdk_spans.py <http base url> <tenant> <mode>

Modes:
- graph: services `a` and `b`, two TracerProviders. PAIRS times, `a` makes a CLIENT span
  "GET /checkout" (30 ms, status OK) and, as its child through the context, `b` makes a
  SERVER span "handle" (10 ms; status ERROR for the first FAILED, unset for the rest). Then
  one CLIENT span "charge" of `a` (20 ms) with peer.service=payments-api and no child.
- names: service `c`, NAMES INTERNAL spans named op-0 .. op-9, in that order, in one request.
- one: service `d`, one INTERNAL span "solo".
"""

import sys
import time

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, set_span_in_context

PAIRS = 12
FAILED = 3
NAMES = 10
MS = 1_000_000

base, tenant, mode = sys.argv[1:4]


def provider(service, batch=False):
    exporter = OTLPSpanExporter(
        endpoint=base + "/v1/traces", headers={"X-Scope-OrgID": tenant}, timeout=10
    )
    p = TracerProvider(resource=Resource.create({"service.name": service}))
    # Simple: one export per span, so each half of an edge comes in its own request.
    p.add_span_processor(BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter))
    return p


def graph():
    pa, pb = provider("a"), provider("b")
    ta, tb = pa.get_tracer("shop"), pb.get_tracer("backend")
    t = time.time_ns()
    for i in range(PAIRS):
        start = t + i * 100 * MS
        client = ta.start_span("GET /checkout", kind=SpanKind.CLIENT, start_time=start)
        ctx = set_span_in_context(client)
        server = tb.start_span("handle", context=ctx, kind=SpanKind.SERVER, start_time=start + 5 * MS)
        if i < FAILED:
            server.set_status(Status(StatusCode.ERROR, "boom"))
        server.end(end_time=start + 15 * MS)
        client.set_status(Status(StatusCode.OK))
        client.end(end_time=start + 30 * MS)
    charge = ta.start_span(
        "charge",
        kind=SpanKind.CLIENT,
        attributes={"peer.service": "payments-api"},
        start_time=t,
    )
    charge.end(end_time=t + 20 * MS)
    pa.shutdown()
    pb.shutdown()


def names():
    p = provider("c", batch=True)
    tc = p.get_tracer("ops")
    t = time.time_ns()
    for i in range(NAMES):
        s = tc.start_span(f"op-{i}", kind=SpanKind.INTERNAL, start_time=t + i * MS)
        s.end(end_time=t + i * MS + MS)
    p.force_flush()
    p.shutdown()


def one():
    p = provider("d")
    t = time.time_ns()
    s = p.get_tracer("solo").start_span("solo", kind=SpanKind.INTERNAL, start_time=t)
    s.end(end_time=t + 5 * MS)
    p.shutdown()


{"graph": graph, "names": names, "one": one}[mode]()
