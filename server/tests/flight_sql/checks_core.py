"""Core checks (no auth configured, `[sql] max_result_bytes = 1 MiB`, `timeout = "3s"`): every table through
ADBC and pyarrow.flight equal to /api/v1/sql, the metadata calls, prepared statements with
`$1` and `?`, and bad input."""

import os
import time

import pyarrow as pa
import pyarrow.flight as fl

import proto
import seed
from common import (
    TABLES,
    action,
    assert_same,
    expect_adbc_error,
    expect_flight_error,
    flight_command,
    flight_query,
    opts,
)

# One deterministic order per table (seed.py makes these keys unique).
ORDERED = {
    "samples": "SELECT * FROM samples ORDER BY series_id, ts",
    "series": "SELECT * FROM series ORDER BY series_id",
    "metrics": "SELECT * FROM metrics ORDER BY metric, ts, value",
    "spans": "SELECT * FROM spans ORDER BY trace_id, span_id",
    "logs": "SELECT * FROM logs ORDER BY time, severity_number",
    "exemplars": "SELECT * FROM exemplars ORDER BY ts, metric, value",
    "histograms": "SELECT * FROM histograms ORDER BY series_id, ts",
    "histogram_buckets": "SELECT * FROM histogram_buckets ORDER BY series_id, ts, negative, bucket NULLS FIRST",
}
VIEWS = {"metrics"}
BIG = "SELECT value FROM generate_series(1, 1000000)"  # 8 MB of Int64 > max_result_bytes (1 MiB)
LONG = "SELECT sum(value % 7) AS s FROM generate_series(1, 100000000000)"  # hours > sql.timeout (3 s)


def run(r):
    s = seed.seed(r.http, "acme")
    r.check("seed: every table has rows (/api/v1/sql)", seeded_counts, r, s)
    conn = r.adbc()
    client = r.flight()
    o = opts()
    for table in TABLES:
        r.check(f"adbc fetch_arrow_table {table} == /api/v1/sql", adbc_differential, r, conn, table)
        r.check(f"pyarrow.flight statement {table} == /api/v1/sql", flight_differential, r, client, o, table)
    r.check("adbc DB-API fetchall samples and spans == /api/v1/sql rows", dbapi_rows, r, conn)
    r.check("adbc fetch_record_batch spans streams the same rows", adbc_record_batches, r, conn)
    r.check("an empty result keeps its schema (adbc and pyarrow.flight)", empty_result, r, conn, client, o)
    # Metadata.
    r.check("GetCatalogs", catalogs, client, o)
    r.check("GetDbSchemas (all, catalog, pattern) == the schemas of information_schema", db_schemas, r, client, o)
    r.check("GetTables without filters, and of schema information%, == information_schema.tables", all_tables, r, client, o)
    r.check("GetTables with schemas == /api/v1/sql schemas", tables_with_schemas, r, client, o)
    r.check("GetTables filters (types, name pattern, name and schema)", tables_filters, r, client, o)
    r.check("GetTableTypes", table_types, client, o)
    r.check("GetSqlInfo (all ids and chosen ids)", sql_info, client, o)
    r.check("GetXdbcTypeInfo (all and by data_type)", xdbc_info, client, o)
    r.check("adbc_get_objects depth=all", adbc_objects, r, conn)
    r.check("adbc_get_objects with table name and type filters", adbc_objects_filtered, conn)
    r.check("adbc_get_table_schema == /api/v1/sql schema", adbc_table_schema, r, conn)
    r.check("adbc_get_table_types", adbc_table_types, conn)
    r.check("adbc_get_info", adbc_info, conn)
    r.check("information_schema.tables over Flight", information_schema, r, conn)
    # Prepared statements.
    sids = series_ids(r)
    r.check("adbc prepared $1 (two executions, two bindings)", adbc_prepared_dollar, r, conn, sids)
    r.check("adbc prepared ? (strings) and ? ? (UInt64, Float64)", adbc_prepared_question, r, conn, sids)
    r.check("pyarrow.flight prepared: create, schemas, DoPut bind, DoGet, close", flight_prepared, r, client, o, sids)
    r.check("pyarrow.flight prepared ? ?: two parameters, each bound", flight_prepared_question, r, client, o, sids)
    # Bad input; after each, a good query on the same connection.
    good = ("SELECT count(*) AS n FROM spans", s.spans)
    r.check("bad ticket (not protobuf) -> INVALID_ARGUMENT", bad_ticket, r, client, o, good)
    r.check("ticket of an unknown command / foreign handle -> INVALID_ARGUMENT", foreign_tickets, r, client, o, good)
    r.check("unknown prepared handle -> NOT_FOUND", unknown_handle, r, client, o, good)
    r.check("malformed SQL and unknown table -> INVALID_ARGUMENT (flight)", malformed_flight, r, client, o, good)
    r.check("malformed SQL -> InvalidArgument (adbc), same cursor answers next", malformed_adbc, conn, good)
    r.check("a statement with an unbound placeholder -> INVALID_ARGUMENT", unbound_placeholder, r, client, o, good)
    r.check("DDL and DML refused, the tables unchanged", ddl_refused, r, conn, client, o, good)
    r.check("two parameter rows -> INVALID_ARGUMENT", two_param_rows, r, client, o, sids, good)
    r.check("over sql.max_result_bytes -> RESOURCE_EXHAUSTED (flight and adbc)", over_result_bytes, r, conn, client, o, good)
    r.check("over sql.timeout -> UNAVAILABLE (flight and adbc)", over_timeout, r, conn, client, o, good)
    conn.close()
    r.check("a new connection after all that", new_connection, r, good)


def seeded_counts(r, s):
    counts = {t: seed.sql_count(r.http, t) for t in TABLES}
    empty = [t for t, n in counts.items() if n == 0]
    assert not empty, f"tables without rows: {empty}"
    want = {"spans": s.spans, "logs": s.logs, "histograms": s.histograms, "exemplars": s.exemplars}
    for t, n in want.items():
        assert counts[t] == n, f"{t}: {counts[t]} rows, seeded {n}"
    assert counts["samples"] >= s.points, counts
    return counts


def adbc_differential(r, conn, table):
    want = seed.sql_arrow(r.http, ORDERED[table])
    with conn.cursor() as cur:
        cur.execute(ORDERED[table])
        got = cur.fetch_arrow_table()
    assert_same(got, want, table)
    return f"{got.num_rows} rows, {got.num_columns} columns"


def flight_differential(r, client, o, table):
    want = seed.sql_arrow(r.http, ORDERED[table])
    info, got = flight_query(client, ORDERED[table], o)
    assert info.schema.equals(want.schema), f"FlightInfo schema {info.schema} != {want.schema}"
    assert_same(got, want, table)
    return f"{got.num_rows} rows"


# DB-API rows are Python objects: columns that convert without pandas (no ns timestamps).
DBAPI = [
    "SELECT * FROM samples ORDER BY series_id, ts",
    "SELECT * FROM series ORDER BY series_id",
    "SELECT trace_id, span_id, name, kind, duration_ns, attributes FROM spans ORDER BY trace_id, span_id",
]


def dbapi_rows(r, conn):
    for q in DBAPI:
        want_table = seed.sql_arrow(r.http, q)
        want = [tuple(row.values()) for row in want_table.to_pylist()]
        with conn.cursor() as cur:
            cur.execute(q)
            got = cur.fetchall()
            names = [d[0] for d in cur.description]
        assert got == want, f"{q}: fetchall {got[:2]} != {want[:2]}"
        assert names == want_table.column_names, names
    return f"{len(DBAPI)} queries, {len(got)} span rows"


def adbc_record_batches(r, conn):
    want = seed.sql_arrow(r.http, ORDERED["spans"])
    with conn.cursor() as cur:
        cur.execute(ORDERED["spans"])
        batches = list(cur.fetch_record_batch())
    assert_same(pa.Table.from_batches(batches, want.schema), want, "spans batches")
    return f"{len(batches)} batches"


def empty_result(r, conn, client, o):
    q = "SELECT * FROM spans WHERE duration_ns < 0"
    want = seed.sql_arrow(r.http, q)
    assert want.num_rows == 0 and want.num_columns > 20, want.schema
    with conn.cursor() as cur:
        cur.execute(q)
        assert_same(cur.fetch_arrow_table(), want, "empty (adbc)")
    info, got = flight_query(client, q, o)
    assert info.schema.equals(want.schema), info.schema
    assert_same(got, want, "empty (flight)")


def catalogs(client, o):
    _, t = flight_command(client, proto.get_catalogs(), o)
    assert t.column_names == ["catalog_name"], t.schema
    assert t.column("catalog_name").to_pylist() == ["datafusion"], t.to_pylist()


def db_schemas(r, client, o):
    # Every schema SQL resolves: DataFusion's `schemata` leaves out `information_schema`
    # itself, whose tables `information_schema.tables` (and GetTables) list.
    q = (
        "SELECT catalog_name, schema_name FROM information_schema.schemata "
        "UNION SELECT table_catalog, table_schema FROM information_schema.tables"
    )
    want = {tuple(x.values()) for x in seed.sql_arrow(r.http, q).to_pylist()}
    _, t = flight_command(client, proto.get_db_schemas(), o)
    rows = {(x["catalog_name"], x["db_schema_name"]) for x in t.to_pylist()}
    assert rows == want and {("datafusion", "public"), ("datafusion", "information_schema")} <= rows, f"{rows} != {want}"
    _, t = flight_command(client, proto.get_db_schemas(catalog="datafusion", pattern="pub%"), o)
    assert [(x["catalog_name"], x["db_schema_name"]) for x in t.to_pylist()] == [("datafusion", "public")], t.to_pylist()
    _, t = flight_command(client, proto.get_db_schemas(catalog="nosuchcatalog"), o)
    assert t.num_rows == 0, t.to_pylist()
    return sorted(rows)


def information_schema_tables(r, where=""):
    q = f"SELECT table_catalog, table_schema, table_name, table_type FROM information_schema.tables {where}"
    return {tuple(x.values()) for x in seed.sql_arrow(r.http, q).to_pylist()}


def all_tables(r, client, o):
    _, t = flight_command(client, proto.get_tables(), o)
    got = {(x["catalog_name"], x["db_schema_name"], x["table_name"], x["table_type"]) for x in t.to_pylist()}
    want = information_schema_tables(r)
    assert got == want, f"GetTables without filters lacks {sorted(want - got)}, has more {sorted(got - want)}"
    _, t = flight_command(client, proto.get_tables(schema_pattern="information%"), o)
    got = {(x["catalog_name"], x["db_schema_name"], x["table_name"], x["table_type"]) for x in t.to_pylist()}
    want = information_schema_tables(r, "WHERE table_schema LIKE 'information%'")
    assert got == want and want, f"schema pattern information%: {sorted(got)} != information_schema.tables {sorted(want)}"
    return f"{len(got)} tables"


def public_tables(client, o, **kw):
    _, t = flight_command(client, proto.get_tables(catalog="datafusion", schema_pattern="public", **kw), o)
    return t


def tables_with_schemas(r, client, o):
    t = public_tables(client, o, include_schema=True)
    assert t.column_names == ["catalog_name", "db_schema_name", "table_name", "table_type", "table_schema"], t.schema
    rows = {x["table_name"]: x for x in t.to_pylist()}
    assert set(rows) == set(TABLES), sorted(rows)
    for name, row in rows.items():
        assert row["table_type"] == ("VIEW" if name in VIEWS else "BASE TABLE"), row["table_type"]
        schema = pa.ipc.read_schema(pa.py_buffer(row["table_schema"]))
        want = seed.sql_arrow(r.http, f"SELECT * FROM {name} LIMIT 0").schema
        assert schema.names == want.names and schema.types == want.types, f"{name}: {schema} != {want}"
    return f"{len(rows)} tables"


def tables_filters(r, client, o):
    t = public_tables(client, o, table_types=["BASE TABLE"])
    assert set(t.column("table_name").to_pylist()) == set(TABLES) - VIEWS, t.to_pylist()
    assert "table_schema" not in t.column_names, t.schema
    t = public_tables(client, o, table_types=["VIEW"])
    assert t.column("table_name").to_pylist() == ["metrics"], t.to_pylist()
    t = public_tables(client, o, table_pattern="hist%")
    assert sorted(t.column("table_name").to_pylist()) == ["histogram_buckets", "histograms"], t.to_pylist()
    # As Grafana's Flight SQL datasource asks for one table's columns.
    _, t = flight_command(client, proto.get_tables(table_pattern="samples", include_schema=True), o)
    assert t.column("table_name").to_pylist() == ["samples"], t.to_pylist()
    schema = pa.ipc.read_schema(pa.py_buffer(t.column("table_schema")[0].as_py()))
    assert schema.names == ["series_id", "ts", "value"], schema


def table_types(client, o):
    _, t = flight_command(client, proto.get_table_types(), o)
    types = t.column("table_type").to_pylist()
    assert {"BASE TABLE", "VIEW"} <= set(types), types
    listed = set(public_tables(client, o).column("table_type").to_pylist())
    assert listed <= set(types), f"GetTables types {listed} not all in GetTableTypes {types}"
    return types


def sql_info(client, o):
    _, t = flight_command(client, proto.get_sql_info(), o)
    info = dict(zip(t.column("info_name").to_pylist(), t.column("value").to_pylist()))
    # FlightSql.proto SqlInfo: 0 server name, 1 version, 2 arrow version, 3 read only.
    assert info.get(0) == "Strata", info.get(0)
    assert info.get(1), "no FLIGHT_SQL_SERVER_VERSION"
    assert info.get(3) is True, f"FLIGHT_SQL_SERVER_READ_ONLY {info.get(3)!r}"
    _, t = flight_command(client, proto.get_sql_info([0, 3]), o)
    assert sorted(t.column("info_name").to_pylist()) == [0, 3], t.to_pylist()
    return {k: info[k] for k in sorted(info)[:6]}


def xdbc_info(client, o):
    _, t = flight_command(client, proto.get_xdbc_type_info(), o)
    names = set(t.column("type_name").to_pylist())
    assert {"BIGINT", "DOUBLE", "VARCHAR", "TIMESTAMP"} <= names, names
    # XdbcDataType: BIGINT = -5.
    _, t = flight_command(client, proto.get_xdbc_type_info(-5), o)
    assert t.num_rows >= 1 and set(t.column("data_type").to_pylist()) == {-5}, t.to_pylist()
    return sorted(names)


def adbc_objects(r, conn):
    objs = conn.adbc_get_objects(depth="all").read_all().to_pylist()
    cat = [c for c in objs if c["catalog_name"] == "datafusion"]
    assert cat, [c["catalog_name"] for c in objs]
    schemas = {s["db_schema_name"]: s for s in cat[0]["catalog_db_schemas"]}
    assert "public" in schemas, sorted(schemas)
    tables = {t["table_name"]: t for t in schemas["public"]["db_schema_tables"]}
    assert set(tables) == set(TABLES), sorted(tables)
    cols = [c["column_name"] for c in tables["samples"]["table_columns"]]
    want = seed.sql_arrow(r.http, "SELECT * FROM samples LIMIT 0").column_names
    assert cols == want, f"{cols} != {want}"


def adbc_objects_filtered(conn):
    objs = conn.adbc_get_objects(depth="tables", table_name_filter="hist%").read_all().to_pylist()
    names = sorted(t["table_name"] for c in objs for s in c["catalog_db_schemas"] or [] for t in s["db_schema_tables"] or [])
    assert names == ["histogram_buckets", "histograms"], names
    objs = conn.adbc_get_objects(depth="tables", db_schema_filter="public", table_types_filter=["VIEW"]).read_all().to_pylist()
    names = sorted(t["table_name"] for c in objs for s in c["catalog_db_schemas"] or [] for t in s["db_schema_tables"] or [])
    assert names == ["metrics"], names


def adbc_table_schema(r, conn):
    for name in ("samples", "spans", "metrics"):
        got = conn.adbc_get_table_schema(name)
        want = seed.sql_arrow(r.http, f"SELECT * FROM {name} LIMIT 0").schema
        assert got.names == want.names and got.types == want.types, f"{name}: {got} != {want}"


def adbc_table_types(conn):
    types = conn.adbc_get_table_types()
    assert {"BASE TABLE", "VIEW"} <= set(types), types
    return types


def adbc_info(conn):
    info = conn.adbc_get_info()
    assert info.get("vendor_name") == "Strata", info
    assert info.get("vendor_version"), info
    return {k: info[k] for k in ("vendor_name", "vendor_version", "vendor_arrow_version") if k in info}


def information_schema(r, conn):
    q = "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name"
    with conn.cursor() as cur:
        cur.execute(q)
        got = cur.fetch_arrow_table()
    assert_same(got, seed.sql_arrow(r.http, q), "information_schema.tables")


def series_ids(r):
    t = seed.sql_arrow(r.http, "SELECT metric, series_id FROM series ORDER BY metric")
    return dict(zip(t.column("metric").to_pylist(), t.column("series_id").to_pylist()))


def uint64_param(sid):
    """series_id is UInt64 (above Int64's range for most ids): ADBC binds Python ints as
    Int64, so the id goes as an Arrow batch, as ADBC's DB-API allows."""
    return pa.record_batch([pa.array([sid], pa.uint64())], names=["$1"])


def adbc_prepared_dollar(r, conn, sids):
    q = "SELECT ts, value FROM samples WHERE series_id = $1 ORDER BY ts"
    with conn.cursor() as cur:
        for metric in ("acme_temperature", "acme_jobs_done_total"):
            sid = sids[metric]
            cur.execute(q, uint64_param(sid))
            got = cur.fetch_arrow_table()
            want = seed.sql_arrow(r.http, q.replace("$1", str(sid)))
            assert want.num_rows > 0, metric
            assert_same(got, want, f"$1 = {sid} ({metric})")
        # A Python int (Int64) where the column is Float64: cast to the placeholder's type.
        q = "SELECT ts, value FROM samples WHERE value > $1 AND value < $2 ORDER BY ts, value"
        cur.execute(q, (21, 103))
        got = cur.fetch_arrow_table()
        want = seed.sql_arrow(r.http, "SELECT ts, value FROM samples WHERE value > 21 AND value < 103 ORDER BY ts, value")
        assert want.num_rows > 0
        assert_same(got, want, "$1 = 21, $2 = 103 (ints for Float64)")
    return f"series {sorted(sids.values())}"


def adbc_prepared_question(r, conn, sids):
    q = "SELECT metric FROM series WHERE metric = ? OR metric = ? ORDER BY metric"
    with conn.cursor() as cur:
        a, b = sorted(sids)[:2]
        cur.execute(q, (a, b))
        got = cur.fetch_arrow_table()
        want = seed.sql_arrow(r.http, f"SELECT metric FROM series WHERE metric = '{a}' OR metric = '{b}' ORDER BY metric")
        assert want.num_rows == 2, want
        assert_same(got, want, "? ?")
        sid = sids["acme_temperature"]
        q = "SELECT ts, value FROM samples WHERE series_id = ? AND value > ? ORDER BY ts"
        cur.execute(q, pa.record_batch([pa.array([sid], pa.uint64()), pa.array([21.0])], names=["0", "1"]))
        got = cur.fetch_arrow_table()
        want = seed.sql_arrow(r.http, f"SELECT ts, value FROM samples WHERE series_id = {sid} AND value > 21.0 ORDER BY ts")
        assert 0 < want.num_rows < 4, want
        assert_same(got, want, "? (UInt64) ? (Float64)")


def bind(client, handle, params, o):
    """DoPut of one parameter batch; the handle to use next (a server may answer a new one
    in DoPutPreparedStatementResult)."""
    descriptor = fl.FlightDescriptor.for_command(proto.prepared_query(handle))
    writer, reader = client.do_put(descriptor, params.schema, o)
    writer.write_table(params)
    writer.done_writing()
    meta = reader.read()
    writer.close()
    if meta is not None and len(meta.to_pybytes()):
        new = proto.parse(meta.to_pybytes()).get(1)
        if new:
            return new[0]
    return handle


def flight_prepared(r, client, o, sids):
    q = "SELECT ts, value FROM samples WHERE series_id = $1 ORDER BY ts"
    (res,) = action(client, "CreatePreparedStatement", proto.create_prepared(q), o)
    handle, ds, ps = proto.prepared_result(res)
    assert handle, "an empty handle"
    sid = sids["acme_temperature"]
    want = seed.sql_arrow(r.http, q.replace("$1", str(sid)))
    dataset = pa.ipc.read_schema(pa.py_buffer(ds))
    assert dataset.names == want.schema.names and dataset.types == want.schema.types, f"{dataset} != {want.schema}"
    params = pa.ipc.read_schema(pa.py_buffer(ps))
    assert len(params) == 1 and pa.types.is_integer(params.types[0]), f"parameter schema {params}"
    handle = bind(client, handle, pa.table({"$1": pa.array([sid], pa.uint64())}), o)
    info, got = flight_command(client, proto.prepared_query(handle), o)
    assert_same(got, want, "prepared DoGet")
    action(client, "ClosePreparedStatement", proto.close_prepared(handle), o)
    msg = expect_flight_error("NOT_FOUND", client.get_flight_info, fl.FlightDescriptor.for_command(proto.prepared_query(handle)), o)
    return f"closed handle: {msg}"


def flight_prepared_question(r, client, o, sids):
    q = "SELECT metric FROM series WHERE metric = ? OR metric = ? ORDER BY metric"
    (res,) = action(client, "CreatePreparedStatement", proto.create_prepared(q), o)
    handle, _, ps = proto.prepared_result(res)
    params = pa.ipc.read_schema(pa.py_buffer(ps))
    assert len(params) == 2 and all(pa.types.is_string(t) or pa.types.is_large_string(t) for t in params.types), f"parameter schema {params}"
    a, b = sorted(sids)[:2]
    handle = bind(client, handle, pa.table({"a": [a], "b": [b]}), o)
    _, got = flight_command(client, proto.prepared_query(handle), o)
    want = seed.sql_arrow(r.http, f"SELECT metric FROM series WHERE metric = '{a}' OR metric = '{b}' ORDER BY metric")
    assert want.num_rows == 2
    assert_same(got, want, "? ?")
    action(client, "ClosePreparedStatement", proto.close_prepared(handle), o)


def assert_good(r, client, o, good):
    _, t = flight_query(client, good[0], o)
    assert t.column(0).to_pylist() == [good[1]], f"after the error, {good[0]} gave {t.to_pylist()}"


def bad_ticket(r, client, o, good):
    msg = expect_flight_error("INVALID_ARGUMENT", lambda: client.do_get(fl.Ticket(b"garbage\xff\x00"), o).read_all())
    assert_good(r, client, o, good)
    return msg


def foreign_tickets(r, client, o, good):
    m1 = expect_flight_error("INVALID_ARGUMENT", lambda: client.do_get(fl.Ticket(proto.any_msg("CommandNoSuchThing", b"x")), o).read_all())
    m2 = expect_flight_error("INVALID_ARGUMENT", lambda: client.do_get(fl.Ticket(proto.ticket_statement(b"not a strata handle")), o).read_all())
    assert_good(r, client, o, good)
    return f"{m1} | {m2}"


def unknown_handle(r, client, o, good):
    handle = os.urandom(16)
    m1 = expect_flight_error("NOT_FOUND", client.get_flight_info, fl.FlightDescriptor.for_command(proto.prepared_query(handle)), o)
    m2 = expect_flight_error("NOT_FOUND", lambda: client.do_get(fl.Ticket(proto.prepared_query(handle)), o).read_all())
    m3 = expect_flight_error("NOT_FOUND", bind, client, handle, pa.table({"$1": pa.array([1], pa.uint64())}), o)
    assert_good(r, client, o, good)
    return f"{m1} | {m2} | {m3}"


def malformed_flight(r, client, o, good):
    out = []
    for sql in ("SELEC 1 FROM", "SELECT * FROM no_such_table"):
        out.append(expect_flight_error("INVALID_ARGUMENT", client.get_flight_info, fl.FlightDescriptor.for_command(proto.statement_query(sql)), o))
        out.append(expect_flight_error("INVALID_ARGUMENT", action, client, "CreatePreparedStatement", proto.create_prepared(sql), o))
    assert_good(r, client, o, good)
    return " | ".join(out)


def unbound_placeholder(r, client, o, good):
    q = "SELECT ts FROM samples WHERE value > $1"
    msg = expect_flight_error("INVALID_ARGUMENT", flight_query, client, q, o)
    assert_good(r, client, o, good)
    return msg


def malformed_adbc(conn, good):
    with conn.cursor() as cur:
        msg = expect_adbc_error("INVALID_ARGUMENT", cur.execute, "SELEC 1 FROM")
        cur.execute(good[0])
        assert cur.fetchall() == [(good[1],)]
    return msg


def ddl_refused(r, conn, client, o, good):
    before = sorted(public_tables(client, o).column("table_name").to_pylist())
    out = []
    for sql in ("CREATE TABLE t (a INT)", "DROP TABLE spans", "INSERT INTO spans SELECT * FROM spans", "SET datafusion.execution.batch_size = 1"):
        with conn.cursor() as cur:
            out.append(expect_adbc_error("INVALID_ARGUMENT", cur.execute, sql)[:60])
    after = sorted(public_tables(client, o).column("table_name").to_pylist())
    assert before == after, f"{before} -> {after}"
    assert seed.sql_count(r.http, "spans") == good[1]
    assert_good(r, client, o, good)
    return " | ".join(out)


def two_param_rows(r, client, o, sids, good):
    q = "SELECT ts, value FROM samples WHERE series_id = $1 ORDER BY ts"
    (res,) = action(client, "CreatePreparedStatement", proto.create_prepared(q), o)
    handle, _, _ = proto.prepared_result(res)

    def bind_and_get(ids):
        h = bind(client, handle, pa.table({"$1": pa.array(ids, pa.uint64())}), o)
        return flight_command(client, proto.prepared_query(h), o)[1]

    # One row binds (else the refusal below could be any failure of the bind path).
    sid = sids["acme_temperature"]
    assert bind_and_get([sid]).num_rows > 0
    msg = expect_flight_error("INVALID_ARGUMENT", bind_and_get, [sid, sid])
    assert_good(r, client, o, good)
    assert bind_and_get([sid]).num_rows > 0, "one row after two"
    return msg


def over_result_bytes(r, conn, client, o, good):
    status, body = seed.post(r.http, "/api/v1/sql", BIG.encode(), {"Accept": seed.ARROW})
    assert status == 422, f"/api/v1/sql over the limit: {status} (the test's config must set max_result_bytes)"
    m1 = expect_flight_error("RESOURCE_EXHAUSTED", lambda: flight_query(client, BIG, o))
    assert "max_result_bytes" in m1, m1
    with conn.cursor() as cur:
        m2 = expect_adbc_error("RESOURCE_EXHAUSTED", lambda: (cur.execute(BIG), cur.fetch_arrow_table()))
        cur.execute(good[0])
        assert cur.fetchall() == [(good[1],)]
    assert_good(r, client, o, good)
    return f"{m1} | {m2}"


def over_timeout(r, conn, client, o, good):
    start = time.time()
    status, body = seed.post(r.http, "/api/v1/sql", LONG.encode())
    assert status == 503, f"/api/v1/sql over the timeout: {status} {body[:200]!r} (the test's config must set timeout)"
    m1 = expect_flight_error("UNAVAILABLE", lambda: flight_query(client, LONG, o))
    with conn.cursor() as cur:
        m2 = expect_adbc_error("UNAVAILABLE", lambda: (cur.execute(LONG), cur.fetch_arrow_table()))
        cur.execute(good[0])
        assert cur.fetchall() == [(good[1],)]
    took = time.time() - start
    assert took < 60, f"three 3 s timeouts took {took:.0f} s"
    assert_good(r, client, o, good)
    return f"{m1} | {m2[:100]}"


def new_connection(r, good):
    conn = r.adbc()
    with conn.cursor() as cur:
        cur.execute(good[0])
        assert cur.fetchall() == [(good[1],)]
    conn.close()
