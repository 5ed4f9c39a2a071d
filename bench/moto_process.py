"""moto's S3 server in a process of its own, so the benchmark's client threads don't share its GIL.

`latency_ms` holds each request that long before moto answers it (a sleep on the request's own
thread, in moto's process), as a round trip to real S3 costs ~20 ms: the client's CPU is then
not shared with a proxy in its own process.

`direct_gets` answers a plain GetObject (no query but a presigned URL's signature, no range)
from moto's own store, the object's bytes, ETag and Last-Modified, without moto's request routing
and response building: about 2 ms of moto's CPU a GET, which on a 2-core machine makes moto the
bottleneck (~480 GETs/s) and takes the CPU the client would have (real S3 takes none of the
client machine's). Everything else, and any GET that is not plain, goes to moto as before.
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
latency, direct, answer = float(sys.argv[2]), sys.argv[3] == "1", DomainDispatcherApplication.__call__
if direct:
    import urllib.parse
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends
    routed = answer
    SIGNED = {"AWSAccessKeyId", "Signature", "Expires"}
    def answer(self, environ, start_response):
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        presigned = all(name.startswith("X-Amz-") or name in SIGNED for name in query)  # a signature's only
        if environ["REQUEST_METHOD"] == "GET" and presigned and "HTTP_RANGE" not in environ:
            bucket, _, key = environ["PATH_INFO"].lstrip("/").partition("/")
            found = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets.get(bucket)
            stored = found.keys.get(urllib.parse.unquote(key)) if found is not None and key else None
            if stored is not None:
                body = stored.value
                start_response("200 OK", [
                    ("ETag", stored.etag), ("Last-Modified", stored.last_modified_RFC1123),
                    ("Content-Length", str(len(body))), ("Content-Type", "binary/octet-stream"),
                ])
                return [body]
        return routed(self, environ, start_response)
if latency or direct:
    def held(self, environ, start_response):
        time.sleep(latency)
        return answer(self, environ, start_response)
    DomainDispatcherApplication.__call__ = held
ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False).start()
while True:
    time.sleep(3600)
"""


@contextmanager
def moto_server(latency_ms: float = 0.0, direct_gets: bool = False) -> Iterator[str]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(port), str(latency_ms / 1000), "1" if direct_gets else "0"],
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", timeout=30)
        time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()
