"""A Buildhub search server over 400 generated builds (module-scoped fixture `corpus`), and the
requests the search tests make of it."""

import json
import random
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.documents import build_hash
from ci_assets.defs.buildhub.samples import make_document
from ci_assets.defs.buildhub.search.api import create_app, ensure_reader_role, reader_dsn
from ci_assets.lib.metrics import MetricsRecorder

DOCUMENTS = 400


@pytest.fixture(scope="module")
def corpus(postgres_dsn: str) -> Iterator[tuple[TestClient, list[dict[str, Any]], MetricsRecorder, str]]:
    rng = random.Random(42)
    documents = [make_document(rng) for _ in range(DOCUMENTS)]
    with psycopg.connect(postgres_dsn) as conn:
        store.ensure_schema(conn)
        conn.execute(f"TRUNCATE {store.SCHEMA}.main_build")
        store.insert_builds(conn, [store.NewBuild(build_hash(d), d, None, None) for d in documents])
        ensure_reader_role(conn)
    metrics = MetricsRecorder("buildhub2-test")
    with TestClient(create_app(reader_dsn(postgres_dsn), metrics)) as client:
        yield client, documents, metrics, postgres_dsn


def post(corpus: Any, body: Any) -> Any:
    response = corpus[0].post("/api/search", content=json.dumps(body))
    assert response.status_code == 200, response.text
    return response.json()


def error(corpus: Any, body: Any) -> str:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = corpus[0].post("/api/search", content=raw)
    assert response.status_code == 400, response.text
    return str(response.json()["error"])
