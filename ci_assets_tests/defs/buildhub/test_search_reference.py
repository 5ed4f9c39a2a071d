"""The search engine answers what Elasticsearch 6 would: generated search bodies over generated
corpora, each answered by the engine on PostgreSQL and by the brute-force reference
(es_reference.py) over the same stored documents, and the two responses equal in full — hits and
their order, totals, `_source` filtering, every aggregation's buckets and counts.

CI_ASSETS_REFERENCE_EXAMPLES raises the number of corpora (each asked several requests) for a
longer hunt than the suite's."""

import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.documents import build_hash
from ci_assets.defs.buildhub.search.engine import search
from ci_assets_tests.defs.buildhub.es_reference import Reference
from ci_assets_tests.defs.buildhub.reference_requests import bodies, corpora, for_engine
from ci_assets_tests.services.databases import scratch_database

EXAMPLES = int(os.environ.get("CI_ASSETS_REFERENCE_EXAMPLES", "120"))


@pytest.fixture(scope="module")
def database() -> Iterator[psycopg.Connection]:
    with scratch_database("reference") as dsn, psycopg.connect(dsn, autocommit=True) as conn:
        store.ensure_schema(conn)
        yield conn


def _stored(conn: psycopg.Connection, documents: list[dict[str, Any]]) -> Reference:
    conn.execute(f"TRUNCATE {store.SCHEMA}.main_build RESTART IDENTITY")
    store.insert_builds(conn, [store.NewBuild(build_hash(d), d, None, None) for d in documents])
    rows = conn.execute(f"SELECT build_hash, build FROM {store.SCHEMA}.main_build ORDER BY id").fetchall()
    return Reference([(h, b) for h, b in rows])


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(corpora, st.lists(bodies, min_size=1, max_size=4))
def test_the_engine_answers_as_elasticsearch_6(
    database: psycopg.Connection, documents: list[dict[str, Any]], requests: list[dict[str, Any]]
) -> None:
    reference = _stored(database, documents)
    for body in requests:
        found = search(database, for_engine(body))
        assert found == reference.search(body), body
        # What the run covered (pytest --hypothesis-show-statistics)
        event(f"hits: {'some' if found['hits']['hits'] else 'none'}")
        for name, answer in found.get("aggregations", {}).items():
            event(f"aggregation {name}: {'buckets' if _has_buckets(answer) else 'no buckets'}")


def _has_buckets(answer: Any) -> bool:
    if isinstance(answer, dict):
        return bool(answer.get("buckets")) or any(_has_buckets(v) for v in answer.values())
    return False
