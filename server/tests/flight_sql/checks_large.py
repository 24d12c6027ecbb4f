"""Large-result checks (flight_sql.rs sets `[sql] memory_pool_bytes = 16 MiB` and a large
`max_result_bytes`): a result many times the memory pool streamed batch by batch to ADBC
and pyarrow.flight; the same rows sorted (which must hold them all) refused with
RESOURCE_EXHAUSTED; a client that reads one batch and goes away is counted as CANCELLED on
/metrics and the server keeps serving. flight_sql.rs bounds the server's peak RSS meanwhile
with the STREAM line printed here."""

import os
import re
import subprocess
import sys
import time

import pyarrow.compute as pc
import pyarrow.flight as fl

import proto
import seed
from common import expect_flight_error, flight_query, opts

POOL = 16 << 20  # flight_sql.rs's memory_pool_bytes
FACTOR = 48  # rows of the large result per sample
# generate_series first: the cross join holds its left side (48 rows) and streams samples.
LARGE = f"SELECT s.series_id, s.ts, s.value, g.value AS k FROM generate_series(1, {FACTOR}) g CROSS JOIN samples s"
SORTED = LARGE + " ORDER BY s.value DESC, g.value DESC"
# Hours of work (1e8 rows take ~10 s in a debug build) that send nothing before the end.
LONG = "SELECT sum(value % 7) AS s FROM generate_series(1, 100000000000)"
CANCELLED = re.compile(r'^strata_grpc_requests_total\{[^}]*arrow\.flight\.protocol\.FlightService[^}]*CANCELLED[^}]*\}\s+(\d+)', re.M)


def seed_only(r):
    n = seed.seed_many_samples(r.http)
    r.check("seeded samples (/api/v1/sql count)", lambda: _count_is(r, n))


def warm(r):
    """After flight_sql.rs restarted the server: the samples are still there, and the SQL
    path has run once (DataFusion's first query allocates its registries)."""
    r.check("the samples after the restart", lambda: _count_is(r, seed.SAMPLES))
    r.check("warm-up query over Flight", lambda: flight_query(r.flight(), "SELECT count(*) FROM samples", opts()) and None)


def _count_is(r, n):
    got = seed.sql_count(r.http, "samples")
    assert got == n, f"{got} samples, wrote {n}"
    return got


def run(r):
    samples = seed.sql_count(r.http, "samples")
    want_rows = samples * FACTOR
    want_k = samples * FACTOR * (FACTOR + 1) // 2
    r.check("adbc streams the large result batch by batch", adbc_stream, r, want_rows, want_k)
    r.check("pyarrow.flight streams the large result chunk by chunk", flight_stream, r, want_rows)
    r.check("the same rows sorted (all held at once) -> RESOURCE_EXHAUSTED (memory pool)", sorted_refused, r)
    r.check("a client gone after one batch (process exit) is counted CANCELLED", cancel_exit, r)
    r.check("a client closing after one batch (adbc) is counted CANCELLED", cancel_adbc_close, r)
    r.check("serving after the cancels", serving, r, samples)


def adbc_stream(r, want_rows, want_k):
    conn = r.adbc()
    rows = batches = nbytes = k = biggest = 0
    with conn.cursor() as cur:
        cur.execute(LARGE)
        for batch in cur.fetch_record_batch():
            batches += 1
            rows += batch.num_rows
            nbytes += batch.nbytes
            biggest = max(biggest, batch.nbytes)
            k += pc.sum(batch.column(3)).as_py() or 0
    conn.close()
    assert rows == want_rows, f"{rows} rows, expected {want_rows}"
    assert k == want_k, f"sum(k) {k}, expected {want_k}"
    assert batches > 10 and biggest < POOL, f"{batches} batches, the biggest {biggest} bytes"
    assert nbytes > 4 * POOL, f"the result ({nbytes} bytes) must be several times the memory pool ({POOL})"
    print(f"STREAM rows={rows} batches={batches} arrow_bytes={nbytes} biggest_batch={biggest}")
    return f"{rows} rows in {batches} batches, {nbytes >> 20} MiB of Arrow buffers"


def flight_stream(r, want_rows):
    client = r.flight()
    info = client.get_flight_info(fl.FlightDescriptor.for_command(proto.statement_query(LARGE)), opts())
    rows = chunks = 0
    for endpoint in info.endpoints:
        reader = client.do_get(endpoint.ticket, opts())
        while True:
            try:
                chunk = reader.read_chunk()
            except StopIteration:
                break
            chunks += 1
            rows += chunk.data.num_rows
    assert rows == want_rows, f"{rows} rows, expected {want_rows}"
    assert chunks > 10, f"{chunks} chunks"
    return f"{rows} rows in {chunks} chunks"


def sorted_refused(r):
    client = r.flight()
    msg = expect_flight_error("RESOURCE_EXHAUSTED", flight_query, client, SORTED, opts())
    assert "memory" in msg.lower(), msg
    _, t = flight_query(client, "SELECT count(*) AS n FROM samples", opts())
    assert t.num_rows == 1
    return msg


def cancelled_count(r):
    return sum(int(n) for n in CANCELLED.findall(seed.get(r.http, "/metrics")))


def wait_for_count(r, above, what):
    deadline = time.time() + 20
    while time.time() < deadline:
        n = cancelled_count(r)
        if n > above:
            return n
        time.sleep(0.2)
    flight_lines = [line for line in seed.get(r.http, "/metrics").splitlines() if "FlightService" in line]
    raise AssertionError(f"{what}: no CANCELLED count above {above} on /metrics in 20 s; Flight lines: {flight_lines}")


def cancel_exit(r):
    before = cancelled_count(r)
    child = subprocess.run(
        [sys.executable, os.path.join(os.path.dirname(__file__), "client.py"), r.http, r.grpc, "cancel-child", LARGE],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0 and "one batch" in child.stdout, f"child: {child.returncode} {child.stdout} {child.stderr}"
    after = wait_for_count(r, before, "process exit")
    return f"{child.stdout.strip()}; CANCELLED {before} -> {after}"


def cancel_child(grpc, sql):
    """Reads one batch of `sql`, then exits at once without closing anything."""
    client = fl.FlightClient(f"grpc://{grpc}")
    info = client.get_flight_info(fl.FlightDescriptor.for_command(proto.statement_query(sql)), opts())
    reader = client.do_get(info.endpoints[0].ticket, opts())
    chunk = reader.read_chunk()
    print(f"one batch of {chunk.data.num_rows} rows, going away")
    sys.stdout.flush()
    os._exit(0)


def cancel_adbc_close(r):
    before = cancelled_count(r)
    conn = r.adbc()
    cur = conn.cursor()
    cur.execute(LARGE)
    reader = cur.fetch_record_batch()
    first = reader.read_next_batch()
    reader.close()
    cur.close()
    conn.close()
    after = wait_for_count(r, before, "adbc close")
    return f"first batch {first.num_rows} rows; CANCELLED {before} -> {after}"


def long_query(r):
    r.check("a client past its deadline in a long aggregation is counted CANCELLED", deadline_cancel, r)


def deadline_cancel(r):
    """flight_sql.rs then checks that the server's CPU goes quiet: the query stopped."""
    before = cancelled_count(r)
    client = r.flight()
    info = client.get_flight_info(fl.FlightDescriptor.for_command(proto.statement_query(LONG)), opts())
    start = time.time()
    try:
        client.do_get(info.endpoints[0].ticket, opts(timeout=1.0)).read_all()
    except fl.FlightTimedOutError:
        pass
    else:
        raise AssertionError("the long query finished within its 1 s deadline")
    took = time.time() - start
    assert took < 10, f"the deadline took {took:.1f} s"
    after = wait_for_count(r, before, "deadline")
    return f"gone after {took:.1f} s; CANCELLED {before} -> {after}"


def serving(r, samples):
    _, t = flight_query(r.flight(), "SELECT count(*) AS n FROM samples", opts())
    assert t.column("n").to_pylist() == [samples], t.to_pylist()
