#!/usr/bin/env python3
"""Rule evaluation benchmark helpers (run-rules-bench.sh drives them).

  rules_bench.py gen --out FILE [--rules 1000] [--groups 10] [--interval 15s]
      N recording and alerting rules over the shared dataset's metrics (half each),
      in G groups. Range windows of 30-60 min, so that the rules keep finding data for
      that long after the dataset's last sample.
  rules_bench.py measure --name NAME --url BASE --pid PID --seconds S [--interval 15]
      polls BASE/api/v1/rules every interval for S seconds and reads the process's CPU
      time (/proc/PID/stat) before and after; prints one JSON object: CPU seconds,
      per-group evaluation times (one per distinct lastEvaluation), rule health counts.
  rules_bench.py rw --ds DIR --url URL [--workers 2] [--cafile CA]
      the shared loader's remote-write load (load_peers.py rw: the dataset's requests in
      time-window order, windows in parallel over keep-alive connections, one per
      worker), over https too (--cafile: the CA to trust). Prints samples/s.
Standard library only.
"""
import argparse, json, os, statistics, sys, time, urllib.request

WINDOWS = ["30m", "40m", "50m", "60m"]

RECORD = [
    'sum by (instance) (rate(node_cpu_seconds_total{{mode!="idle"}}[{w}]))',
    'sum by (instance, code) (rate(http_requests_total[{w}]))',
    'histogram_quantile(0.{q}, sum by (le, instance) (rate(http_request_duration_seconds_bucket[{w}])))',
    'max_over_time(node_load5[{w}])',
    '1 - avg_over_time(node_memory_MemAvailable_bytes[{w}]) / avg_over_time(node_memory_MemTotal_bytes[{w}])',
    'sum by (instance) (rate(node_network_receive_bytes_total[{w}]))',
    'avg_over_time(node_filesystem_avail_bytes[{w}]) / avg_over_time(node_filesystem_size_bytes[{w}])',
    'sum by (job) (rate(process_cpu_seconds_total[{w}]))',
]

ALERT = [
    'avg_over_time(node_load1[{w}]) > {x}',
    'max_over_time(node_hwmon_temp_celsius[{w}]) > {t}',
    'sum by (instance) (rate(http_requests_total{{code=~"5.."}}[{w}])) / sum by (instance) (rate(http_requests_total[{w}])) > 0.0{q}',
    'histogram_quantile(0.99, sum by (le, instance) (rate(http_request_duration_seconds_bucket[{w}]))) > 0.{q}',
    'sum by (instance) (rate(node_disk_io_time_seconds_total[{w}])) > 0.{q}',
]


def gen(args):
    per_group = max(1, args.rules // args.groups)
    out = ["groups:"]
    n = 0
    for g in range(args.groups):
        out.append(f"  - name: bench-{g:02d}")
        out.append(f"    interval: {args.interval}")
        out.append("    rules:")
        for i in range(per_group):
            w = WINDOWS[(n // 7) % len(WINDOWS)]
            params = dict(w=w, q=1 + n % 9, x=0.5 + (n % 5) * 0.5, t=40 + n % 30)
            if n % 2 == 0:
                expr = RECORD[(n // 2) % len(RECORD)].format(**params)
                out.append(f"      - record: bench:r{n:04d}")
                out.append(f"        expr: '{expr}'")
            else:
                expr = ALERT[(n // 2) % len(ALERT)].format(**params)
                out.append(f"      - alert: BenchAlert{n:04d}")
                out.append(f"        expr: '{expr}'")
                out.append("        for: 1m")
                out.append("        labels:")
                out.append("          severity: warning")
                out.append("        annotations:")
                out.append("          summary: '{{ $labels.instance }} at {{ $value | humanize }}'")
            n += 1
    with open(args.out, "w") as f:
        f.write("\n".join(out) + "\n")
    print(json.dumps({"rules": n, "groups": args.groups}))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rules(url):
    with urllib.request.urlopen(url + "/api/v1/rules", timeout=30) as r:
        return json.load(r)["data"]["groups"]


def measure(args):
    c0, t0 = cpu_seconds(args.pid), time.time()
    evals = {}
    health = {}
    deadline = t0 + args.seconds
    while True:
        for g in rules(args.url):
            key = (g["name"], g["lastEvaluation"])
            if not g["lastEvaluation"].startswith("0001"):
                evals[key] = g["evaluationTime"]
            for r in g["rules"]:
                health[r["name"]] = r["health"]
        if time.time() >= deadline:
            break
        time.sleep(min(args.interval, max(0.1, deadline - time.time())))
    c1, t1 = cpu_seconds(args.pid), time.time()
    times = sorted(evals.values())
    groups = len({k[0] for k in evals})
    out = {
        "name": args.name,
        "seconds": round(t1 - t0, 1),
        "cpu_seconds": round(c1 - c0, 3),
        "cpu_per_interval": round((c1 - c0) / ((t1 - t0) / args.interval), 3),
        "group_evals": len(times),
        "groups": groups,
        "group_eval_median_s": round(statistics.median(times), 4) if times else None,
        "group_eval_p90_s": round(times[int(0.9 * (len(times) - 1))], 4) if times else None,
        "rules_ok": sum(1 for h in health.values() if h == "ok"),
        "rules_err": sum(1 for h in health.values() if h == "err"),
    }
    print(json.dumps(out))


def rw(args):
    import http.client, ssl, threading, urllib.parse
    from concurrent.futures import ThreadPoolExecutor
    files = []
    with open(os.path.join(args.ds, "rw", "index.tsv")) as f:
        for line in f:
            name, ns, _t = line.rstrip("\n").split("\t")
            files.append((name, int(ns)))
    files.sort()
    u = urllib.parse.urlsplit(args.url)
    context = ssl.create_default_context(cafile=args.cafile) if u.scheme == "https" else None
    headers = {"Content-Encoding": "snappy", "Content-Type": "application/x-protobuf",
               "X-Prometheus-Remote-Write-Version": "0.1.0"}
    local = threading.local()
    lock = threading.Lock()
    counts = {"ok": 0, "failed": 0, "samples": 0, "connections": 0}

    def send(item):
        name, ns = item
        with open(os.path.join(args.ds, "rw", name), "rb") as f:
            body = f.read()
        c = getattr(local, "c", None)
        if c is None:
            if context:
                c = http.client.HTTPSConnection(u.hostname, u.port, timeout=600, context=context)
            else:
                c = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
            local.c = c
            with lock:
                counts["connections"] += 1
        c.request("POST", u.path, body=body, headers=headers)
        r = c.getresponse()
        r.read()
        with lock:
            if 200 <= r.status < 300:
                counts["ok"] += 1
                counts["samples"] += ns
            else:
                counts["failed"] += 1

    windows = {}
    for name, ns in files:
        windows.setdefault(name.split("_", 1)[0], []).append((name, ns))
    t0 = time.time()
    with ThreadPoolExecutor(args.workers) as ex:
        for w in sorted(windows):
            list(ex.map(send, windows[w]))
    dt = time.time() - t0
    print(json.dumps(dict(counts, seconds=round(dt, 3), samples_per_s=round(counts["samples"] / dt))))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("gen")
    g.add_argument("--out", required=True)
    g.add_argument("--rules", type=int, default=1000)
    g.add_argument("--groups", type=int, default=10)
    g.add_argument("--interval", default="15s")
    m = sub.add_parser("measure")
    m.add_argument("--name", required=True)
    m.add_argument("--url", required=True)
    m.add_argument("--pid", type=int, required=True)
    m.add_argument("--seconds", type=float, required=True)
    m.add_argument("--interval", type=float, default=15)
    w = sub.add_parser("rw")
    w.add_argument("--ds", required=True)
    w.add_argument("--url", required=True)
    w.add_argument("--workers", type=int, default=2)
    w.add_argument("--cafile")
    a = p.parse_args()
    {"gen": gen, "measure": measure, "rw": rw}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
