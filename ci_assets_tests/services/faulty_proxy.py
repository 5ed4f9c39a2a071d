"""A loopback HTTP proxy in front of a real server (moto's S3) that answers some requests with an
error the real service sends under load (S3's 503 SlowDown, 500 InternalError) and forwards the rest
unchanged: how the tests show that a client retries within bounds, then fails clearly. It can also
hold every request for a while first (`latency`): the benchmarks' S3 whose requests cost what real
S3's do (~20 ms) rather than what a loopback moto's cost."""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import http.server
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

from ci_assets_tests.services.network import free_port

SLOW_DOWN = (503, b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")
INTERNAL = (500, b"<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>")


@dataclasses.dataclass
class Faults:
    """`fail(method, path, n)` -> an error to answer the n-th request (1-based) with, or None to forward."""

    fail: Callable[[str, str, int], tuple[int, bytes] | None] = lambda method, path, n: None
    latency: float = 0.0  # seconds each request waits before it is answered or forwarded
    seen: int = 0
    failed: int = 0
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)


@contextlib.contextmanager
def faulty_proxy(target: str, faults: Faults) -> Iterator[str]:
    upstream = urlsplit(target)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # quiet
            pass

        def _any(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with faults.lock:
                faults.seen += 1
                error = faults.fail(self.command, self.path, faults.seen)
                faults.failed += error is not None
            if faults.latency:
                time.sleep(faults.latency)
            if error is not None:
                status, payload = error
                self.send_response(status)
                self.send_header("Content-Type", "application/xml")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                headers["Host"] = upstream.netloc
                conn.request(self.command, self.path, body=body or None, headers=headers)
                answer = conn.getresponse()
                payload = answer.read()
                self.send_response(answer.status)
                for key, value in answer.getheaders():
                    if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(key, value)
                # A HEAD answer's length is the object's, with no body.
                length = answer.getheader("Content-Length", "0") if self.command == "HEAD" else str(len(payload))
                self.send_header("Content-Length", length)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
            finally:
                conn.close()

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _any

    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, name="faulty-proxy", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
