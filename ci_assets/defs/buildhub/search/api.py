"""Buildhub's search server as an ASGI app (`ci-assets search` serves it): the search page at `/`
and each build's at `/builds/<build hash>` (page.py; JSON to `Accept: application/json`), `/api/search`,
`/api/records` (CORS open, as Buildhub2's), and Dockerflow's `/__version__`, `/__heartbeat__`,
`/__lbheartbeat__`.

Queries run as a read-only role in read-only transactions, on psycopg's connection pool. Bad
requests answer 400 with `{"error": ...}`; nothing a client sends can turn into a 500 or into
SQL text.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import conninfo, sql
from psycopg_pool import ConnectionPool, PoolTimeout
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.search import page
from ci_assets.defs.buildhub.search.body import parse as parse_body
from ci_assets.defs.buildhub.search.engine import search
from ci_assets.defs.buildhub.search.fields import SearchError
from ci_assets.defs.buildhub.search.safety import NONCE, SecurityHeaders
from ci_assets.lib.metrics import MetricsRecorder
from ci_assets.lib.version import version_info

READER_ROLE = "buildhub_search"
MAX_BODY_BYTES = 1 << 20
POOL_SIZE = 8
# A database that does not answer is reported within seconds, not after the pool's default 30 s
# (a load balancer's probe gives up first): a connection attempt gets CONNECT_SECONDS, a request
# waits at most WAIT_SECONDS for a pooled connection, and is told to come back in RETRY_AFTER.
CONNECT_SECONDS = 3
WAIT_SECONDS = 4
RETRY_AFTER = "5"
# The delivery bucket's keys (pub/...) as archive.mozilla.org serves them.
ARCHIVE_URL = "https://archive.mozilla.org/"


def ensure_reader_role(conn: psycopg.Connection) -> None:
    """A login role that can only read Buildhub's tables (created by the owner's connection)."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('ci_assets.buildhub.reader'))")
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER_ROLE,)).fetchone()
    if not exists:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(READER_ROLE)))
    store.INVENTORY.ensure_schema(conn)  # the page's footer reads which keys are still pending
    role = sql.Identifier(READER_ROLE)
    for name in (store.SCHEMA, "inventory"):
        schema = sql.Identifier(name)
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
        conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA {} TO {}").format(schema, role))


def reader_dsn(owner_dsn: str) -> str:
    return conninfo.make_conninfo(owner_dsn, user=READER_ROLE, password="")


def _error(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _wants_json(request: Request) -> bool:
    """A client that asks for JSON and not for HTML (curl -H 'Accept: application/json'); a browser
    asks for HTML."""
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


async def _database_down(request: Request, err: Exception) -> Response:
    """Any route, when the database cannot be reached or drops the connection: 503 and when to come
    back, as JSON under /api and as the page's own error page elsewhere (never a bare 500)."""
    if isinstance(err, psycopg.errors.QueryCanceled):
        message = "the search took too long"
    else:
        detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        message = f"the database is unavailable, try again shortly ({detail})"
    headers = {"Retry-After": RETRY_AFTER}
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": message}, status_code=503, headers=headers)
    rendered = page.render_error(message, getattr(request.state, NONCE, ""))
    return HTMLResponse(rendered, status_code=503, headers=headers)


def create_app(
    dsn: str,
    metrics: MetricsRecorder | None = None,
    bucket: str | None = None,
    version_file: Path | None = None,
    archive_url: str | None = ARCHIVE_URL,
) -> Starlette:
    """`dsn` is the read-only role's; see `reader_dsn`. `bucket`: Buildhub's, whose pending keys the
    page's footer counts. `version_file`: the image's Dockerflow version.json (Buildhub2 served its own
    at `/__version__`). `archive_url`: where the bucket's keys are served, for a build's raw
    buildhub.json (None: no such link)."""
    served_version = version_info(version_file)
    # psycopg's own pool: read-only sessions with a statement timeout, checked before each use
    # (a restarted database costs one failed check, not a 500); opened and closed with the app.
    pool = ConnectionPool(
        dsn,
        min_size=1,
        max_size=POOL_SIZE,
        kwargs={
            "autocommit": True,
            "connect_timeout": CONNECT_SECONDS,
            "options": "-c default_transaction_read_only=on -c statement_timeout=30s",
        },
        check=ConnectionPool.check_connection,
        timeout=WAIT_SECONDS,
        open=False,
    )
    recorder = metrics or MetricsRecorder("buildhub2")

    def run_search(body: Any) -> dict[str, Any]:
        with pool.connection() as conn:
            try:
                return search(conn, body)
            except psycopg.errors.DataError as err:  # a pattern or value PostgreSQL refuses (e.g. include "[")
                raise SearchError(f"invalid value in the search: {err.diag.message_primary or err}") from None

    async def api_search(request: Request) -> JSONResponse:
        recorder.incr("api_search_requests", tags=[f"method:{request.method}"])
        started = time.perf_counter()
        raw = await request.body()
        if request.method == "GET" and not raw:
            raw = (request.query_params.get("source") or "{}").encode()
        if len(raw) > MAX_BODY_BYTES:
            return _error(f"request body larger than {MAX_BODY_BYTES} bytes", status=413)
        try:
            body = parse_body(raw)
        except SearchError as err:
            return _error(str(err))
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

    footer = page.Footer(bucket, pool.connection)

    def run_page(state: page.State, nonce: str) -> str:
        with pool.connection() as conn:
            try:
                return page.render_search(conn, state, footer.read(), nonce)
            except psycopg.errors.DataError as err:
                raise SearchError(f"invalid value in the search: {err.diag.message_primary or err}") from None

    async def search_page(request: Request) -> HTMLResponse:
        state, nonce = page.State.of(request.query_params), getattr(request.state, NONCE)
        try:
            return HTMLResponse(await run_in_threadpool(run_page, state, nonce))
        except (SearchError, RecursionError) as err:
            message = str(err) or "the search is nested too deeply"
            return HTMLResponse(page.render_error(message, nonce), status_code=400)
        except psycopg.errors.QueryCanceled:
            return HTMLResponse(page.render_error("the search took too long", nonce), status_code=503)

    def find_build(ref: str) -> tuple[store.StoredBuild | None, str | None]:
        """The build a permalink names (its hash), or where an old row-id permalink now points."""
        with pool.connection() as conn:
            if ref.isdigit():
                return None, store.hash_of_row(conn, ref)
            return store.build_by_hash(conn, ref), None

    async def build_page(request: Request) -> Response:
        ref = request.path_params["ref"]
        found, moved_to = await run_in_threadpool(find_build, ref)
        if moved_to:
            return RedirectResponse(f"/builds/{quote(moved_to, safe=':')}", status_code=301)
        status, vary = (200 if found else 404), {"Vary": "Accept"}
        if _wants_json(request):
            body = found.document if found else {"error": f"Buildhub has no build {ref}"}
            return JSONResponse(body, status_code=status, headers=vary)
        raw = archive_url + quote(found.s3_object_key) if found and found.s3_object_key and archive_url else None
        rendered = page.render_build(found.document if found else None, ref, getattr(request.state, NONCE), raw)
        return HTMLResponse(rendered, status_code=status, headers=vary)

    def database_check() -> str | None:
        """None when the database answers, else why not."""
        try:
            with pool.connection() as conn:
                conn.execute(f"SELECT 1 FROM {store.SCHEMA}.main_build LIMIT 1")
        except (psycopg.Error, PoolTimeout) as err:
            return str(err).strip() or type(err).__name__
        return None

    async def heartbeat(request: Request) -> JSONResponse:
        problem = await run_in_threadpool(database_check)
        if problem is None:
            return JSONResponse({"status": "ok", "checks": {"database": "ok"}, "details": {}})
        details = {"database": {"status": "error", "level": 40, "messages": {"buildhub.E001": problem}}}
        return JSONResponse({"status": "error", "checks": {"database": "error"}, "details": details}, status_code=500)

    # CORS is open on the API, as Buildhub2's was (any site may search builds), and only there.
    api = Mount(
        "/api",
        routes=[Route("/search", api_search, methods=["GET", "POST"]), Route("/records", api_records, methods=["GET"])],
        middleware=[
            Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["GET", "POST"], allow_headers=["*"])
        ],
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool.open()
        try:
            yield
        finally:
            pool.close()

    return Starlette(
        lifespan=lifespan,
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={psycopg.OperationalError: _database_down, PoolTimeout: _database_down},
        routes=[
            Route("/", search_page, methods=["GET"]),
            Route("/builds/{ref}", build_page, methods=["GET"]),
            api,
            Route("/__version__", lambda request: JSONResponse(served_version), methods=["GET"]),
            Route("/__heartbeat__", heartbeat, methods=["GET", "HEAD"]),
            Route("/__lbheartbeat__", lambda request: JSONResponse({}), methods=["GET", "HEAD"]),
        ],
    )
