"""Seed data for the console's browser tests, written through the server's own ingest APIs
(OTLP/HTTP JSON for metrics and traces, Loki's push JSON for logs), and the facts the
checks assert, as a dict (`data` in `run(c, data)`).

Metrics: one point every 15 s over the last 30 min.
- `console_requests_total` (monotonic sum, job="api"): 120 series, pod-0..pod-119: the
  largest metric.
- `console_temperature` (gauge, job="sensors"): 3 series, room a/b/c.
- `up` (gauge): 2 series, job="api", instance i-1/i-2.
Traces: one trace `trace_id` (frontend `GET /checkout` 120 ms -> payments `charge` 80 ms,
error -> payments `db query` 30 ms) and 10 traces of frontend `GET /home` (5-20 ms).
Logs: 50 lines of {service_name="frontend", level=info|error}; the one error line says
`checkout failed trace_id=<trace_id>` and carries `trace_id` as structured metadata.
"""
import json
import time
import urllib.request

TRACE_ID = "5b8efff798038103d269b633813fc60c"
POD_SERIES = 120
STEP_S = 15
SPAN_S = 30 * 60


def post(base, path, body, headers=None):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(), method="POST")
    req.add_header("Content-Type", "application/json")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    with urllib.request.urlopen(req, timeout=30) as r:
        r.read()
        return r.status


def attrs(d):
    return [{"key": k, "value": {"stringValue": v}} for k, v in d.items()]


def metrics(now_s):
    times = list(range(now_s - SPAN_S, now_s + 1, STEP_S))

    def points(labels, value_at):
        return [{"attributes": attrs(labels), "timeUnixNano": str(t * 10**9),
                 "startTimeUnixNano": str((now_s - SPAN_S - 60) * 10**9),
                 "asDouble": value_at(i)} for i, t in enumerate(times)]

    requests = {"name": "console_requests_total", "sum": {
        "aggregationTemporality": 2, "isMonotonic": True,
        "dataPoints": [p for pod in range(POD_SERIES)
                       for p in points({"pod": f"pod-{pod}"}, lambda i, pod=pod: float(i * (pod % 7 + 1)))]}}
    temperature = {"name": "console_temperature", "gauge": {"dataPoints": [
        p for room in "abc" for p in points({"room": room}, lambda i, room=room: 20.0 + ord(room) % 5 + (i % 4) / 2)]}}

    def up(instance):
        return {"resource": {"attributes": attrs({"service.name": "api", "service.instance.id": instance})},
                "scopeMetrics": [{"metrics": [{"name": "up", "gauge": {"dataPoints": points({}, lambda i: 1.0)}}]}]}

    return {"resourceMetrics": [
        {"resource": {"attributes": attrs({"service.name": "api"})},
         "scopeMetrics": [{"metrics": [requests]}]},
        {"resource": {"attributes": attrs({"service.name": "sensors"})},
         "scopeMetrics": [{"metrics": [temperature]}]},
        up("i-1"), up("i-2"),
    ]}


def traces(now_ns):
    def span(trace, sid, parent, name, start, ms, kind=2, error=False, a=None):
        s = {"traceId": trace, "spanId": sid, "name": name, "kind": kind,
             "startTimeUnixNano": str(start), "endTimeUnixNano": str(start + ms * 10**6),
             "attributes": attrs(a or {}), "status": {"code": 2, "message": "card declined"} if error else {}}
        if parent:
            s["parentSpanId"] = parent
        return s

    t0 = now_ns - 5 * 60 * 10**9
    frontend = [span(TRACE_ID, "a1a1a1a1a1a1a1a1", None, "GET /checkout", t0, 120,
                     a={"http.route": "/checkout", "http.response.status_code": "500"})]
    payments = [
        span(TRACE_ID, "b2b2b2b2b2b2b2b2", "a1a1a1a1a1a1a1a1", "charge", t0 + 20 * 10**6, 80,
             error=True, a={"payment.provider": "acme"}),
        span(TRACE_ID, "c3c3c3c3c3c3c3c3", "b2b2b2b2b2b2b2b2", "db query", t0 + 40 * 10**6, 30,
             kind=3, a={"db.system": "postgresql"}),
    ]
    for i in range(10):
        trace = f"{i + 1:032x}"
        frontend.append(span(trace, f"{i + 1:016x}", None, "GET /home",
                             t0 + (i + 1) * 10**9, 5 + i * 15 // 9, a={"http.route": "/home"}))

    def rs(service, spans):
        return {"resource": {"attributes": attrs({"service.name": service})},
                "scopeSpans": [{"scope": {"name": "console-seed"}, "spans": spans}]}

    return {"resourceSpans": [rs("frontend", frontend), rs("payments", payments)]}


def logs(now_ns):
    info, error = [], []
    for i in range(49):
        info.append([str(now_ns - (60 - i) * 10**9), f"GET /home 200 in {5 + i % 9}ms request={i}"])
    error.append([str(now_ns - 5 * 60 * 10**9 + 10**8), f"checkout failed trace_id={TRACE_ID}",
                  {"trace_id": TRACE_ID}])
    return {"streams": [
        {"stream": {"service_name": "frontend", "level": "info"}, "values": info},
        {"stream": {"service_name": "frontend", "level": "error"}, "values": error},
    ]}


def seed(base, headers=None):
    """Writes the seed data to the server at `base` (for the tenant `headers` select) and
    returns the facts the checks assert."""
    now_s = int(time.time())
    now_ns = now_s * 10**9
    for path, body in [("/v1/metrics", metrics(now_s)), ("/v1/traces", traces(now_ns)),
                       ("/loki/api/v1/push", logs(now_ns))]:
        status = post(base, path, body, headers)
        assert status in (200, 204), f"{path}: {status}"
    return {
        "now": now_s * 1000,
        "top_metric": "console_requests_total",
        "top_metric_series": POD_SERIES,
        "metric_series": {"console_requests_total": POD_SERIES, "console_temperature": 3, "up": 2},
        "trace_id": TRACE_ID,
        "trace_spans": 3,
        "frontend_traces": 11,
        "log_lines": 50,
        "log_selector": '{service_name="frontend"}',
    }
