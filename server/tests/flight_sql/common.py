"""What the Flight SQL checks share: the check runner, clients for both libraries, and
assertions on gRPC status codes as each library reports them."""

import sys
import traceback

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow as pa
import pyarrow.flight as fl
from adbc_driver_flightsql import DatabaseOptions

import proto

# gRPC code name -> (the exception pyarrow.flight raises for it, the words of its message,
# ADBC's text for it). Arrow's Flight client turns INVALID_ARGUMENT and RESOURCE_EXHAUSTED
# into ArrowInvalid, NOT_FOUND into ArrowKeyError, UNIMPLEMENTED into ArrowNotImplementedError
# ("Flight returned <words> error, with message: ..."), the others into FlightError classes.
CODES = {
    "UNAUTHENTICATED": (fl.FlightUnauthenticatedError, "unauthenticated", "Unauthenticated"),
    "PERMISSION_DENIED": (fl.FlightUnauthorizedError, "permission denied", "PermissionDenied"),
    "INVALID_ARGUMENT": (pa.ArrowInvalid, "invalid argument", "InvalidArgument"),
    "NOT_FOUND": (pa.ArrowKeyError, "not found", "NotFound"),
    "RESOURCE_EXHAUSTED": (pa.ArrowInvalid, "resource exhausted", "ResourceExhausted"),
    "UNIMPLEMENTED": (pa.ArrowNotImplementedError, "unimplemented", "Unimplemented"),
    "UNAVAILABLE": (fl.FlightUnavailableError, "unavailable", "Unavailable"),
}
GRPC_NUMBERS = {"UNAUTHENTICATED": 16, "PERMISSION_DENIED": 7, "INVALID_ARGUMENT": 3, "NOT_FOUND": 5, "RESOURCE_EXHAUSTED": 8, "UNIMPLEMENTED": 12, "UNAVAILABLE": 14}

TABLES = ["samples", "series", "metrics", "spans", "logs", "exemplars", "histograms", "histogram_buckets"]


class Run:
    def __init__(self, http, grpc):
        self.http = http
        self.grpc = grpc
        self.passed = []
        self.failed = []

    def check(self, name, fn, *args):
        """Runs one check; a failure is printed and counted, the next check still runs."""
        try:
            detail = fn(*args)
        except Exception as e:  # noqa: BLE001 - every failure is reported, then the next check runs
            self.failed.append(name)
            print(f"FAIL {name}: {type(e).__name__}: {e}")
            tb = traceback.format_exc().strip().splitlines()
            print("     " + "\n     ".join(tb[-6:]))
        else:
            self.passed.append(name)
            print(f"PASS {name}" + (f": {detail}" if detail else ""))
        sys.stdout.flush()

    def report(self):
        print(f"\n{len(self.passed)} passed, {len(self.failed)} failed")
        for name in self.failed:
            print(f"  failed: {name}")
        return 1 if self.failed else 0

    # --- clients ---

    def flight(self):
        return fl.FlightClient(f"grpc://{self.grpc}")

    def adbc(self, token=None, tenant=None, basic=None):
        """An ADBC connection: a Bearer token, an x-scope-orgid header, or Basic (user, password)."""
        kwargs = {}
        if token is not None:
            kwargs[DatabaseOptions.AUTHORIZATION_HEADER.value] = f"Bearer {token}"
        if tenant is not None:
            kwargs[DatabaseOptions.RPC_CALL_HEADER_PREFIX.value + "x-scope-orgid"] = tenant
        if basic is not None:
            kwargs["username"], kwargs["password"] = basic
        return flightsql.connect(f"grpc://{self.grpc}", db_kwargs=kwargs, autocommit=True)


def opts(token=None, tenant=None, timeout=120):
    headers = []
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    if tenant is not None:
        headers.append((b"x-scope-orgid", tenant.encode()))
    return fl.FlightCallOptions(headers=headers, timeout=timeout)


def flight_query(client, sql, options):
    """CommandStatementQuery: GetFlightInfo, then DoGet of each endpoint; (info, Table)."""
    info = client.get_flight_info(fl.FlightDescriptor.for_command(proto.statement_query(sql)), options)
    assert info.endpoints, f"{sql!r}: a FlightInfo with no endpoint"
    tables = [client.do_get(e.ticket, options).read_all() for e in info.endpoints]
    return info, pa.concat_tables(tables)


def flight_command(client, command, options):
    info = client.get_flight_info(fl.FlightDescriptor.for_command(command), options)
    assert info.endpoints, "a FlightInfo with no endpoint"
    return info, pa.concat_tables([client.do_get(e.ticket, options).read_all() for e in info.endpoints])


def action(client, kind, body, options):
    return [r.body.to_pybytes() for r in client.do_action(fl.Action(kind, body), options)]


def expect_flight_error(code, fn, *args):
    """fn(*args) through pyarrow.flight must fail with gRPC `code` and a message."""
    cls, words, _ = CODES[code]
    try:
        fn(*args)
    except (fl.FlightError, pa.ArrowException) as e:
        text = str(e)
        assert isinstance(e, cls), f"expected {code} ({cls.__name__}), got {type(e).__name__}: {text}"
        if code in ("INVALID_ARGUMENT", "RESOURCE_EXHAUSTED", "NOT_FOUND"):
            assert words in text.lower() or code in text, f"expected {code}, got {type(e).__name__}: {text}"
        message = text.split("gRPC client debug context")[0].split("with message:")[-1].strip(" .'\"")
        assert len(message) > 3, f"{code} without a message: {text!r}"
        return f"{code}: {message[:140]}"
    raise AssertionError(f"expected {code}, the call succeeded")


def expect_adbc_error(code, fn, *args):
    """fn(*args) through ADBC must fail naming gRPC `code` (ADBC's Go driver writes the
    code in CamelCase, e.g. "(InvalidArgument; Prepare)", and sets vendor_code)."""
    name = CODES[code][2]
    try:
        fn(*args)
    except Exception as e:  # noqa: BLE001 - ADBC raises DB-API Error subclasses
        text = str(e)
        vendor = getattr(e, "vendor_code", None)
        assert name in text or code in text or vendor == GRPC_NUMBERS[code], f"expected {code}, got {type(e).__name__} (vendor_code {vendor}): {text}"
        return f"{code}: {text[:160]}"
    raise AssertionError(f"expected {code}, the call succeeded")


def assert_same(got, want, what):
    """Table.equals, with the first difference spelled out."""
    if got.equals(want):
        return
    if not got.schema.equals(want.schema):
        raise AssertionError(f"{what}: schemas differ:\nflight: {got.schema}\nhttp:   {want.schema}")
    if got.num_rows != want.num_rows:
        raise AssertionError(f"{what}: {got.num_rows} rows, /api/v1/sql has {want.num_rows}")
    for name in want.column_names:
        a, b = got.column(name).to_pylist(), want.column(name).to_pylist()
        if a != b:
            i = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y)
            raise AssertionError(f"{what}: column {name} row {i}: {a[i]!r} != {b[i]!r}")
    raise AssertionError(f"{what}: tables differ")
