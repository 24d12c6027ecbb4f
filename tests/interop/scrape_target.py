#!/usr/bin/env python3
"""A test exporter for tests/interop/prometheus-scrape.sh (stdlib only).

    scrape_target.py PORT [PORT2] STATE_DIR

Serves on PORT:
  /metrics  text format 0.0.4: counters (with a reset-free increment per request),
            a classic histogram, a summary, a gauge that disappears once STATE_DIR/drop exists,
            and a sample whose `instance` label clashes with the target's (exported_instance)
  /om       OpenMetrics 1.0 with exemplars and units, gzipped when the request accepts it;
            its `job` label is honoured by `honor_labels`
On PORT2 (the target file_sd later removes): /metrics, a counter and a gauge.
Values depend only on the count of requests for that path, so both scrapers see series of
the same shape.
"""
import gzip
import http.server
import os
import sys
import threading

STATE = sys.argv[-1]
counts = {}
lock = threading.Lock()


def text(n, port):
    lines = [
        "# HELP demo_requests_total Requests handled.",
        "# TYPE demo_requests_total counter",
        f'demo_requests_total{{code="200",method="get"}} {100 + n * 7}',
        f'demo_requests_total{{code="500",method="get"}} {n // 3}',
        "# HELP demo_latency_seconds Request latency.",
        "# TYPE demo_latency_seconds histogram",
    ]
    cum = 0
    for le, inc in (("0.1", 5), ("0.5", 3), ("1", 1), ("+Inf", 1)):
        cum += inc * (n + 1)
        lines.append(f'demo_latency_seconds_bucket{{le="{le}"}} {cum}')
    lines += [
        f"demo_latency_seconds_sum {0.37 * (n + 1):.2f}",
        f"demo_latency_seconds_count {cum}",
        "# TYPE demo_rpc_seconds summary",
        f'demo_rpc_seconds{{quantile="0.5"}} 0.25',
        f'demo_rpc_seconds{{quantile="0.99"}} 1.5',
        f"demo_rpc_seconds_sum {n * 0.5}",
        f"demo_rpc_seconds_count {n}",
        'demo_clash{instance="from-the-body"} 1',
        f'demo_escapes{{path="C:\\\\dir",msg="say \\"hi\\"\\nbye"}} 2',
        "demo_special +Inf",
    ]
    if not os.path.exists(os.path.join(STATE, "drop")):
        lines += ["# TYPE demo_temperature gauge", "demo_temperature 21.5"]
    if port != PORTS[0]:
        lines = [f"vanish_total {n}", "vanish_gauge 1"]
    return ("\n".join(lines) + "\n").encode()


def om(n):
    return (
        "# TYPE demo_events counter\n"
        "# HELP demo_events Events seen.\n"
        f'demo_events_total{{job="exposed"}} {n} # {{trace_id="4bf92f3577b34da6a3ce929d0e0e4736"}} 1.0\n'
        "# TYPE demo_size_bytes gauge\n"
        "# UNIT demo_size_bytes bytes\n"
        "demo_size_bytes 1024\n"
        "# EOF\n"
    ).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        port = self.server.server_address[1]
        key = (port, self.path)
        with lock:
            counts[key] = counts.get(key, 0) + 1
            n = counts[key]
        if self.path == "/metrics":
            body, ctype = text(n, port), "text/plain; version=0.0.4; charset=utf-8"
        elif self.path == "/om" and port == PORTS[0]:
            body, ctype = om(n), "application/openmetrics-text; version=1.0.0; charset=utf-8"
        else:
            self.send_response(404)
            self.end_headers()
            return
        encoding = None
        if "gzip" in (self.headers.get("Accept-Encoding") or "") and self.path == "/om":
            body, encoding = gzip.compress(body), "gzip"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        if encoding:
            self.send_header("Content-Encoding", encoding)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


PORTS = [int(p) for p in sys.argv[1:-1]]
servers = [http.server.ThreadingHTTPServer(("127.0.0.1", p), Handler) for p in PORTS]
for s in servers[1:]:
    threading.Thread(target=s.serve_forever, daemon=True).start()
servers[0].serve_forever()
