#!/usr/bin/env python3
"""Asks a Prometheus and a Strata that hold the same remote-written data the same
questions and fails when the answers differ. Used by prometheus-remote-write.sh.

    compare.py PROMETHEUS_URL STRATA_URL [--at UNIX_TIME]
    compare.py --ready SECONDS PROMETHEUS_URL STRATA_URL

The compared window runs from 62 s after Prometheus's first scrape (so every `[1m]` range
lies after it) to 8 s before the time of the comparison (`--at`, default now), evaluated
every 2 s at a millisecond offset no scrape has.

`--ready SECONDS` compares nothing: it exits 0 and prints the time to pass to `--at` once
that window is at least SECONDS long and Strata holds, for every series Prometheus has, a
sample a second past the window's end (remote-write has shipped it); otherwise it prints what
is missing and exits 2. The script polls it.
"""
import argparse
import json
import math
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

QUERIES = [
    "up",
    "node_load1",
    "rate(node_cpu_seconds_total[30s])",
    "sum by (mode) (rate(node_cpu_seconds_total[30s]))",
    "irate(node_network_receive_bytes_total[15s])",
    "avg_over_time(node_memory_MemAvailable_bytes[1m])",
    "node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes",
    "max by (job) (scrape_duration_seconds)",
    "count by (job) ({__name__=~\".+\"})",
    "count(count by (__name__) ({job=\"node\"}))",
    "histogram_quantile(0.9, sum by (le) (rate(prometheus_http_request_duration_seconds_bucket[1m])))",
    "topk(3, node_filesystem_avail_bytes)",
    "increase(prometheus_tsdb_head_samples_appended_total[1m])",
    "deriv(process_resident_memory_bytes[1m])",
    "changes(process_start_time_seconds[1m])",
    "quantile_over_time(0.5, scrape_samples_scraped[1m])",
    "sum without (cpu) (node_cpu_seconds_total) / on (mode) group_left count by (mode) (node_cpu_seconds_total)",
    "absent(nonexistent_metric)",
]


def get(base, path, params):
    url = base + path + "?" + urllib.parse.urlencode(params, doseq=True)
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            body = json.load(resp)
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{url}: HTTP {e.code}: {e.read()[:300].decode(errors='replace')}") from None
    if body.get("status") != "success":
        raise RuntimeError(f"{url}: {body}")
    return body["data"]


def same_number(a, b):
    x, y = float(a), float(b)
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    # Sums may add in a different order (Strata compensates like Prometheus 3.x; the
    # packaged 2.x does not), so allow a few ulps.
    return x == y or abs(x - y) <= 1e-9 * max(abs(x), abs(y))


def key(metric):
    return json.dumps(metric, sort_keys=True)


def compared_window(prom, now):
    """The compared window (start, end) for a comparison at `now`, or None if Prometheus has
    scraped nothing."""
    raw = get(prom, "/api/v1/query", {"query": "up[5m]", "time": now})
    stamps = [float(v[0]) for s in raw["result"] for v in s["values"]]
    if not stamps:
        return None
    # Evaluate between scrapes: at a millisecond offset no sample has, so the range
    # boundaries, closed in the packaged Prometheus 2.x and left-open in 3.x (and Strata),
    # never meet a sample.
    taken = {round(t * 1000) % 1000 for t in stamps}
    offset = next(o for o in range(500, 1500) if all(abs(o % 1000 - t) > 5 for t in taken)) % 1000
    start = math.floor(min(stamps)) + 62 + offset / 1000
    end = math.floor(now) - 8 + offset / 1000
    return start, end


def ready(prom, strata, seconds):
    """(time, None) when a comparison at that time would cover `seconds` of data that Strata
    holds in full; else (None, a sentence saying what is missing)."""
    now = round(time.time(), 3)
    try:
        w = compared_window(prom, now)
        if w is None:
            return None, "Prometheus has scraped nothing yet"
        start, end = w
        if end - start < seconds:
            return None, f"the compared window holds {max(end - start, 0):.0f} of {seconds:g} s"
        # Series with a sample from a second past the window's end (the end moves by less
        # than that if a scrape lands before the comparison) to now, per job: Prometheus has
        # every series up to now; Strata has them once remote-write has shipped that far.
        # (last_over_time keeps the metric name; timestamp() would not, and Prometheus 2.x
        # refuses the same labels from two metrics.)
        recent = round((now - end - 1) * 1000)
        q = {"query": f'count by (job) (last_over_time({{__name__=~".+"}}[{recent}ms]))', "time": now}
        count = lambda base: {r["metric"].get("job"): r["value"][1] for r in get(base, "/api/v1/query", q)["result"]}
        p, s = count(prom), count(strata)
    except (OSError, RuntimeError, ValueError) as e:
        return None, f"not answering yet: {e}"
    if p != s:
        return None, f"series with a sample past the window's end: Prometheus {p}, Strata {s}"
    return now, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("prometheus")
    ap.add_argument("strata")
    ap.add_argument("--at", type=float, help="time of the comparison (default: now)")
    ap.add_argument("--ready", type=float, metavar="SECONDS",
                    help="only say whether a window of SECONDS can be compared yet")
    args = ap.parse_args()
    prom, strata = args.prometheus, args.strata
    if args.ready is not None:
        at, why = ready(prom, strata, args.ready)
        if at is None:
            print(why)
            return 2
        print(f"{at:.3f}")
        return 0
    now = args.at if args.at is not None else time.time()
    w = compared_window(prom, now)
    if w is None:
        print("Prometheus has scraped nothing")
        return 1
    start, end = w
    if end - start < 10:
        print(f"not enough data yet: {end - start:.0f} s")
        return 1
    failures = 0
    for q in QUERIES:
        params = {"query": q, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": "2"}
        p = get(prom, "/api/v1/query_range", params)
        s = get(strata, "/api/v1/query_range", params)
        pm = {key(r["metric"]): r["values"] for r in p["result"]}
        sm = {key(r["metric"]): r["values"] for r in s["result"]}
        problem = None
        if p["resultType"] != s["resultType"]:
            problem = f"result types {p['resultType']} vs {s['resultType']}"
        elif pm.keys() != sm.keys():
            problem = f"series only in Prometheus: {sorted(pm.keys() - sm.keys())[:3]}; only in Strata: {sorted(sm.keys() - pm.keys())[:3]}"
        else:
            for k, pv in pm.items():
                sv = sm[k]
                if [t for t, _ in pv] != [t for t, _ in sv]:
                    problem = f"{k}: timestamps differ ({len(pv)} vs {len(sv)} points)"
                    break
                bad = [(t, a, b) for (t, a), (_, b) in zip(pv, sv) if not same_number(a, b)]
                if bad:
                    problem = f"{k}: {len(bad)} values differ, first {bad[0]}"
                    break
        n = sum(len(v) for v in pm.values())
        print(f"{'FAIL' if problem else 'ok  '} {q}  ({len(pm)} series, {n} points){': ' + problem if problem else ''}")
        failures += problem is not None

    window = {"start": f"{start:.3f}", "end": f"{end:.3f}"}
    for path, params in [
        ("/api/v1/series", {"match[]": ["up", 'node_cpu_seconds_total{mode="idle"}'], **window}),
        ("/api/v1/labels", window),
        ("/api/v1/label/job/values", window),
        ("/api/v1/label/__name__/values", window),
    ]:
        p = get(prom, path, params)
        s = get(strata, path, params)
        norm = lambda d: sorted(key(x) if isinstance(x, dict) else x for x in d)
        ok = norm(p) == norm(s)
        print(f"{'ok  ' if ok else 'FAIL'} {path}  ({len(p)} entries)")
        if not ok:
            print(f"     only in Prometheus: {sorted(set(norm(p)) - set(norm(s)))[:5]}")
            print(f"     only in Strata: {sorted(set(norm(s)) - set(norm(p)))[:5]}")
        failures += not ok
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
