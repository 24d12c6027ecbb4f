"""TLS checks (flight_sql.rs: `[server.tls] self_signed = true` and the AUTH tokens):
`grpc+tls://` with the server's own certificate as the root, for pyarrow.flight and ADBC,
as docs/flight-sql.md shows; plaintext and an unverified certificate are refused."""

import time

import adbc_driver_flightsql.dbapi as flightsql
import pyarrow.flight as fl
from adbc_driver_flightsql import DatabaseOptions

import proto
from common import flight_command, flight_query, opts

QUERY = "SELECT 1 AS one, 'tls' AS over"


def run(r, cert_path):
    with open(cert_path, "rb") as f:
        pem = f.read()
    r.check("pyarrow.flight over grpc+tls with the certificate as root", flight_tls, r, pem)
    r.check("Basic handshake over grpc+tls", handshake_tls, r, pem)
    r.check("adbc over grpc+tls with tls_root_certs", adbc_tls, r, pem)
    r.check("plaintext grpc:// and a client without the root are refused", refused, r)


def tls_client(r, pem):
    return fl.FlightClient(f"grpc+tls://{r.grpc}", tls_root_certs=pem)


def flight_tls(r, pem):
    client = tls_client(r, pem)
    deadline = time.time() + 60
    while True:  # the listener may still be starting
        try:
            _, t = flight_query(client, QUERY, opts("acme-rw"))
            break
        except fl.FlightUnavailableError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)
    assert t.to_pylist() == [{"one": 1, "over": "tls"}], t.to_pylist()
    _, t = flight_command(client, proto.get_catalogs(), opts("acme-rw"))
    assert t.column("catalog_name").to_pylist() == ["datafusion"], t.to_pylist()


def handshake_tls(r, pem):
    client = tls_client(r, pem)
    header = client.authenticate_basic_token(b"any", b"acme-rw")
    _, t = flight_query(client, QUERY, fl.FlightCallOptions(headers=[header]))
    assert t.num_rows == 1


def adbc_tls(r, pem):
    conn = flightsql.connect(
        f"grpc+tls://{r.grpc}",
        db_kwargs={
            DatabaseOptions.AUTHORIZATION_HEADER.value: "Bearer acme-rw",
            DatabaseOptions.TLS_ROOT_CERTS.value: pem.decode(),
        },
        autocommit=True,
    )
    with conn.cursor() as cur:
        cur.execute(QUERY)
        assert cur.fetchall() == [(1, "tls")]
    conn.close()


def refused(r):
    out = []
    for client in (fl.FlightClient(f"grpc://{r.grpc}"), fl.FlightClient(f"grpc+tls://{r.grpc}")):
        try:
            flight_query(client, QUERY, opts("acme-rw", timeout=10))
        except (fl.FlightError, OSError) as e:
            out.append(f"{type(e).__name__}: {str(e)[:80]}")
        else:
            raise AssertionError(f"{client} was served")
    return " | ".join(out)
