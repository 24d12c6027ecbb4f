#!/usr/bin/env python3
"""Helpers of run-strata-peers.sh (standard library only; reuses the shared
harness's load_peers.py for disk and /proc figures).

  stats --proc NAME=PID ... --disk NAME=PATH ...
        VmRSS/VmHWM/CPU seconds of each PID, du of each path, load average.
  strata-metrics --url URL
        flush count, file sets, partitions, samples ingested/rejected from /metrics.
  wait-strata --url URL --since-flushes N --min-wait S [--timeout S]
        wait until a flush has run after the load (flush count > N and at least
        S seconds waited), then until compaction has left one file set per
        partition (or the timeout).
  summary --work DIR
        the table of a run directory (prints it; writes DIR/out/summary.json).
"""
import argparse
import json
import math
import os
import statistics
import sys
import time
import urllib.request

SHARED = os.environ.get("SHARED_BENCH") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "bench")
sys.path.insert(0, SHARED)
import load_peers  # noqa: E402  (the shared harness's du/proc helpers)


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def cmd_stats(a):
    out = {"time": time.time(), "loadavg": loadavg(), "proc": {}, "disk": {}}
    for spec in a.proc:
        name, _, pid = spec.partition("=")
        try:
            out["proc"][name] = load_peers.proc_mem(int(pid))
        except (FileNotFoundError, ValueError):
            out["proc"][name] = None
    for spec in a.disk:
        name, _, path = spec.partition("=")
        out["disk"][name] = load_peers.du_tree(path) if os.path.isdir(path) else None
    print(json.dumps(out))


def strata_metrics(url):
    with urllib.request.urlopen(url.rstrip("/") + "/metrics", timeout=30) as r:
        text = r.read().decode()
    m = {"flushes": 0.0, "compactions": 0.0, "file_sets": 0.0, "partitions": 0.0,
         "ingested": 0.0, "rejected": 0.0, "disk_bytes": 0.0}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        try:
            v = float(line.rsplit(" ", 1)[1])
        except (IndexError, ValueError):
            continue
        key = {"strata_flush_duration_seconds_count": "flushes",
               "strata_compaction_duration_seconds_count": "compactions",
               "strata_file_sets": "file_sets", "strata_partitions": "partitions",
               "strata_ingested_samples_total": "ingested",
               "strata_rejected_samples_total": "rejected",
               "strata_disk_bytes": "disk_bytes"}.get(name)
        if key:
            m[key] += v
    return m


def cmd_strata_metrics(a):
    print(json.dumps(strata_metrics(a.url)))


def cmd_wait_strata(a):
    # The flush counter cannot say "the head is empty": the background flusher also counts
    # passes that find nothing to flush. So: at least --min-wait seconds (more than
    # flush_interval plus one tick, so a flush has started after the last write) and at
    # least one more flush than at the end of the load; then compaction down to one file
    # set per partition.
    t0 = time.time()
    flushed = False
    while time.time() - t0 < a.timeout:
        m = strata_metrics(a.url)
        if m["flushes"] > a.since_flushes and time.time() - t0 >= a.min_wait:
            flushed = True
            break
        time.sleep(2)
    waited_flush = time.time() - t0
    compacted = False
    while time.time() - t0 < a.timeout:
        m = strata_metrics(a.url)
        if m["partitions"] and m["file_sets"] <= m["partitions"]:
            compacted = True
            break
        time.sleep(2)
    m = strata_metrics(a.url)
    print(json.dumps({"flushed": flushed, "compacted": compacted,
                      "seconds_to_flush": round(waited_flush, 1),
                      "seconds": round(time.time() - t0, 1), "metrics": m}))


# ---------------------------------------------------------------- summary

ENGINES = ("prom", "vm", "strata")
TITLES = {"prom": "Prometheus 2.42", "vm": "VictoriaMetrics 1.79.5", "strata": "Strata"}


def load(work, name):
    p = os.path.join(work, "out", name)
    return json.load(open(p)) if os.path.exists(p) else None


def geomean(xs):
    xs = [max(x, 1e-3) for x in xs]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def fmt(x, spec=",.0f"):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, spec)


def cmd_summary(a):
    w = a.work
    meta = load(w, "meta.json")
    samples, series = meta["samples"], meta["series"]
    idle = load(w, "stats_idle.json")
    flushed = load(w, "stats_after_flush.json")
    after_q = load(w, "stats_after_queries.json")
    out = {"samples": samples, "series": series, "engines": {}}
    for e in ENGINES:
        ld = load(w, "load_%s.json" % e)
        before, after = load(w, "stats_before_load_%s.json" % e), load(w, "stats_after_load_%s.json" % e)
        if not ld or not before or not after or not after["proc"].get(e):
            continue
        cpu = after["proc"][e]["cpu_s"] - before["proc"][e]["cpu_s"]
        r = {"seconds": ld["seconds"], "samples_ok": ld["samples_ok"],
             "samples_failed": ld["samples_failed"], "samples_per_s": ld["samples_per_s"],
             "server_cpu_s": round(cpu, 2),
             "samples_per_cpu_s": round(ld["samples_ok"] / cpu) if cpu > 0 else None,
             "loadavg_before": before["loadavg"], "loadavg_after": after["loadavg"],
             "rss_idle": idle["proc"][e]["VmRSS"],
             "hwm_after_load": after["proc"][e]["VmHWM"], "rss_after_load": after["proc"][e]["VmRSS"]}
        if flushed and flushed["proc"].get(e):
            r["hwm_after_flush"] = flushed["proc"][e]["VmHWM"]
            r["rss_after_flush"] = flushed["proc"][e]["VmRSS"]
        if after_q and after_q["proc"].get(e):
            r["hwm_after_queries"] = after_q["proc"][e]["VmHWM"]
            r["rss_after_queries"] = after_q["proc"][e]["VmRSS"]
        r["rss_per_series_after_load"] = round((r["rss_after_load"] - r["rss_idle"]) / series)
        if "rss_after_flush" in r:
            r["rss_per_series_after_flush"] = round((r["rss_after_flush"] - r["rss_idle"]) / series)
        out["engines"][e] = r
    # disk
    disk = load(w, "disk.json") or {}
    for e, d in disk.items():
        if e in out["engines"] and d.get("bytes"):
            out["engines"][e]["disk_bytes"] = d["bytes"]
            out["engines"][e]["disk_b_per_sample"] = round(d["bytes"] / samples, 3)
            out["engines"][e]["disk_what"] = d["what"]
    # verify
    for e in ENGINES:
        v = load(w, "verify_%s.json" % e)
        if v and e in out["engines"]:
            out["engines"][e]["verify_ok"] = v["ok"]
            out["engines"][e]["verify"] = "%d series, %d samples" % (v["series"], v["samples"])
    # queries
    q = load(w, "queries.json")
    qsum = {}
    if q:
        for e in ENGINES:
            ms = [r["peers"][e]["ms_median"] for r in q["results"]
                  if e in r["peers"] and r["peers"][e].get("ms_median") is not None]
            if e in out["engines"] and ms:
                out["engines"][e]["query_sum_ms"] = round(sum(ms), 1)
                out["engines"][e]["query_geomean_ms"] = round(geomean(ms), 2)
        ratios, rows, diffs = [], [], []
        for r in q["results"]:
            p, s = r["peers"].get("prom", {}), r["peers"].get("strata", {})
            ratio = None
            if p.get("ms_median") and s.get("ms_median") and "error" not in s:
                ratio = s["ms_median"] / p["ms_median"]
                ratios.append(ratio)
            d = s.get("diff_vs_ref", {})
            match = d.get("match")
            rows.append({"id": r["id"], "prom_ms": p.get("ms_median"), "vm_ms": r["peers"].get("vm", {}).get("ms_median"),
                         "strata_ms": s.get("ms_median"), "ratio": ratio, "match": match,
                         "error": s.get("error"), "diff": d})
            if not match:
                diffs.append(rows[-1])
        qsum = {"median_ratio_strata_prom": statistics.median(ratios) if ratios else None,
                "geomean_ratio_strata_prom": geomean(ratios) if ratios else None,
                "queries": len(q["results"]),
                "strata_match": sum(1 for r in rows if r["match"]),
                "rows": rows}
        out["queries"] = qsum
    otlp = load(w, "otlp_load.json")
    if otlp:
        ob, oa = load(w, "stats_before_otlp.json"), load(w, "stats_after_otlp.json")
        cpu = oa["proc"]["strata"]["cpu_s"] - ob["proc"]["strata"]["cpu_s"]
        out["otlp"] = {"seconds": otlp["seconds"], "samples_ok": otlp["samples_ok"],
                       "samples_per_s": otlp["samples_per_s"], "server_cpu_s": round(cpu, 2),
                       "samples_per_cpu_s": round(otlp["samples_ok"] / cpu) if cpu > 0 else None,
                       "threads": otlp["threads"], "retries": otlp["retries"],
                       "samples_failed": otlp["samples_failed"],
                       "verify_ok": otlp.get("verify", {}).get("ok"),
                       "loadavg_before": ob["loadavg"], "loadavg_after": oa["loadavg"]}
    rep = load(w, "ingest_repeats.json")
    if rep:
        out["ingest_repeats"] = rep
    json.dump(out, open(os.path.join(w, "out", "summary.json"), "w"), indent=1)

    # ---- print
    E = [e for e in ENGINES if e in out["engines"]]
    print("dataset: %s series, %s samples" % (fmt(series), fmt(samples)))
    rows = [
        ("remote-write load, wall s", lambda r: fmt(r["seconds"], ".1f")),
        ("samples/s", lambda r: fmt(r["samples_per_s"])),
        ("samples failed", lambda r: fmt(r["samples_failed"])),
        ("server CPU s during load", lambda r: fmt(r["server_cpu_s"], ".1f")),
        ("samples per server CPU-s", lambda r: fmt(r["samples_per_cpu_s"])),
        ("load avg before -> after load", lambda r: "%.1f -> %.1f" % (r["loadavg_before"][0], r["loadavg_after"][0])),
        ("RSS idle MB", lambda r: fmt(r["rss_idle"] / 1e6, ".0f")),
        ("VmHWM / VmRSS after load MB", lambda r: "%s / %s" % (fmt(r["hwm_after_load"] / 1e6, ".0f"), fmt(r["rss_after_load"] / 1e6, ".0f"))),
        ("VmRSS after flush MB", lambda r: fmt(r.get("rss_after_flush", float("nan")) / 1e6, ".0f")),
        ("(RSS - idle) / series after load, B", lambda r: fmt(r["rss_per_series_after_load"])),
        ("(RSS - idle) / series after flush, B", lambda r: fmt(r.get("rss_per_series_after_flush"))),
        ("VmHWM / VmRSS after queries MB", lambda r: "%s / %s" % (fmt(r.get("hwm_after_queries", float("nan")) / 1e6, ".0f"), fmt(r.get("rss_after_queries", float("nan")) / 1e6, ".0f"))),
        ("disk bytes", lambda r: fmt(r.get("disk_bytes"))),
        ("disk B/sample", lambda r: fmt(r.get("disk_b_per_sample"), ".3f")),
        ("verify (PromQL counts)", lambda r: ("ok " if r.get("verify_ok") else "MISMATCH ") + r.get("verify", "")),
        ("queries: sum of medians ms", lambda r: fmt(r.get("query_sum_ms"), ".1f")),
        ("queries: geomean of medians ms", lambda r: fmt(r.get("query_geomean_ms"), ".2f")),
    ]
    width = max(len(x[0]) for x in rows)
    cols = [TITLES[e] for e in E]
    cw = [max(24, len(c)) for c in cols]
    print("%-*s  %s" % (width, "", "  ".join("%*s" % (w_, c) for w_, c in zip(cw, cols))))
    for label, f in rows:
        vals = []
        for e in E:
            try:
                vals.append(f(out["engines"][e]))
            except (KeyError, TypeError):
                vals.append("-")
        print("%-*s  %s" % (width, label, "  ".join("%*s" % (w_, v) for w_, v in zip(cw, vals))))
    for e in E:
        if out["engines"][e].get("disk_what"):
            print("disk %s: %s" % (e, out["engines"][e]["disk_what"]))
    if qsum:
        print()
        print("%-22s %9s %9s %9s %7s  %s" % ("query", "prom ms", "vm ms", "strata ms", "S/P", "strata vs prom"))
        for r in qsum["rows"]:
            d = r["diff"]
            if r["error"]:
                dtxt = "ERROR " + r["error"][:60]
            elif r["match"]:
                dtxt = "match"
            else:
                dtxt = "DIFF ser -%s +%s; pts -%s +%s; val %s/%s max rel %.3g%s" % (
                    d.get("series_only_ref"), d.get("series_only_other"), d.get("points_only_ref"),
                    d.get("points_only_other"), d.get("points_mismatch"), d.get("points_common"),
                    d.get("max_rel_diff") or 0, "; __name__ differs" if d.get("name_differs") else "")
            print("%-22s %9s %9s %9s %7s  %s" % (r["id"], fmt(r["prom_ms"], ".2f"), fmt(r["vm_ms"], ".2f"),
                                                 fmt(r["strata_ms"], ".2f"), fmt(r["ratio"], ".2f"), dtxt))
        print("Strata/Prometheus median-latency ratio: median %.2f, geomean %.2f; %d/%d queries match Prometheus" % (
            qsum["median_ratio_strata_prom"] or float("nan"), qsum["geomean_ratio_strata_prom"] or float("nan"),
            qsum["strata_match"], qsum["queries"]))
    if "otlp" in out:
        o = out["otlp"]
        print()
        print("OTLP/HTTP (Strata only, fresh instance, %d threads): %.1f s, %s samples/s, server CPU %.1f s = %s samples/CPU-s, "
              "failed %s, retries %s, verify %s, load avg %.1f -> %.1f" % (
                  o["threads"], o["seconds"], fmt(o["samples_per_s"]), o["server_cpu_s"], fmt(o["samples_per_cpu_s"]),
                  fmt(o["samples_failed"]), o["retries"], "ok" if o["verify_ok"] else "MISMATCH",
                  o["loadavg_before"][0], o["loadavg_after"][0]))
    if rep:
        print()
        print("ingest repeats (fresh instances, remote-write, samples/s; server CPU s):")
        for e in ENGINES:
            runs = [r for r in rep if r["engine"] == e]
            if runs:
                rates = [r["samples_per_s"] for r in runs]
                print("  %-7s %s  (min %s, max %s)" % (e, ", ".join("%s (%.1f)" % (fmt(r["samples_per_s"]), r["server_cpu_s"]) for r in runs),
                                                      fmt(min(rates)), fmt(max(rates))))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sp = ap.add_subparsers(dest="cmd", required=True)
    p = sp.add_parser("stats"); p.add_argument("--proc", action="append", default=[])
    p.add_argument("--disk", action="append", default=[])
    p = sp.add_parser("strata-metrics"); p.add_argument("--url", required=True)
    p = sp.add_parser("wait-strata"); p.add_argument("--url", required=True)
    p.add_argument("--since-flushes", type=float, required=True)
    p.add_argument("--min-wait", type=float, default=0); p.add_argument("--timeout", type=float, default=300)
    p = sp.add_parser("summary"); p.add_argument("--work", required=True)
    a = ap.parse_args()
    {"stats": cmd_stats, "strata-metrics": cmd_strata_metrics, "wait-strata": cmd_wait_strata,
     "summary": cmd_summary}[a.cmd](a)


if __name__ == "__main__":
    main()
