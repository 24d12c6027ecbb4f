#!/usr/bin/env python3
# search-sql-pieces.py URL END_MS [HOURS]: times pieces of a search's SQL over the HOURS (1)
# before END_MS (the runner's out/end_ms.txt: the dense hour), through POST /api/v1/sql,
# each 7 times, alternating; prints median and min ms.
import sys, time, urllib.request, statistics
url, end_ms = sys.argv[1], int(sys.argv[2])
hours = int(sys.argv[3]) if len(sys.argv) > 3 else 1
s, e = (end_ms - hours * 3600_000) * 1_000_000, end_ms * 1_000_000 - 1
t = f"start_time >= to_timestamp_nanos({s}) AND start_time <= to_timestamp_nanos({e})"
svc, op, dur = "service_name = 'frontend'", "name = 'GET /cart'", "duration_ns >= 100000000"
tail = " GROUP BY trace_id ORDER BY last DESC, trace_id LIMIT 20"
sel = "SELECT trace_id, max(start_time) AS last FROM spans WHERE "
qs = {
  "count_window": f"SELECT count(*) FROM spans WHERE {t}",
  "count_svc": f"SELECT count(*) FROM spans WHERE {svc} AND {t}",
  "search_as_now(svc,time,op,dur)": sel + f"{svc} AND {t} AND {op} AND duration_ns >= 100000000" + tail,
  "search_op_first(op,svc,dur,time)": sel + f"{op} AND {svc} AND {dur} AND {t}" + tail,
  "search_svc_op_dur_time": sel + f"{svc} AND {op} AND {dur} AND {t}" + tail,
  "search_dur_first(dur,op,svc,time)": sel + f"{dur} AND {op} AND {svc} AND {t}" + tail,
}
res = {k: [] for k in qs}
for _ in range(7):
  for k, q in qs.items():
    t0 = time.perf_counter()
    r = urllib.request.urlopen(urllib.request.Request(url + "/api/v1/sql", data=q.encode(), method="POST"))
    body = r.read()
    res[k].append((time.perf_counter() - t0) * 1000)
for k, v in res.items():
  print(f"{k}: median {statistics.median(v):.1f} ms, min {min(v):.1f}")
print("answer of last:", body[:200])
