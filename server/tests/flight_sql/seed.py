"""HTTP side of the Flight SQL tests: OTLP/JSON writes that give every SQL table rows
(samples, series, metrics, exemplars, histograms, histogram_buckets from /v1/metrics; spans
from /v1/traces; logs from /v1/logs), and /api/v1/sql answered as an Arrow IPC stream,
the reference the Flight results are compared with. Standard library and pyarrow only."""

import json
import time
import urllib.error
import urllib.request

import pyarrow as pa

ARROW = "application/vnd.apache.arrow.stream"


def post(http, path, body, headers=None):
    """(status, body bytes) of a POST to the server's HTTP listener."""
    req = urllib.request.Request(f"http://{http}{path}", data=body, method="POST")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def get(http, path):
    with urllib.request.urlopen(f"http://{http}{path}", timeout=30) as r:
        return r.read().decode()


def sql_arrow(http, sql, headers=None):
    """/api/v1/sql's answer as a pyarrow Table (asserting a 200)."""
    h = {"Accept": ARROW, "Content-Type": "text/plain"}
    h.update(headers or {})
    status, body = post(http, "/api/v1/sql", sql.encode(), h)
    if status != 200:
        raise AssertionError(f"/api/v1/sql {sql!r}: {status} {body[:300]!r}")
    return pa.ipc.open_stream(body).read_all()


def sql_count(http, table, headers=None):
    t = sql_arrow(http, f"SELECT count(*) AS n FROM {table}", headers)
    return t.column("n")[0].as_py()


def attrs(**kv):
    return [{"key": k.replace("_", "."), "value": {"stringValue": v}} for k, v in kv.items()]


def hexid(seed, n):
    """A non-zero hex id of n bytes."""
    return bytes(((seed * 31 + i * 7) % 251) + 1 for i in range(n)).hex()


def write_otlp(http, path, doc, headers=None):
    h = {"Content-Type": "application/json"}
    h.update(headers or {})
    status, body = post(http, path, json.dumps(doc).encode(), h)
    if status != 200:
        raise AssertionError(f"POST {path}: {status} {body[:300]!r}")
    answer = json.loads(body or b"{}")
    partial = answer.get("partialSuccess") or {}
    if any(str(v) not in ("0", "") for k, v in partial.items() if k.startswith("rejected")):
        raise AssertionError(f"POST {path}: {answer}")


class Seeded:
    """What seed() wrote for one tenant: names and exact row counts of the tables whose
    counts follow from the input alone."""

    def __init__(self, prefix, spans, logs, histograms, exemplars, points):
        self.prefix = prefix
        self.spans = spans
        self.logs = logs
        self.histograms = histograms
        self.exemplars = exemplars
        self.points = points  # float points sent (gauge + sum)


def seed(http, prefix, headers=None, n=4):
    """Writes n points of a gauge, of a counter with an exemplar each, and of an
    exponential histogram; n spans; n log records. Metric names, span names and log bodies
    start with `prefix` (tenant isolation is checked by name)."""
    now = time.time_ns()
    t = [now - (n - i) * 1_000_000_000 for i in range(n)]
    resource = {"attributes": attrs(service_name=f"{prefix}-svc")}
    metrics = {
        "resourceMetrics": [
            {
                "resource": resource,
                "scopeMetrics": [
                    {
                        "metrics": [
                            {
                                "name": f"{prefix}_temperature",
                                "gauge": {
                                    "dataPoints": [
                                        {"asDouble": 20.25 + i, "timeUnixNano": str(t[i]), "attributes": attrs(room="r1")}
                                        for i in range(n)
                                    ]
                                },
                            },
                            {
                                "name": f"{prefix}_jobs_done",
                                "sum": {
                                    "aggregationTemporality": 2,
                                    "isMonotonic": True,
                                    "dataPoints": [
                                        {
                                            "asInt": str(100 + i),
                                            "timeUnixNano": str(t[i]),
                                            "exemplars": [
                                                {
                                                    "asInt": str(i + 1),
                                                    "timeUnixNano": str(t[i]),
                                                    "traceId": hexid(i, 16),
                                                    "spanId": hexid(i, 8),
                                                }
                                            ],
                                        }
                                        for i in range(n)
                                    ],
                                },
                            },
                            {
                                "name": f"{prefix}_latency",
                                "unit": "s",
                                "exponentialHistogram": {
                                    "aggregationTemporality": 2,
                                    "dataPoints": [
                                        {
                                            "timeUnixNano": str(t[i]),
                                            "count": str(3 + 2 * i),
                                            "sum": 2.5 + i,
                                            "scale": 0,
                                            "zeroCount": "1",
                                            "positive": {"offset": 0, "bucketCounts": [str(2 + i), str(i)]},
                                        }
                                        for i in range(n)
                                    ],
                                },
                            },
                        ]
                    }
                ],
            }
        ]
    }
    write_otlp(http, "/v1/metrics", metrics, headers)
    spans = {
        "resourceSpans": [
            {
                "resource": resource,
                "scopeSpans": [
                    {
                        "scope": {"name": f"{prefix}-scope", "version": "1.0"},
                        "spans": [
                            {
                                "traceId": hexid(100 + i, 16),
                                "spanId": hexid(100 + i, 8),
                                "name": f"{prefix}-op-{i}",
                                "kind": 2,
                                "startTimeUnixNano": str(t[i]),
                                "endTimeUnixNano": str(t[i] + 1_000_000 * (i + 1)),
                                "attributes": attrs(http_route=f"/r/{i}"),
                                "status": {"code": 1},
                            }
                            for i in range(n)
                        ],
                    }
                ],
            }
        ]
    }
    write_otlp(http, "/v1/traces", spans, headers)
    logs = {
        "resourceLogs": [
            {
                "resource": resource,
                "scopeLogs": [
                    {
                        "scope": {"name": f"{prefix}-scope"},
                        "logRecords": [
                            {
                                "timeUnixNano": str(t[i]),
                                "observedTimeUnixNano": str(t[i] + 5),
                                "severityNumber": 9 + i,
                                "severityText": "INFO",
                                "body": {"stringValue": f"{prefix} log line {i}"},
                                "attributes": attrs(user=f"u{i}"),
                                "traceId": hexid(100 + i, 16),
                                "spanId": hexid(100 + i, 8),
                            }
                            for i in range(n)
                        ],
                    }
                ],
            }
        ]
    }
    write_otlp(http, "/v1/logs", logs, headers)
    return Seeded(prefix, spans=n, logs=n, histograms=n, exemplars=n, points=2 * n)


SAMPLES = 50 * 2000


def seed_many_samples(http, series=50, points=2000):
    """series x points gauge samples in one OTLP/JSON request (for the large result)."""
    now = time.time_ns()
    step = 1_000_000_000
    start = now - points * step
    dps = []
    for s in range(series):
        for p in range(points):
            dps.append({"asDouble": s * 1e4 + p + 0.5, "timeUnixNano": str(start + p * step), "attributes": attrs(shard=f"s{s}")})
    doc = {"resourceMetrics": [{"resource": {"attributes": attrs(service_name="bulk")}, "scopeMetrics": [{"metrics": [{"name": "bulk_gauge", "gauge": {"dataPoints": dps}}]}]}]}
    write_otlp(http, "/v1/metrics", doc)
    return series * points
