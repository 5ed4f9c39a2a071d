"""Buildhub's search server while its PostgreSQL (a server of the test's own) is stopped, then started
again: the heartbeat says the database is failing within seconds, the API answers 503 JSON with
`Retry-After`, the page and a build's page their own error page, and everything answers again
once the server is back, without restarting the search server."""

import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.documents import build_hash
from ci_assets.defs.buildhub.samples import make_document
from ci_assets_tests.services.databases import RestartablePostgres, restartable_postgres
from ci_assets_tests.services.search_site import serve


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RestartablePostgres]:
    with restartable_postgres(tmp_path / "pgdata") as server:
        with psycopg.connect(server.dsn) as conn:
            store.ensure_schema(conn)
            rng = random.Random(5)
            documents = [make_document(rng) for _ in range(20)]
            store.insert_builds(conn, [store.NewBuild(build_hash(d), d, None, None) for d in documents])
        yield server


def until(answer, timeout: float) -> float:
    """Seconds until `answer()` is true (asked every 0.2 s)."""
    started = time.monotonic()
    while not answer():
        assert time.monotonic() - started < timeout, f"not within {timeout} s"
        time.sleep(0.2)
    return time.monotonic() - started


def test_an_outage_is_answered_at_once_and_in_kind_and_recovered_from(server: RestartablePostgres) -> None:
    with serve(server.dsn) as url, httpx.Client(base_url=url, timeout=60) as client:
        assert client.get("/__heartbeat__").status_code == 200
        assert client.post("/api/search", json={"size": 1}).json()["hits"]["total"] == 20

        server.stop()
        started = time.monotonic()
        heartbeat = client.get("/__heartbeat__")
        failing_after = time.monotonic() - started
        assert heartbeat.status_code == 500 and heartbeat.json()["checks"] == {"database": "error"}
        assert failing_after < 10  # the pool's own wait would be 30 s (bench: buildhub_outage.py)
        # Asked at once, as visitors would: each waits out the pool's bound, none waits for another.
        with ThreadPoolExecutor(6) as pool:
            api = pool.submit(client.post, "/api/search", json={"size": 1})
            pages = {path: pool.submit(client.get, path) for path in ("/", "/?q=firefox", "/builds/1", "/api/records")}
        assert api.result().status_code == 503 and api.result().headers["Retry-After"] == "5"
        assert "database is unavailable" in api.result().json()["error"]
        assert pages.pop("/api/records").result().status_code == 503
        for path, answer in pages.items():
            shown = answer.result()
            assert shown.status_code == 503 and "database is unavailable" in shown.text, path
            assert shown.headers["content-type"].startswith("text/html") and "<h1>" in shown.text

        server.start()
        back_after = until(lambda: client.get("/__heartbeat__").status_code == 200, 60)
        assert client.post("/api/search", json={"size": 1}).json()["hits"]["total"] == 20
        assert client.get("/").status_code == 200
        print(f"heartbeat failing {failing_after:.1f} s after the stop; answering {back_after:.1f} s after the start")
