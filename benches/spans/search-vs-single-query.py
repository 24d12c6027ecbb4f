#!/usr/bin/env python3
# search-vs-single-query.py URL START_MS END_MS N: for N random (entry service, operation) over the day
# [START_MS, END_MS): time the Jaeger search (hour by hour) and, on the same server, the
# single SQL query the search used to run over the whole day; check both find the same ids.
import json, random, statistics, sys, time, urllib.parse, urllib.request
url, s_ms, e_ms, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
ops = {"frontend": ["GET /", "GET /product/{id}", "GET /cart", "POST /cart", "POST /checkout", "GET /search"],
       "api-gateway": ["GET /api/v1/products", "GET /api/v1/products/{id}"]}
rnd = random.Random(1)
jt, st, same = [], [], 0
for _ in range(n):
    svc = rnd.choice(list(ops)); op = rnd.choice(ops[svc])
    q = urllib.parse.urlencode({"service": svc, "operation": op, "minDuration": "100ms",
                                "start": s_ms * 1000, "end": e_ms * 1000 - 1, "limit": 20})
    t0 = time.perf_counter()
    body = json.load(urllib.request.urlopen(url + "/jaeger/api/traces?" + q))
    jt.append((time.perf_counter() - t0) * 1000)
    got = [t["traceID"].rjust(32, "0") for t in body["data"]]
    sql = ("SELECT trace_id, max(start_time) AS last FROM spans WHERE service_name = '%s' AND "
           "start_time >= to_timestamp_nanos(%d) AND start_time <= to_timestamp_nanos(%d) AND "
           "name = '%s' AND duration_ns >= 100000000 GROUP BY trace_id ORDER BY last DESC, trace_id LIMIT 20"
           % (svc, s_ms * 1_000_000, (e_ms * 1000 - 1) * 1000, op))
    t0 = time.perf_counter()
    rows = json.load(urllib.request.urlopen(urllib.request.Request(url + "/api/v1/sql", data=sql.encode(), method="POST")))
    st.append((time.perf_counter() - t0) * 1000)
    same += [r["trace_id"].lower() for r in rows] == got
print("jaeger search (hour by hour, incl. lookups): median %.1f ms; single SQL over the day: median %.1f ms; same ids %d/%d"
      % (statistics.median(jt), statistics.median(st), same, n))
