"""Auth checks (tokens of flight_sql.rs's AUTH: acme-rw and globex-rw read+write,
acme-writer write only): UNAUTHENTICATED without or with a wrong token on every kind of
call, PERMISSION_DENIED for the write-only token and for another tenant's x-scope-orgid,
Basic handshake with the token as password, and tenant isolation."""

import pyarrow as pa
import pyarrow.flight as fl

import proto
import seed
from common import TABLES, action, expect_adbc_error, expect_flight_error, flight_command, flight_query, opts

ACME = {"Authorization": "Bearer acme-rw"}
GLOBEX = {"Authorization": "Bearer globex-rw"}
COUNT = "SELECT count(*) AS n FROM spans"


def run(r):
    acme = seed.seed(r.http, "acme", ACME, n=3)
    globex = seed.seed(r.http, "globex", GLOBEX, n=5)
    client = r.flight()
    r.check("no token -> UNAUTHENTICATED on every kind of call", no_token, client)
    r.check("wrong token -> UNAUTHENTICATED (Bearer and Basic)", wrong_token, r, client)
    r.check("write-only token -> PERMISSION_DENIED", write_only, r, client)
    r.check("another tenant in x-scope-orgid -> PERMISSION_DENIED", other_tenant, r, client)
    r.check("a ticket is no credential: DoGet without a token", ticket_needs_token, client)
    r.check("Basic handshake: token as password, the Bearer answer works", basic_handshake, r, client, acme)
    r.check("adbc username/password (Handshake) sees acme", adbc_basic, r, acme)
    r.check("adbc Bearer + x-scope-orgid of its own tenant", adbc_bearer_own_tenant, r, acme)
    r.check("adbc without a token / write-only -> Unauthenticated / PermissionDenied", adbc_refused, r)
    for table in TABLES:
        r.check(f"tenant isolation {table}: each tenant == its /api/v1/sql, no other prefix", isolation, r, client, table)
    r.check("tenant isolation: counts per tenant", counts, r, client, acme, globex)
    r.check("a statement ticket runs as the DoGet caller's tenant", ticket_is_callers, r, client)
    r.check("another tenant's prepared handle -> NOT_FOUND", foreign_handle, r, client)


def assert_serves(client, token):
    _, t = flight_query(client, COUNT, opts(token))
    assert t.num_rows == 1, t


def no_token(client):
    out = []
    o = opts()
    out.append(expect_flight_error("UNAUTHENTICATED", client.get_flight_info, fl.FlightDescriptor.for_command(proto.statement_query("SELECT 1")), o))
    expect_flight_error("UNAUTHENTICATED", client.get_flight_info, fl.FlightDescriptor.for_command(proto.get_tables()), o)
    expect_flight_error("UNAUTHENTICATED", lambda: client.do_get(fl.Ticket(proto.get_catalogs()), o).read_all())
    expect_flight_error("UNAUTHENTICATED", action, client, "CreatePreparedStatement", proto.create_prepared("SELECT 1"), o)
    expect_flight_error("UNAUTHENTICATED", lambda: list(client.list_flights(options=o)))
    expect_flight_error("UNAUTHENTICATED", lambda: list(client.list_actions(o)))
    assert_serves(client, "acme-rw")
    return out[0]


def wrong_token(r, client):
    m1 = expect_flight_error("UNAUTHENTICATED", flight_query, client, "SELECT 1", opts("not-a-token"))
    m2 = expect_flight_error("UNAUTHENTICATED", client.authenticate_basic_token, b"acme", b"not-a-token")
    fresh = r.flight()
    expect_flight_error("UNAUTHENTICATED", flight_query, fresh, "SELECT 1", opts())
    assert_serves(client, "acme-rw")
    return f"{m1} | {m2}"


def write_only(r, client):
    m = expect_flight_error("PERMISSION_DENIED", flight_query, client, "SELECT 1", opts("acme-writer"))
    expect_flight_error("PERMISSION_DENIED", flight_command, client, proto.get_catalogs(), opts("acme-writer"))
    expect_flight_error("PERMISSION_DENIED", r.flight().authenticate_basic_token, b"any", b"acme-writer")
    assert_serves(client, "acme-rw")
    return m


def other_tenant(r, client):
    m = expect_flight_error("PERMISSION_DENIED", flight_query, client, "SELECT 1", opts("acme-rw", tenant="globex"))
    expect_flight_error("PERMISSION_DENIED", flight_command, client, proto.get_tables(), opts("acme-rw", tenant="globex"))
    _, t = flight_query(client, COUNT, opts("acme-rw", tenant="acme"))
    assert t.num_rows == 1
    return m


def ticket_needs_token(client):
    info = client.get_flight_info(fl.FlightDescriptor.for_command(proto.statement_query(COUNT)), opts("acme-rw"))
    return expect_flight_error("UNAUTHENTICATED", lambda: client.do_get(info.endpoints[0].ticket, opts()).read_all())


def basic_handshake(r, client, acme):
    fresh = r.flight()
    header = fresh.authenticate_basic_token(b"any-user", b"acme-rw")
    assert header[0].lower() == b"authorization" and header[1] == b"Bearer acme-rw", header
    o = fl.FlightCallOptions(headers=[header])
    _, t = flight_query(fresh, COUNT, o)
    assert t.column("n").to_pylist() == [acme.spans], t.to_pylist()
    return header


def adbc_basic(r, acme):
    conn = r.adbc(basic=("whoever", "acme-rw"))
    with conn.cursor() as cur:
        cur.execute(COUNT)
        assert cur.fetchall() == [(acme.spans,)]
        cur.execute("SELECT DISTINCT metric FROM series ORDER BY metric")
        metrics = [m for (m,) in cur.fetchall()]
    conn.close()
    assert metrics and all(m.startswith("acme_") for m in metrics), metrics


def adbc_bearer_own_tenant(r, acme):
    conn = r.adbc(token="acme-rw", tenant="acme")
    with conn.cursor() as cur:
        cur.execute(COUNT)
        assert cur.fetchall() == [(acme.spans,)]
    conn.close()


def adbc_refused(r):
    out = []
    for kwargs, code in (({}, "UNAUTHENTICATED"), ({"token": "acme-writer"}, "PERMISSION_DENIED"), ({"token": "acme-rw", "tenant": "globex"}, "PERMISSION_DENIED")):
        try:
            conn = r.adbc(**kwargs)
        except Exception as e:  # noqa: BLE001 - the driver may refuse at connect already
            out.append(expect_adbc_error(code, lambda e=e: (_ for _ in ()).throw(e))[:80])
            continue
        with conn.cursor() as cur:
            out.append(expect_adbc_error(code, cur.execute, "SELECT 1")[:80])
        conn.close()
    return " | ".join(out)


ORDER = {
    "samples": "series_id, ts",
    "series": "series_id",
    "metrics": "metric, ts, value",
    "spans": "trace_id, span_id",
    "logs": "time, severity_number",
    "exemplars": "ts, metric, value",
    "histograms": "series_id, ts",
    "histogram_buckets": "series_id, ts, negative, bucket NULLS FIRST",
}


def text_of(table):
    """Every value but timestamps (ns ones do not convert to Python without pandas) as text."""
    return " ".join(str(c.to_pylist()) for c in table.columns if not pa.types.is_timestamp(c.type))


def isolation(r, client, table):
    q = f"SELECT * FROM {table} ORDER BY {ORDER[table]}"
    for token, own, other, headers in (("acme-rw", "acme", "globex", ACME), ("globex-rw", "globex", "acme", GLOBEX)):
        want = seed.sql_arrow(r.http, q, headers)
        _, got = flight_query(client, q, opts(token))
        assert got.equals(want), f"{own}: Flight {got.num_rows} rows != /api/v1/sql {want.num_rows}"
        text = text_of(got)
        assert other not in text, f"{own} sees {other}'s rows in {table}"
        if table in ("series", "metrics", "spans", "logs", "exemplars"):
            assert own in text, f"{own}'s {table} has none of its rows"
    return f"acme {seed.sql_arrow(r.http, q, ACME).num_rows} rows"


def counts(r, client, acme, globex):
    out = {}
    for token, s in (("acme-rw", acme), ("globex-rw", globex)):
        for table, n in (("spans", s.spans), ("logs", s.logs), ("histograms", s.histograms), ("exemplars", s.exemplars)):
            _, t = flight_query(client, f"SELECT count(*) AS n FROM {table}", opts(token))
            assert t.column("n").to_pylist() == [n], f"{token} {table}: {t.to_pylist()} != [{n}]"
        out[s.prefix] = s.spans
    return out


def ticket_is_callers(r, client):
    q = "SELECT DISTINCT metric FROM series ORDER BY metric"
    info = client.get_flight_info(fl.FlightDescriptor.for_command(proto.statement_query(q)), opts("acme-rw"))
    t = client.do_get(info.endpoints[0].ticket, opts("globex-rw")).read_all()
    metrics = t.column("metric").to_pylist()
    assert metrics and all(m.startswith("globex_") for m in metrics), f"acme's ticket fetched by globex gave {metrics}"


def foreign_handle(r, client):
    q = "SELECT count(*) AS n FROM spans"
    (res,) = action(client, "CreatePreparedStatement", proto.create_prepared(q), opts("acme-rw"))
    handle, _, _ = proto.prepared_result(res)
    m = expect_flight_error("NOT_FOUND", client.get_flight_info, fl.FlightDescriptor.for_command(proto.prepared_query(handle)), opts("globex-rw"))
    expect_flight_error("NOT_FOUND", lambda: client.do_get(fl.Ticket(proto.prepared_query(handle)), opts("globex-rw")).read_all())
    _, t = flight_command(client, proto.prepared_query(handle), opts("acme-rw"))
    assert t.num_rows == 1, t
    action(client, "ClosePreparedStatement", proto.close_prepared(handle), opts("acme-rw"))
    return m
