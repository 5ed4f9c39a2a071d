"""Buildhub's search server (page and API) over generated builds in a scratch database, served by
uvicorn on a free port for as long as the context lasts (the browser tests and the search benches)."""

from __future__ import annotations

import contextlib
import dataclasses
import random
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import uvicorn

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.documents import build_hash
from ci_assets.defs.buildhub.samples import make_document
from ci_assets.defs.buildhub.search.api import create_app, ensure_reader_role, reader_dsn
from ci_assets_tests.services.databases import scratch_database
from ci_assets_tests.services.network import free_port, wait_for_http


@dataclasses.dataclass(frozen=True)
class SearchSite:
    url: str  # the page; the API is at {url}/api/search
    dsn: str  # the owner's
    documents: list[dict[str, Any]]


@contextlib.contextmanager
def search_site(
    builds: int, seed: int = 100, name: str = "search_site", keep: int | None = None
) -> Iterator[SearchSite]:
    """`keep`: hold only every n-th document in `documents`, about `keep` of them (millions of
    builds are generated and stored chunk by chunk, never all in memory)."""
    every = max(1, builds // keep) if keep else 1
    with scratch_database(name) as dsn:
        rng = random.Random(seed)
        documents: list[dict[str, Any]] = []
        with psycopg.connect(dsn) as conn:
            store.ensure_schema(conn)
            for start in range(0, builds, 5000):
                chunk = [make_document(rng) for _ in range(min(5000, builds - start))]
                store.insert_builds(conn, [store.NewBuild(build_hash(d), d, None, None) for d in chunk])
                conn.commit()
                documents.extend(chunk[(-start) % every :: every])
            ensure_reader_role(conn)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"VACUUM ANALYZE {store.SCHEMA}.main_build")
        with serve(dsn) as url:
            yield SearchSite(url, dsn, documents)


@contextlib.contextmanager
def serve(dsn: str) -> Iterator[str]:
    """The search server over the database the owner's `dsn` names (its reader role made), by uvicorn
    on a free port: its URL, for as long as the context lasts."""
    with psycopg.connect(dsn) as conn:
        ensure_reader_role(conn)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(reader_dsn(dsn)), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="search-site", daemon=True)
    thread.start()
    try:
        wait_for_http(f"http://127.0.0.1:{port}/__lbheartbeat__", timeout=30)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
