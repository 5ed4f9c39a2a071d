"""A loopback TCP proxy in front of a server (a PostgreSQL): `outage(seconds)` drops every open
connection and refuses new ones for a while, which is what a database restart looks like to its
clients, for a server the test cannot restart itself (the machine's)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator


class TcpProxy:
    def __init__(self, target: tuple[str, int]):
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._stopped = False
        threading.Thread(target=self._accept, daemon=True, name="tcp-proxy").start()

    def outage(self, seconds: float) -> None:
        """Every connection is cut now, and new ones are refused for `seconds`."""
        self._down_until = time.monotonic() + seconds
        with self._lock:
            for sock in list(self._open):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def close(self) -> None:
        self._stopped = True
        self.outage(0)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if time.monotonic() < self._down_until:
                client.close()  # the server is "restarting"
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)  # the timeout was for connecting: a pooled connection idles
            with self._lock:
                self._open |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with self._lock:
                self._open -= {source, sink}


@contextlib.contextmanager
def tcp_proxy(host: str, port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy((host, port))
    try:
        yield proxy
    finally:
        proxy.close()
