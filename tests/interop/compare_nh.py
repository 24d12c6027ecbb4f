#!/usr/bin/env python3
"""Asks a Prometheus and a Strata that hold the same remote-written native histograms the
same PromQL range queries and fails when the answers differ. Used by prometheus-remote-write.sh
(the data comes from nh_target.py).

    compare_nh.py PROMETHEUS_URL STRATA_URL [--at UNIX_TIME]
    compare_nh.py --ready SECONDS PROMETHEUS_URL STRATA_URL

The window and `--ready` work as in compare.py, whose helpers this reuses; readiness here
means Strata holds, for every series of the `nh` job, a sample past the window's end.

The packaged Prometheus is 2.42, where native histograms were an experimental feature. Only
what it and Prometheus 3 (whose test suite Strata passes) compute alike is compared:
raw histograms, rate, increase, sum, count, `+` of two histograms, count_over_time,
timestamp, histogram_count, histogram_sum, and histogram_fraction at bucket boundaries. Left
out, and why:
- histogram_quantile and histogram_fraction inside a bucket: Prometheus 3.0 interpolates
  exponentially within exponential buckets (prometheus/prometheus#14677); 2.42 linearly.
- histogram_avg, histogram_stddev, histogram_stdvar: not in 2.42 (2.47, 2.51).
- avg, irate, resets and last_over_time over histograms: 2.42 answers them as if the
  samples were floats of value 0 (checked against the package).
- rate and increase over `path="/b"`, which restarts every 30 scrapes: in a window that
  starts just after a restart, Prometheus 3 stops extrapolating backwards at the point
  where the histogram's count would reach zero (durationToZero, as for floats), 2.42 does
  not (checked: 24.058 against 24.111 for one such window). Its raw histograms, counter
  resets included, are compared; native_histograms.test checks the rate rule.
- `*` and `/` by a scalar and unary minus: 2.42 returns the histogram unchanged (checked:
  `h * 2` has h's count); Prometheus 3 scales it, as Strata does (operators.test and
  native_histograms.test check that).
- custom-bucket (schema -53) histograms, remote-write 2.0, infos: not in 2.42.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import compared_window, get, key, same_number  # noqa: E402

# Rates over `/a` only: `/b` restarts, see the module doc.
RATE = 'rate(nh_request_seconds{path="/a"}[10s])'
QUERIES = [
    "nh_request_seconds",
    "nh_offset_celsius",
    RATE,
    'increase(nh_request_seconds{path="/a"}[20s])',
    "rate(nh_offset_celsius[15s])",
    f"sum({RATE})",
    "sum by (job) (nh_request_seconds)",
    "count(nh_request_seconds)",
    "nh_request_seconds + nh_request_seconds",
    "count_over_time(nh_request_seconds[10s])",
    "timestamp(nh_request_seconds)",
    "histogram_count(nh_request_seconds)",
    "histogram_sum(nh_offset_celsius)",
    f"histogram_count({RATE})",
    f"histogram_sum(sum({RATE}))",
    # 2^-7 is a bucket boundary of schema 3, 0 one of every schema: no interpolation.
    f"histogram_fraction(-Inf, 0.0078125, {RATE})",
    "histogram_fraction(-Inf, 0, nh_offset_celsius)",
]


def same_histogram(a, b):
    """Two histograms of the JSON API ({count, sum, buckets: [[boundary, lo, hi, n]]})."""
    if not same_number(a["count"], b["count"]) or not same_number(a["sum"], b["sum"]):
        return f"count/sum {a['count']}/{a['sum']} vs {b['count']}/{b['sum']}"
    ba, bb = a.get("buckets", []), b.get("buckets", [])
    if len(ba) != len(bb):
        return f"{len(ba)} vs {len(bb)} buckets"
    for x, y in zip(ba, bb):
        if x[0] != y[0] or not all(same_number(p, q) for p, q in zip(x[1:], y[1:])):
            return f"bucket {x} vs {y}"
    return None


def compare_series(pv, sv):
    """A problem between two series' `values` and `histograms`, or None."""
    for field in ("values", "histograms"):
        p, s = pv.get(field, []), sv.get(field, [])
        if [t for t, _ in p] != [t for t, _ in s]:
            return f"{field}: timestamps differ ({len(p)} vs {len(s)} points)"
        for (t, a), (_, b) in zip(p, s):
            why = same_histogram(a, b) if field == "histograms" else (
                None if same_number(a, b) else f"{a} vs {b}")
            if why:
                return f"{field} at {t}: {why}"
    return None


def ready(prom, strata, seconds):
    now = round(time.time(), 3)
    try:
        w = compared_window(prom, now)
        if w is None:
            return None, "Prometheus has scraped nothing yet"
        start, end = w
        if end - start < seconds:
            return None, f"the compared window holds {max(end - start, 0):.0f} of {seconds:g} s"
        recent = round((now - end - 1) * 1000)
        q = {"query": f'{{job="nh"}}[{recent}ms]', "time": now}
        series = lambda base: sorted(key(r["metric"]) for r in get(base, "/api/v1/query", q)["result"])
        p, s = series(prom), series(strata)
    except (OSError, RuntimeError, ValueError) as e:
        return None, f"not answering yet: {e}"
    if p != s:
        return None, f"series with a sample past the window's end: Prometheus {len(p)}, Strata {len(s)}"
    return now, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("prometheus")
    ap.add_argument("strata")
    ap.add_argument("--at", type=float)
    ap.add_argument("--ready", type=float, metavar="SECONDS")
    args = ap.parse_args()
    prom, strata = args.prometheus, args.strata
    if args.ready is not None:
        at, why = ready(prom, strata, args.ready)
        if at is None:
            print(why)
            return 2
        print(f"{at:.3f}")
        return 0
    start, end = compared_window(prom, args.at if args.at is not None else time.time())
    failures = 0
    for q in QUERIES:
        params = {"query": q, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": "2"}
        p = get(prom, "/api/v1/query_range", params)
        s = get(strata, "/api/v1/query_range", params)
        pm = {key(r["metric"]): r for r in p["result"]}
        sm = {key(r["metric"]): r for r in s["result"]}
        problem = None
        if p["resultType"] != s["resultType"]:
            problem = f"result types {p['resultType']} vs {s['resultType']}"
        elif pm.keys() != sm.keys():
            problem = f"series only in Prometheus: {sorted(pm.keys() - sm.keys())[:3]}; only in Strata: {sorted(sm.keys() - pm.keys())[:3]}"
        elif not pm:
            problem = "no series in either: the query compares nothing"
        else:
            for k in pm:
                why = compare_series(pm[k], sm[k])
                if why:
                    problem = f"{k}: {why}"
                    break
        n = sum(len(r.get("values", [])) + len(r.get("histograms", [])) for r in pm.values())
        print(f"{'FAIL' if problem else 'ok  '} {q}  ({len(pm)} series, {n} points){': ' + problem if problem else ''}")
        failures += problem is not None
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
