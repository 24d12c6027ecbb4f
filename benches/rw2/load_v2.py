#!/usr/bin/env python3
"""../shared/bench's `load_peers.py rw`, unchanged except for the request headers: it
sends `Content-Type: application/x-protobuf;proto=io.prometheus.write.v2.Request` and
`X-Prometheus-Remote-Write-Version: 2.0.0`, so the files convert.py made are loaded by the
very client that loads the remote-write 1.0 ones (same threads, windows, keep-alive).

    load_v2.py --ds DIR --url URL [--workers N]      (SHARED_BENCH names ../shared/bench)
"""
import os
import sys

sys.path.insert(0, os.environ["SHARED_BENCH"])
import load_peers  # noqa: E402

_post_init = load_peers.Poster.__init__


def _v2_init(self, url, headers):
    headers = {**headers, "Content-Type": "application/x-protobuf;proto=io.prometheus.write.v2.Request",
               "X-Prometheus-Remote-Write-Version": "2.0.0"}
    _post_init(self, url, headers)


load_peers.Poster.__init__ = _v2_init
sys.argv = [sys.argv[0], "rw", *sys.argv[1:]]
sys.exit(load_peers.main())
