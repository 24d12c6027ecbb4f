#!/usr/bin/env python3
"""The Tempo API's figures (issue 39) against a running `strata serve` that holds a span
dataset written by `gen-span-week.sh` (`run-spans-bench.sh --week-data DIR --tempo` runs it).

    tempo_bench.py --url http://127.0.0.1:19461 --ids IDS --end-ms MS [--hours 24] [--n 300]

1. Trace by id: `--n` present ids from IDS (`hex_id start_ms span_count` lines), each
   asked in turn through Jaeger's `GET /jaeger/api/traces/{id}` and Tempo's
   `GET /api/v2/traces/{id}` as OTLP JSON and as protobuf (what Grafana asks for), no
   start/end; which goes first rotates per id. Every answer must hold exactly the id's
   span count.
2. TraceQL: `{ resource.service.name = "S" && span.http.response.status_code >= 500 }` over
   the last `--hours` hours (ending at --end-ms), as Grafana's search sends it
   (`/api/search?q=&start=&end=&limit=20&spss=3`): `--rounds` rounds over the four services
   with HTTP server spans (5xx in every hour; each answer must hold 20 traces), and
   as many over the four without (no match: each answer must be empty; the hours are
   skipped by their spans summaries, or read where a file has none).
3. A TraceQL metrics query (`rate() by (resource.service.name)`, 5 m steps) over the same
   hours, for the record.

Prints one JSON object: p50/p90/p99 per measure and the counts checked.
"""
import argparse, http.client, json, random, statistics, sys, time, urllib.parse

# The generator's services (benches/src/span_gen.rs): four serve HTTP, four gRPC.
HTTP_SERVICES = ["frontend", "api-gateway", "catalog", "users"]
OTHER_SERVICES = ["cart", "checkout", "payment", "inventory"]


def pct(xs, p):
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(len(xs) * p))], 2) if xs else None


def summary(ms):
    return {"n": len(ms), "p50_ms": pct(ms, 0.5), "p90_ms": pct(ms, 0.9), "p99_ms": pct(ms, 0.99)}


class Client:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)

    def get(self, path, accept="application/json"):
        t0 = time.perf_counter()
        self.conn.request("GET", path, headers={"Accept": accept})
        r = self.conn.getresponse()
        body = r.read()
        return r.status, body, (time.perf_counter() - t0) * 1000


def jaeger_spans(body):
    return sum(len(t["spans"]) for t in json.loads(body)["data"])


def otlp_spans(body):
    d = json.loads(body)
    trace = d.get("trace", d)
    rs = trace.get("resourceSpans", trace.get("batches", []))
    return sum(len(ss.get("spans", [])) for r in rs for ss in r.get("scopeSpans", []))


def varint(b, i):
    n = shift = 0
    while True:
        n |= (b[i] & 0x7F) << shift
        i += 1
        if b[i - 1] < 0x80:
            return n, i
        shift += 7


def protobuf_spans(body):
    """Spans of a v2 `TraceByIDResponse` in protobuf: its field 1 is OTLP `TracesData`."""
    from opentelemetry.proto.trace.v1.trace_pb2 import TracesData
    i = 0
    while i < len(body):
        key, i = varint(body, i)
        if key & 7 == 2:
            n, i = varint(body, i)
            if key >> 3 == 1:
                t = TracesData.FromString(body[i:i + n])
                return sum(len(ss.spans) for r in t.resource_spans for ss in r.scope_spans)
            i += n
        elif key & 7 == 0:
            _, i = varint(body, i)
        else:
            raise ValueError("unexpected wire type %d" % (key & 7))
    return 0


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--url", required=True)
    a.add_argument("--ids", required=True)
    a.add_argument("--end-ms", type=int, required=True)
    a.add_argument("--hours", type=int, default=24)
    a.add_argument("--n", type=int, default=300)
    a.add_argument("--rounds", type=int, default=5)
    a.add_argument("--seed", type=int, default=1)
    o = a.parse_args()
    c = Client(o.url)
    ids = [l.split() for l in open(o.ids) if l.strip()]
    start_ms = o.end_ms - o.hours * 3600_000
    ids = [i for i in ids if int(i[1]) >= start_ms] or ids
    rng = random.Random(o.seed)
    pick = [ids[k * len(ids) // o.n] for k in range(min(o.n, len(ids)))]
    rng.shuffle(pick)
    out, wrong = {}, []
    ways = {
        "jaeger": (lambda t: f"/jaeger/api/traces/{t}", "application/json", jaeger_spans),
        "tempo_v2_json": (lambda t: f"/api/v2/traces/{t}", "application/json", otlp_spans),
        "tempo_v2_protobuf": (lambda t: f"/api/v2/traces/{t}", "application/protobuf", protobuf_spans),
    }
    times = {name: [] for name in ways}
    for k, (tid, _, spans) in enumerate(pick):
        names = list(ways)
        names = names[k % 3:] + names[:k % 3]  # each way first in turn
        for name in names:
            path, accept, count = ways[name]
            status, body, ms = c.get(path(tid), accept)
            got = count(body) if status == 200 else -status
            if got != int(spans):
                wrong.append((name, tid, spans, got))
            times[name].append(ms)
    for name, ms in times.items():
        out["trace_by_id_" + name] = summary(ms)
        out["trace_by_id_%s_ratio_p50" % name] = round(pct(ms, 0.5) / pct(times["jaeger"], 0.5), 3)

    s, e = start_ms // 1000, o.end_ms // 1000

    def traceql(services, rounds, key):
        times, found = [], []
        for _ in range(rounds):
            for svc in services:
                q = '{ resource.service.name = "%s" && span.http.response.status_code >= 500 }' % svc
                path = "/api/search?" + urllib.parse.urlencode(
                    {"q": q, "start": s, "end": e, "limit": 20, "spss": 3})
                status, body, ms = c.get(path)
                if status != 200:
                    wrong.append(("traceql", svc, status, body[:200].decode("utf-8", "replace")))
                    continue
                found.append(len(json.loads(body).get("traces", [])))
                times.append(ms)
        out[key] = summary(times)
        out[key + "_traces_per_answer"] = {"min": min(found or [0]), "max": max(found or [0])}
        return found

    # The services with HTTP server spans have 5xx errors (~2 %) in every hour: the search
    # stops once it has 20 traces. The others have no such attribute: every hour is read.
    if min(traceql(HTTP_SERVICES, o.rounds, "traceql_service_5xx_24h") or [0]) < 20:
        wrong.append(("traceql", "fewer than 20 traces for a service with errors"))
    if max(traceql(OTHER_SERVICES, o.rounds, "traceql_no_match_24h") or [0]) != 0:
        wrong.append(("traceql", "a service without HTTP spans matched"))

    mq = "{ } | rate() by (resource.service.name)"
    path = "/api/metrics/query_range?" + urllib.parse.urlencode(
        {"q": mq, "start": s, "end": e, "step": "5m"})
    ms_list = []
    for _ in range(3):
        status, body, ms = c.get(path)
        ms_list.append(ms)
        if status != 200:
            wrong.append(("metrics", status, body[:200].decode("utf-8", "replace")))
    out["traceql_rate_by_service_24h_5m"] = summary(ms_list)
    out["wrong"] = wrong[:20]
    out["wrong_count"] = len(wrong)
    json.dump(out, sys.stdout)
    print()
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
