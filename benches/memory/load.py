#!/usr/bin/env python3
"""The small-box load: remote-write a gen_dataset.py dataset with N senders while M clients
loop heavy PromQL range queries (and, for Strata, SQL scans) and one client sends 1 GiB gzip
bombs; watch the server's process and its memory cgroup; print one JSON object.

  load.py --ds DIR --url http://127.0.0.1:PORT --pid PID --cgroup /sys/fs/cgroup/memory/NAME
          [--senders 4] [--queriers 8] [--sql] [--idle 15]

A sender retries a request answered 429 or 503 after its Retry-After (as Prometheus's and
vmagent's remote-write do) and counts the samples of the requests answered 2xx as
acknowledged. A connection error (the server gone, or a dropped connection) is counted, not
retried. Queries: PromQL range queries over the last hour of the dataset, 15 s step (one in
six over all six hours), and SQL scans over every sample; an answer is 200, or a refusal
(4xx/5xx) with its reason; a client refused with 429 or 503 waits its Retry-After before its
next query. After the load: the server idles `--idle` seconds and its RSS is
read again (RSS after the load). Standard library only.
"""
import argparse
import gzip
import http.client
import json
import os
import threading
import time
import urllib.parse

PROMQL = [
    'sum by (job) (rate({__name__=~".+"}[5m]))',
    'histogram_quantile(0.9, sum by (le, job) (rate(http_request_duration_seconds_bucket[5m])))',
    'quantile_over_time(0.9, {__name__=~"node_.+"}[10m])',
    'count_values("v", round({__name__=~"node_.+"}))',
    '{__name__=~"node_.+"} * on (instance, job) group_left () up',
    'sum by (instance) (rate(node_cpu_seconds_total[5m]))',
]
SQL = [
    "SELECT series_id, count(*), avg(value) FROM samples GROUP BY series_id",
    "SELECT count(DISTINCT value) FROM samples",
    "SELECT approx_percentile_cont(value, 0.99) FROM samples",
]


class Conn:
    """One keep-alive connection per thread; a connection error is raised, not retried."""

    def __init__(self, url):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.c = None

    def req(self, method, path, body=None, headers=None):
        if self.c is None:
            self.c = http.client.HTTPConnection(self.host, self.port, timeout=300)
        try:
            self.c.request(method, path, body=body, headers=headers or {})
            r = self.c.getresponse()
            return r.status, dict(r.getheaders()), r.read()
        except Exception:
            self.c.close()
            self.c = None
            raise


def status_bytes(pid, key):
    """A kB field of /proc/PID/status (VmRSS, RssAnon) in bytes; None once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:
        return None
    return 0


def rss(pid):
    return status_bytes(pid, "VmRSS")


def rss_anon(pid):
    return status_bytes(pid, "RssAnon")


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def cg(path, name):
    try:
        with open(os.path.join(path, name)) as f:
            return f.read()
    except OSError:
        return ""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ds", required=True)
    ap.add_argument("--url", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--cgroup", default="")
    ap.add_argument("--senders", type=int, default=4)
    ap.add_argument("--queriers", type=int, default=8)
    ap.add_argument("--sql", action="store_true")
    ap.add_argument("--bombs", type=int, default=1)
    ap.add_argument("--idle", type=float, default=15)
    a = ap.parse_args()

    meta = json.load(open(os.path.join(a.ds, "meta.json")))
    files = []
    with open(os.path.join(a.ds, "rw", "index.tsv")) as f:
        for line in f:
            name, ns, _ = line.rstrip("\n").split("\t")
            files.append((name, int(ns)))
    files.sort()
    end_s = meta["last_ts_ms"] // 1000
    start_s = meta["first_ts_ms"] // 1000

    lock = threading.Lock()
    st = {"acked_samples": 0, "acked_requests": 0, "write_retries": 0, "write_errors": {},
          "dropped_connections": 0, "answered": 0, "refused": {}, "bad_answers": {},
          "bombs_refused": 0, "query_ms": [], "drops": {}}
    senders_done = threading.Event()
    next_file = iter(files)
    t0 = time.time()

    def drop(role, e):
        with lock:
            st["dropped_connections"] += 1
            k = f"{role}: {type(e).__name__} {e}"[:120]
            st["drops"][k] = st["drops"].get(k, 0) + 1

    def bump(key, sub, n=1):
        with lock:
            st[key][sub] = st[key].get(sub, 0) + n

    def sender():
        c = Conn(a.url)
        hdr = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
               "X-Prometheus-Remote-Write-Version": "0.1.0"}
        while True:
            with lock:
                item = next(next_file, None)
            if item is None:
                return
            name, ns = item
            body = open(os.path.join(a.ds, "rw", name), "rb").read()
            while True:
                try:
                    status, h, data = c.req("POST", "/api/v1/write", body, hdr)
                except Exception as e:
                    drop("sender", e)
                    return
                if 200 <= status < 300:
                    with lock:
                        st["acked_samples"] += ns
                        st["acked_requests"] += 1
                    break
                if status in (429, 503):
                    with lock:
                        st["write_retries"] += 1
                    time.sleep(float(h.get("Retry-After", h.get("retry-after", "1"))))
                    continue
                bump("write_errors", f"{status} {data[:100].decode(errors='replace')}", ns)
                break

    def querier(i):
        c = Conn(a.url)
        n = i
        while not senders_done.is_set():
            if a.sql and n % 3 == 2:
                q = SQL[(n // 3) % len(SQL)]
                args = ("POST", "/api/v1/sql", q.encode(), {"Content-Type": "text/plain"})
            else:
                q = PROMQL[n % len(PROMQL)]
                lo = start_s if n % 6 == 5 else end_s - 3600
                qs = urllib.parse.urlencode({"query": q, "start": lo, "end": end_s, "step": 15})
                args = ("GET", "/api/v1/query_range?" + qs, None, {})
            t = time.time()
            try:
                status, h, data = c.req(*args)
            except Exception as e:
                drop("querier", e)
                return
            ms = (time.time() - t) * 1000
            if status == 200:
                with lock:
                    st["answered"] += 1
                    st["query_ms"].append(ms)
            elif 400 <= status < 600 and data:
                text = data.decode(errors="replace")
                reason = ("memory" if "memory" in text else "queue" if "too many queries" in text
                          else "samples" if "too many samples" in text else text[:80])
                bump("refused", f"{status} {reason}")
                if status in (429, 503):
                    # As a well-behaved client (Grafana's retries, a script): wait as told.
                    time.sleep(float(h.get("Retry-After", h.get("retry-after", "1"))))
            else:
                bump("bad_answers", str(status))
            n += 1

    bomb = gzip.compress(b"\0" * (1 << 30), compresslevel=1)

    def bomber():
        c = Conn(a.url)
        hdr = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
        while not senders_done.is_set():
            try:
                status, _, _ = c.req("POST", "/v1/metrics", bomb, hdr)
            except Exception as e:
                drop("bomber", e)
                return
            if status in (400, 413, 415, 503):
                with lock:
                    st["bombs_refused"] += 1
            time.sleep(1)

    peak = {"rss": 0}
    watching = threading.Event()

    def watch():
        while not watching.is_set():
            r = rss(a.pid)
            if r:
                peak["rss"] = max(peak["rss"], r)
            time.sleep(0.2)

    threads = [threading.Thread(target=sender) for _ in range(a.senders)]
    threads += [threading.Thread(target=querier, args=(i,)) for i in range(a.queriers)]
    threads += [threading.Thread(target=bomber) for _ in range(a.bombs)]
    w = threading.Thread(target=watch)
    w.start()
    for t in threads:
        t.start()
    for t in threads[:a.senders]:
        t.join()
    load_s = time.time() - t0
    senders_done.set()
    for t in threads[a.senders:]:
        t.join()
    time.sleep(a.idle)
    watching.set()
    w.join()

    out = {k: v for k, v in st.items() if k != "query_ms"}
    ms = sorted(st["query_ms"])
    out["query_ms_median"] = round(ms[len(ms) // 2], 1) if ms else None
    total = out["answered"] + sum(out["refused"].values()) + sum(out["bad_answers"].values())
    out["answered_fraction"] = round(out["answered"] / total, 3) if total else None
    out["samples_offered"] = sum(ns for _, ns in files)
    out["load_seconds"] = round(load_s, 1)
    out["alive"] = alive(a.pid)
    out["peak_rss_mib"] = round(peak["rss"] / 2**20, 1)
    out["rss_after_mib"] = round((rss(a.pid) or 0) / 2**20, 1)
    out["rss_anon_after_mib"] = round((rss_anon(a.pid) or 0) / 2**20, 1)
    if a.cgroup:
        out["cgroup_limit_mib"] = round(int(cg(a.cgroup, "memory.limit_in_bytes") or 0) / 2**20)
        out["cgroup_max_usage_mib"] = round(int(cg(a.cgroup, "memory.max_usage_in_bytes") or 0) / 2**20, 1)
        kills = [l for l in cg(a.cgroup, "memory.oom_control").splitlines() if l.startswith("oom_kill ")]
        out["oom_kills"] = int(kills[0].split()[1]) if kills else None
    try:
        _, _, text = Conn(a.url).req("GET", "/metrics")
        keep = ("strata_process_", "strata_head_bytes", "strata_page_cache_bytes", "strata_series_memory_bytes",
                "strata_sql_footer_cache_bytes", "strata_query_memory_peak", "strata_memory_sheds_total",
                "strata_memory_pressure_level", "strata_queries_refused_total")
        out["metrics_after"] = [l for l in text.decode().splitlines() if l.startswith(keep)]
    except Exception:
        pass
    print(json.dumps(out))


if __name__ == "__main__":
    main()
