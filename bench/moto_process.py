"""moto's S3 server in a process of its own, so the benchmark's client threads don't share its GIL.

`latency_ms` holds each request that long before moto answers it (a sleep on the request's own
thread, in moto's process), as a round trip to real S3 costs ~20 ms: the client's CPU is then
not shared with a proxy in its own process.
"""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from ci_assets_tests.services.network import free_port, wait_for_http

_SERVER = """
import logging, sys, time
logging.getLogger("werkzeug").setLevel(logging.ERROR)
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.server import ThreadedMotoServer
latency, answer = float(sys.argv[2]), DomainDispatcherApplication.__call__
if latency:
    def held(self, environ, start_response):
        time.sleep(latency)
        return answer(self, environ, start_response)
    DomainDispatcherApplication.__call__ = held
ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False).start()
while True:
    time.sleep(3600)
"""


@contextmanager
def moto_server(latency_ms: float = 0.0) -> Iterator[str]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(port), str(latency_ms / 1000)], stderr=subprocess.DEVNULL
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", timeout=30)
        time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()
