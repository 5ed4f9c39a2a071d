"""The `/api/search` and `/api/records` endpoints as an ASGI app (`ci-assets search` serves it).

Queries run as a read-only role in read-only transactions, on a small pool of
connections. Bad requests answer 400 with `{"error": ...}`; nothing a client sends
can turn into a 500 or into SQL text.
"""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import conninfo, sql
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.search.engine import search
from ci_assets.defs.buildhub.search.fields import SearchError
from ci_assets.lib.metrics import MetricsRecorder

READER_ROLE = "buildhub_search"
MAX_BODY_BYTES = 1 << 20


def ensure_reader_role(conn: psycopg.Connection) -> None:
    """A login role that can only read Buildhub's tables (created by the owner's connection)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('ci_assets.buildhub.reader'))")
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER_ROLE,)).fetchone()
    if not exists:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(READER_ROLE)))
    schema = sql.Identifier(store.SCHEMA)
    role = sql.Identifier(READER_ROLE)
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
    conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(schema, role))


def reader_dsn(owner_dsn: str) -> str:
    return conninfo.make_conninfo(owner_dsn, user=READER_ROLE, password="")


class ConnectionPool:
    def __init__(self, dsn: str, size: int = 4):
        self._dsn = dsn
        self._idle: queue.LifoQueue[psycopg.Connection] = queue.LifoQueue()
        self._size = size

    def _open(self) -> psycopg.Connection:
        conn = psycopg.connect(self._dsn, autocommit=True, options="-c default_transaction_read_only=on")
        conn.execute("SET statement_timeout = '30s'")
        return conn

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._open()
        try:
            yield conn
        except psycopg.OperationalError:
            conn.close()
            raise
        if not conn.closed and self._idle.qsize() < self._size:
            self._idle.put(conn)
        else:
            conn.close()


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def create_app(dsn: str, metrics: MetricsRecorder | None = None) -> Starlette:
    """`dsn` is the read-only role's; see `reader_dsn`."""
    pool = ConnectionPool(dsn)
    recorder = metrics or MetricsRecorder("buildhub2")

    def run_search(body: Any) -> dict[str, Any]:
        with pool.connection() as conn:
            return search(conn, body)

    async def api_search(request: Request) -> JSONResponse:
        recorder.incr("api_search_requests", tags=[f"method:{request.method}"])
        started = time.perf_counter()
        raw = await request.body()
        if request.method == "GET" and not raw:
            raw = (request.query_params.get("source") or "{}").encode()
        if len(raw) > MAX_BODY_BYTES:
            return _error(f"request body larger than {MAX_BODY_BYTES} bytes")
        try:
            body = json.loads(raw or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            return _error(f"Invalid JSON: {err}")
        except RecursionError:
            return _error("Invalid JSON: nested too deeply")
        try:
            response = await run_in_threadpool(run_search, body)
        except SearchError as err:
            return _error(str(err))
        except RecursionError:
            return _error("request nested too deeply")
        except psycopg.errors.QueryCanceled:
            return _error("the search took too long", status=503)
        elapsed_ms = (time.perf_counter() - started) * 1000
        recorder.timing("api_search", elapsed_ms)
        recorder.gauge("api_search_records", response["hits"]["total"])
        response["took"] = round(elapsed_ms)
        return JSONResponse(response)

    def count() -> int:
        with pool.connection() as conn:
            return store.count_builds(conn)

    async def api_records(request: Request) -> JSONResponse:
        return JSONResponse({"builds": {"total": await run_in_threadpool(count)}})

    return Starlette(
        routes=[
            Route("/api/search", api_search, methods=["GET", "POST"]),
            Route("/api/records", api_records, methods=["GET"]),
        ]
    )
