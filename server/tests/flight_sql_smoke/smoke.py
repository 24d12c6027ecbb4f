"""Smoke test of the Arrow Flight SQL service with pyarrow.flight (PyPI `pyarrow`).

Usage: smoke.py HTTP_ADDR GRPC_ADDR (a server with the token `acme-rw`: tenant acme,
scopes read and write).

1. Writes a gauge `flight_smoke` of three known points over OTLP/HTTP JSON.
2. The Basic handshake (user ignored, password = token) answers
   `authorization: Bearer acme-rw`.
3. A statement query (CommandStatementQuery) with that header returns the three points
   as written; an empty result still has its schema.
4. No token is UNAUTHENTICATED; a malformed query is INVALID_ARGUMENT, a garbage ticket
   INVALID_ARGUMENT, and the server keeps answering afterwards.
"""
import datetime
import json
import sys
import time
import urllib.request

import pyarrow as pa
import pyarrow.flight as fl

HTTP, GRPC = sys.argv[1], sys.argv[2]
TOKEN = "acme-rw"


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(num, data):
    return varint(num << 3 | 2) + varint(len(data)) + data


def cmd(name, body=b""):
    """A Flight SQL command packed in google.protobuf.Any."""
    return field(1, b"type.googleapis.com/arrow.flight.protocol.sql." + name.encode()) + field(2, body)


def statement(sql):
    return fl.FlightDescriptor.for_command(cmd("CommandStatementQuery", field(1, sql.encode())))


def expect_error(kind, code, call):
    try:
        call()
    except kind as e:
        assert code is None or code in str(e), f"{code} not in {e}"
        return
    raise AssertionError(f"expected {kind.__name__} {code or ''}")


# 1. Three points a minute apart, ending a minute ago, at whole milliseconds.
now_ms = int(time.time()) * 1000
points = [(now_ms - (3 - i) * 60_000, v) for i, v in enumerate([1.5, -2.25, 1e300])]
body = {"resourceMetrics": [{"resource": {"attributes": []}, "scopeMetrics": [{"metrics": [
    {"name": "flight_smoke", "gauge": {"dataPoints": [
        {"timeUnixNano": str(t * 10**6), "asDouble": v, "attributes": []} for t, v in points]}}]}]}]}
req = urllib.request.Request(f"http://{HTTP}/v1/metrics", data=json.dumps(body).encode(), method="POST")
req.add_header("Content-Type", "application/json")
req.add_header("Authorization", f"Bearer {TOKEN}")
with urllib.request.urlopen(req, timeout=30) as r:
    assert r.status == 200, r.status
print("wrote 3 points of flight_smoke")

client = fl.FlightClient(f"grpc://{GRPC}")

# 2. Handshake with Basic auth.
header = client.authenticate_basic_token(b"any-user", TOKEN.encode())
assert header == (b"authorization", f"Bearer {TOKEN}".encode()), header
opts = fl.FlightCallOptions(headers=[header])
print("handshake:", header)

# 3. A statement query.
sql = "SELECT ts, value FROM metrics WHERE metric = 'flight_smoke' ORDER BY ts"
info = client.get_flight_info(statement(sql), opts)
assert info.schema.names == ["ts", "value"], info.schema
table = client.do_get(info.endpoints[0].ticket, opts).read_all()
utc = datetime.timezone.utc
expected = pa.table({
    "ts": pa.array([datetime.datetime.fromtimestamp(t / 1000, utc) for t, _ in points],
                   pa.timestamp("ms", tz="UTC")),
    "value": pa.array([v for _, v in points], pa.float64()),
})
assert table.num_rows == 3, table
assert table.column("ts").to_pylist() == expected.column("ts").to_pylist(), table
assert table.column("value").to_pylist() == expected.column("value").to_pylist(), table
print("statement query: 3 rows as written")

empty_info = client.get_flight_info(statement("SELECT ts, value FROM metrics WHERE metric = 'nothing'"), opts)
empty = client.do_get(empty_info.endpoints[0].ticket, opts).read_all()
assert empty.num_rows == 0 and empty.schema.names == ["ts", "value"], empty
print("empty result: schema only")

# 4. Errors, then a good query again.
expect_error(fl.FlightUnauthenticatedError, None, lambda: client.get_flight_info(statement("SELECT 1")))
# pyarrow raises INVALID_ARGUMENT as ArrowInvalid ("Flight returned invalid argument error").
expect_error(pa.ArrowInvalid, "invalid argument",
             lambda: client.get_flight_info(statement("SELEC nonsense"), opts))
expect_error(pa.ArrowInvalid, "invalid argument",
             lambda: client.do_get(fl.Ticket(b"garbage"), opts).read_all())
again = client.do_get(info.endpoints[0].ticket, opts).read_all()
assert again.equals(table), again
print("errors: UNAUTHENTICATED, INVALID_ARGUMENT x2; the server keeps serving")
print("ok")
