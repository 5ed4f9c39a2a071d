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
import psycopg.conninfo
import pytest

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.documents import build_hash
from ci_assets.defs.buildhub.samples import make_document
from ci_assets_tests.services.databases import RestartablePostgres, restartable_postgres
from ci_assets_tests.services.search_site import serve
from ci_assets_tests.services.tcp_proxy import tcp_proxy


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


def test_a_database_gone_in_the_middle_of_a_request_is_a_503_and_the_next_one_is_answered(
    postgres_dsn: str,
) -> None:
    """The search's query is in flight (held by a lock the test takes) when every connection to
    PostgreSQL is cut: that request is answered 503 JSON at once, and once the database is
    reachable again the next request is answered from a fresh connection."""
    with psycopg.connect(postgres_dsn) as conn:
        store.ensure_schema(conn)
        conn.execute(f"TRUNCATE {store.SCHEMA}.main_build")
        rng = random.Random(6)
        store.insert_builds(conn, [store.NewBuild(build_hash(d), d, None, None) for d in map(make_document, [rng] * 5)])
    where = psycopg.conninfo.conninfo_to_dict(postgres_dsn)
    with tcp_proxy("127.0.0.1", int(where.get("port") or 5432)) as proxy:
        through = psycopg.conninfo.make_conninfo(postgres_dsn, port=proxy.port)
        with serve(through) as url, httpx.Client(base_url=url, timeout=60) as client:
            assert client.post("/api/search", json={"size": 0}).json()["hits"]["total"] == 5
            with psycopg.connect(postgres_dsn) as holder, ThreadPoolExecutor(1) as pool:
                holder.execute(f"LOCK TABLE {store.SCHEMA}.main_build IN ACCESS EXCLUSIVE MODE")
                waiting = pool.submit(client.post, "/api/search", json={"size": 1})
                until(lambda: _waiting_on_the_lock(postgres_dsn), 10)
                proxy.outage(2)
                started = time.monotonic()
                answer = waiting.result()
                assert time.monotonic() - started < 6
                holder.rollback()
            assert answer.status_code == 503 and "database is unavailable" in answer.json()["error"], answer.text
            assert answer.headers["Retry-After"] == "5"
            until(lambda: client.post("/api/search", json={"size": 0}).status_code == 200, 30)
            assert client.post("/api/search", json={"size": 0}).json()["hits"]["total"] == 5


def _waiting_on_the_lock(dsn: str) -> bool:
    with psycopg.connect(dsn) as conn:
        found = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%main_build%'"
        ).fetchone()
    return bool(found and found[0])
