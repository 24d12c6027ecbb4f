#!/usr/bin/env python3
"""Compares what Prometheus and Strata stored from scraping the same targets with the same
prometheus.yml (tests/interop/prometheus-scrape.sh). Stdlib only.

    compare_scrape.py PROM_URL STRATA_URL --removed-at T --now N

T is when the script removed the file_sd target and the gauge (Unix seconds), N a time at
least one scrape interval and one file_sd check after it. Checks, failing with the
differences:
  - every job's series (labels) over [T - 10 s, T - 2 s] are the same in both, except the
    `prometheus` job (Prometheus's own /metrics), whose metric names are compared;
  - `up` at T - 2 s: the same targets, all 1;
  - at N, the removed target's `up` and series and the dropped gauge return nothing in
    either (staleness markers), while the remaining series still answer the same values;
  - the protobuf job's native histogram is the same histogram in both before, and stale
    in both after;
  - the exposed metadata (type, help, unit) and the exemplars are the same.
"""
import argparse
import json
import sys
import urllib.parse
import urllib.request


def get(base, path, **params):
    url = base + path + "?" + urllib.parse.urlencode(params, doseq=True)
    with urllib.request.urlopen(url, timeout=30) as r:
        doc = json.load(r)
    if doc.get("status") != "success":
        raise SystemExit(f"{url}: {doc}")
    return doc["data"]


def series(base, start, end):
    data = get(base, "/api/v1/series", **{"match[]": '{__name__=~".+"}', "start": start, "end": end})
    return {tuple(sorted(s.items())) for s in data}


def instant(base, q, t):
    data = get(base, "/api/v1/query", query=q, time=t)
    # A float's value, or a native histogram's (as JSON, comparable).
    return {tuple(sorted(s["metric"].items())): s["value"][1] if "value" in s else json.dumps(s["histogram"][1], sort_keys=True)
            for s in data["result"]}


def histograms(base, q, t):
    """Each series' native histogram at t, without its timestamp."""
    data = get(base, "/api/v1/query", query=q, time=t)
    return {tuple(sorted(s["metric"].items())): s["histogram"][1] for s in data["result"] if "histogram" in s}


def job_of(labels):
    return dict(labels).get("job", "")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("prom")
    ap.add_argument("strata")
    ap.add_argument("--removed-at", type=float, required=True)
    ap.add_argument("--now", type=float, required=True)
    a = ap.parse_args()
    t, now = a.removed_at, a.now
    problems = []

    p_all, s_all = series(a.prom, t - 10, t - 2), series(a.strata, t - 10, t - 2)
    jobs = sorted({job_of(l) for l in p_all | s_all})
    for job in jobs:
        p = {l for l in p_all if job_of(l) == job}
        s = {l for l in s_all if job_of(l) == job}
        if job == "prometheus":
            pn = {dict(l)["__name__"] for l in p}
            sn = {dict(l)["__name__"] for l in s}
            if pn != sn:
                problems.append(f"job prometheus: names only in Prometheus {sorted(pn - sn)[:10]}, only in Strata {sorted(sn - pn)[:10]}")
            print(f"job prometheus: {len(pn)} metric names, {len(p)} / {len(s)} series")
            continue
        if p != s:
            problems.append(f"job {job!r}: only in Prometheus {sorted(p - s)[:5]}, only in Strata {sorted(s - p)[:5]}")
        print(f"job {job}: {len(p)} series in Prometheus, {len(s)} in Strata")
    for want in ("node", "app", "om", "vanish", "exposed", "proto"):
        if want not in jobs:
            problems.append(f"no series of job {want!r}")

    up_p, up_s = instant(a.prom, "up", t - 2), instant(a.strata, "up", t - 2)
    if up_p != up_s or set(up_p.values()) != {"1"}:
        problems.append(f"up before the removal: Prometheus {up_p}, Strata {up_s}")
    print(f"up: {len(up_s)} targets up in both" if up_p == up_s else "up differs")

    for q in ('up{job="vanish"}', "vanish_gauge", "demo_temperature", "proto_temperature", "proto_native_seconds"):
        before_p, before_s = instant(a.prom, q, t - 2), instant(a.strata, q, t - 2)
        after_p, after_s = instant(a.prom, q, now), instant(a.strata, q, now)
        if not before_p or before_p != before_s:
            problems.append(f"{q} before the removal: Prometheus {before_p}, Strata {before_s}")
        if after_p or after_s:
            problems.append(f"{q} after the removal (should be stale): Prometheus {after_p}, Strata {after_s}")
    print("staleness: the removed target's and the dropped gauge's series end in both")
    for q in ('demo_rpc_seconds{quantile="0.99"}', "demo_special", "demo_clash", "demo_escapes", 'up{job="app"}', "demo_size_bytes",
              'proto_rpc_seconds{quantile="0.99"}', 'proto_latency_seconds_bucket{le="1e+06"}', 'proto_latency_seconds_bucket{le="+Inf"}'):
        vp, vs = instant(a.prom, q, now), instant(a.strata, q, now)
        if not vp or vp != vs:
            problems.append(f"{q} at the end: Prometheus {vp}, Strata {vs}")

    hp, hs = histograms(a.prom, "proto_native_seconds", t - 2), histograms(a.strata, "proto_native_seconds", t - 2)
    if not hp or hp != hs:
        problems.append(f"native histogram before the removal: Prometheus {hp}, Strata {hs}")
    print(f"native histogram: {hs}")

    for metric in ("demo_requests_total", "demo_latency_seconds", "demo_rpc_seconds", "demo_size_bytes", "demo_events"):
        mp = get(a.prom, "/api/v1/metadata", metric=metric).get(metric, [])
        ms = get(a.strata, "/api/v1/metadata", metric=metric).get(metric, [])
        strip = lambda m: sorted((e.get("type"), e.get("help"), e.get("unit", "")) for e in m)
        if not mp or strip(mp) != strip(ms):
            problems.append(f"metadata of {metric}: Prometheus {mp}, Strata {ms}")
    print("metadata: the same types, helps and units")

    for query, want in (("demo_events_total", "4bf92f3577b34da6a3ce929d0e0e4736"),
                        ("proto_requests_total", "a1b2c3d4e5f60718293a4b5c6d7e8f90")):
        ex = {}
        for name, base in (("Prometheus", a.prom), ("Strata", a.strata)):
            # From well before the scrapes began: the protobuf exemplar's time is the
            # exporter's start.
            data = get(base, "/api/v1/query_exemplars", query=query, start=t - 120, end=now)
            ex[name] = sorted({e["labels"].get("trace_id") for s in data for e in s["exemplars"]})
        if ex["Prometheus"] != [want] or ex["Prometheus"] != ex["Strata"]:
            problems.append(f"exemplars of {query}: {ex}")
        print(f"exemplars of {query}: {ex['Strata']}")

    if problems:
        print("DIFFERENCES:")
        for p in problems:
            print("  -", p)
        sys.exit(1)
    print("Prometheus and Strata stored the same scrapes")


main()
