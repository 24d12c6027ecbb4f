#!/usr/bin/env python3
"""Times LogQL queries against a running `strata serve` (docs/benchmarks.md, "Logs").

    logql_bench.py --url http://127.0.0.1:19471 --end-ns NS [--runs 7]

The queries are the issue's (over a corpus from bench-log-week ending at --end-ns):
  needle   {service_name="checkout"} |= "needle" over 24 h, limit 1000 (Explore's request)
  volume   Grafana's logs volume query over 24 h at its default step for that range
  rate     sum by (level) (rate({service_name=~".+"}[5m])) over 6 h
Each runs once to warm up, then --runs times; prints one JSON object per query with the
median and every time in ms, and the entries or series returned. Stdlib only.
"""
import argparse
import json
import statistics
import time
import urllib.parse
import urllib.request

NS = 1_000_000_000


def queries(end_ns):
    day = 24 * 3600 * NS
    # Grafana's step for a 24 h range at ~1,500 px: intervalMs 60000 -> [1m]... it sends
    # the step in ms and puts the same duration in [$__auto].
    return [
        ("needle", {"query": '{service_name="checkout"} |= "needle"', "start": end_ns - day,
                    "end": end_ns, "limit": 1000, "direction": "backward", "step": "60000ms"}),
        ("volume", {"query": 'sum by (level, detected_level) (count_over_time({service_name="checkout"} | drop __error__[1m]))',
                    "start": end_ns - day, "end": end_ns, "step": "60000ms"}),
        ("rate", {"query": 'sum by (level) (rate({service_name=~".+"}[5m]))',
                  "start": end_ns - 6 * 3600 * NS, "end": end_ns, "step": "15000ms"}),
    ]


def run(url, params):
    q = urllib.parse.urlencode(params)
    t = time.perf_counter()
    with urllib.request.urlopen(f"{url}/loki/api/v1/query_range?{q}", timeout=600) as r:
        body = json.load(r)
    ms = (time.perf_counter() - t) * 1000
    result = body["data"]["result"]
    if body["data"]["resultType"] == "streams":
        n = sum(len(s["values"]) for s in result)
    else:
        n = len(result)
    return ms, n, body["data"].get("stats", {}).get("summary", {})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--end-ns", type=int, required=True)
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--only", default="")
    a = ap.parse_args()
    for name, params in queries(a.end_ns):
        if a.only and name not in a.only.split(","):
            continue
        run(a.url, params)
        times, n, summary = [], 0, {}
        for _ in range(a.runs):
            ms, n, summary = run(a.url, params)
            times.append(ms)
        print(json.dumps({"query": name, "p50_ms": round(statistics.median(times), 1),
                          "ms": [round(t, 1) for t in times], "returned": n,
                          "lines_read": summary.get("totalLinesProcessed"),
                          "bytes_read": summary.get("totalBytesProcessed")}), flush=True)


if __name__ == "__main__":
    main()
