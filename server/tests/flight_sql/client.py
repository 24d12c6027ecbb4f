"""Real Flight SQL clients against `strata serve` (run by server/tests/flight_sql.rs):
`adbc_driver_flightsql.dbapi` (ADBC's Go driver, DB-API and Arrow) and `pyarrow.flight`
with hand-built Flight SQL commands (proto.py). Expected values come from what seed.py
wrote and from /api/v1/sql's Arrow IPC answer, never from the Flight service.

Usage: client.py HTTP_ADDR GRPC_ADDR MODE, MODE one of
  core   every table, metadata, prepared statements, bad input (no auth configured)
  auth   tokens, scopes, Basic handshake, tenant isolation (the AUTH tokens of flight_sql.rs)
  seed-large  the samples of the large result
  warm   after a restart: the samples are there, one query ran (flight_sql.rs then reads the RSS)
  large  a large streamed result, the memory pool, and a cancelled stream
  long   a long aggregation whose client gives up (flight_sql.rs then watches the CPU)
  tls CERT  grpc+tls:// with the server's self-signed certificate CERT
Each check prints PASS or FAIL with what it saw; the exit status is 1 when any failed."""

import sys
import traceback

import checks_auth
import checks_core
import checks_large
import checks_tls
from common import Run


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    http, grpc, mode = sys.argv[1], sys.argv[2], sys.argv[3]
    if mode == "cancel-child":
        return checks_large.cancel_child(grpc, sys.argv[4])
    run = Run(http, grpc)
    if mode == "tls":
        try:
            checks_tls.run(run, sys.argv[4])
        except Exception:
            run.failed.append("setup")
            traceback.print_exc(file=sys.stdout)
        return run.report()
    modes = {
        "core": checks_core.run,
        "auth": checks_auth.run,
        "seed-large": checks_large.seed_only,
        "warm": checks_large.warm,
        "large": checks_large.run,
        "long": checks_large.long_query,
    }
    try:
        modes[mode](run)
    except Exception:
        run.failed.append("setup")
        print("FAIL setup (the checks after it did not run):")
        traceback.print_exc(file=sys.stdout)
    return run.report()


if __name__ == "__main__":
    sys.exit(main())
