#!/usr/bin/env python3
"""One timed read of a SQL result from a running `strata serve`, for benches/flightsql/run.sh.

    bench.py flight|arrow|json --http HOST:PORT --grpc HOST:PORT --query SQL [--tenant T]

flight: ADBC's Flight SQL driver (adbc-driver-flightsql), `fetch_record_batch`, batch by
batch; arrow: `POST /api/v1/sql` with `Accept: application/vnd.apache.arrow.stream`, the
body read as an Arrow IPC stream; json: the same with `Accept: application/json`, the body
parsed. Prints one JSON line: rows, Arrow bytes (the batches' buffer sizes), seconds, and
for the HTTP paths the body's bytes.
"""
import argparse
import json
import time
import urllib.parse
import urllib.request


def flight(a):
    import adbc_driver_flightsql.dbapi as flightsql
    from adbc_driver_flightsql import DatabaseOptions
    kw = {DatabaseOptions.RPC_CALL_HEADER_PREFIX.value + "x-scope-orgid": a.tenant} if a.tenant else {}
    t0 = time.perf_counter()
    with flightsql.connect(f"grpc://{a.grpc}", db_kwargs=kw, autocommit=True) as conn:
        cur = conn.cursor()
        cur.execute(a.query)
        rows = nbytes = 0
        for batch in cur.fetch_record_batch():
            rows += batch.num_rows
            nbytes += batch.nbytes
        cur.close()
    return {"rows": rows, "arrow_bytes": nbytes, "seconds": time.perf_counter() - t0}


def http(a, accept):
    import pyarrow as pa
    headers = {"Accept": accept, "Content-Type": "application/x-www-form-urlencoded"}
    if a.tenant:
        headers["X-Scope-OrgID"] = a.tenant
    body = urllib.parse.urlencode({"query": a.query}).encode()
    t0 = time.perf_counter()
    req = urllib.request.Request(f"http://{a.http}/api/v1/sql", data=body, headers=headers)
    with urllib.request.urlopen(req, timeout=3600) as r:
        raw = r.read()
    if accept.endswith("arrow.stream"):
        table = pa.ipc.open_stream(raw).read_all()
        rows, nbytes = table.num_rows, table.nbytes
    else:
        rows, nbytes = len(json.loads(raw)), 0  # an array, one object per row
    return {"rows": rows, "arrow_bytes": nbytes, "body_bytes": len(raw), "seconds": time.perf_counter() - t0}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["flight", "arrow", "json"])
    ap.add_argument("--http", required=True)
    ap.add_argument("--grpc", required=True)
    ap.add_argument("--query", required=True)
    ap.add_argument("--tenant", default="")
    a = ap.parse_args()
    if a.mode == "flight":
        out = flight(a)
    else:
        out = http(a, "application/vnd.apache.arrow.stream" if a.mode == "arrow" else "application/json")
    out["mode"] = a.mode
    out["rows_per_s"] = round(out["rows"] / out["seconds"])
    print(json.dumps(out))


if __name__ == "__main__":
    main()
