#!/usr/bin/env python3
"""The scrape benchmark's exporter (benches/scripts/scrape-bench.sh): one asyncio HTTP/1.1
server answering /metrics on every loopback address it is reached by, so that 1,000
targets (127.0.X.Y:PORT) are one process. Each body has SERIES series (counters and
gauges in families of 20, ~60 bytes a line), pre-rendered in VARIANTS versions whose
values move on at each request, and pre-gzipped: the exporter's own cost stays small and
the same for every scraper.

    scrape_exporter.py PORT [SERIES]
"""
import asyncio
import gzip
import sys

PORT = int(sys.argv[1])
SERIES = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
VARIANTS = 16


def body(v):
    lines = []
    fams = SERIES // 20
    for f in range(fams):
        kind = "counter" if f % 2 == 0 else "gauge"
        name = f"bench_family_{f}_total" if kind == "counter" else f"bench_family_{f}"
        lines.append(f"# HELP {name} Family {f}.")
        lines.append(f"# TYPE {name} {kind}")
        for k in range(20):
            val = (v + 1) * (k + 3) * 17 + f if kind == "counter" else ((v * 7 + k * 13 + f) % 1000) / 10
            lines.append(f'{name}{{path="/api/v{k % 4}/item",code="{200 + (k % 5)}",shard="{k}"}} {val}')
    return ("\n".join(lines) + "\n").encode()


PLAIN = [body(v) for v in range(VARIANTS)]
GZ = [gzip.compress(b, 1) for b in PLAIN]
count = 0


async def handle(reader, writer):
    global count
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            gz = b"gzip" in head.lower()
            count += 1
            i = count % VARIANTS
            payload = GZ[i] if gz else PLAIN[i]
            enc = b"Content-Encoding: gzip\r\n" if gz else b""
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n" + enc
                         + b"Content-Length: " + str(len(payload)).encode() + b"\r\n\r\n" + payload)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "0.0.0.0", PORT, backlog=2048)
    async with server:
        await server.serve_forever()


asyncio.run(main())
