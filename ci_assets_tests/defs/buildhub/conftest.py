"""A Buildhub bucket on moto's S3, a fresh PostgreSQL database, and the resources that use them."""

import contextlib
import dataclasses
import datetime as dt
import random
import uuid
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pytest

from ci_assets.defs.buildhub.samples import encode, key_for, make_document
from ci_assets.defs.buildhub.settings import BuildhubSettings
from ci_assets.lib.storage.object_store_resource import S3ObjectStoreResource
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets.lib.storage.s3_store import S3ObjectStore


@dataclasses.dataclass
class BuildhubWorld:
    store: S3ObjectStore
    bucket: str
    resources: dict[str, Any]
    instance: dg.DagsterInstance
    dsn: str
    rng: random.Random = dataclasses.field(default_factory=lambda: random.Random(3))

    def upload(self, count: int) -> list[tuple[str, dict[str, Any]]]:
        uploaded = []
        for _ in range(count):
            document = make_document(self.rng)
            key = key_for(document)
            self.store.put(self.bucket, key, encode(document))
            uploaded.append((key, document))
        return uploaded

    @property
    def today(self) -> str:
        return dt.datetime.now(dt.UTC).date().isoformat()


@contextlib.contextmanager
def buildhub_world(moto_endpoint: str, dsn: str) -> Iterator[BuildhubWorld]:
    """A new bucket on moto's S3 and the resources that read it into the database at `dsn`."""
    bucket = f"buildhub-{uuid.uuid4().hex[:10]}"
    store = S3ObjectStore(endpoint_url=moto_endpoint)
    store.create_bucket(bucket)
    resources = {
        "object_store": S3ObjectStoreResource(endpoint_url=moto_endpoint),
        "postgres": PostgresResource(dsn=dsn),
        "buildhub_settings": BuildhubSettings(bucket=bucket, sqs_endpoint_url=moto_endpoint),
    }
    with dg.DagsterInstance.ephemeral() as instance:
        yield BuildhubWorld(store, bucket, resources, instance, dsn)


@pytest.fixture
def world(moto_endpoint: str, fresh_postgres: str) -> Iterator[BuildhubWorld]:
    with buildhub_world(moto_endpoint, fresh_postgres) as world:
        yield world


@dataclasses.dataclass(frozen=True)
class Kinto:
    url: str  # ends with /v1
    auth: tuple[str, str]


@pytest.fixture(scope="session")
def kinto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kinto]:
    """A real Kinto server (PyPI's `kinto`, memory backend) with an admin account."""
    import subprocess
    import sys
    from pathlib import Path

    import requests

    from ci_assets_tests.services import processes
    from ci_assets_tests.services.network import free_port, wait_for_http

    workdir = tmp_path_factory.mktemp("kinto")
    kinto_bin = str(Path(sys.executable).parent / "kinto")
    ini = workdir / "kinto.ini"
    subprocess.run(
        [kinto_bin, "init", "--ini", str(ini), "--backend", "memory", "--cache-backend", "memory"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = (workdir / "server.log").open("wb")
    proc = processes.start([kinto_bin, "start", "--ini", str(ini), "--port", str(port)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        wait_for_http(url + "/", timeout=60)
        auth = ("admin", "s3cr3t-for-tests")
        requests.put(f"{url}/accounts/admin", json={"data": {"password": auth[1]}}, timeout=30).raise_for_status()
        bucket = {"permissions": {"read": ["system.Everyone"]}}
        requests.put(f"{url}/buckets/build-hub", json=bucket, auth=auth, timeout=30).raise_for_status()
        requests.put(f"{url}/buckets/build-hub/collections/releases", auth=auth, timeout=30).raise_for_status()
        yield Kinto(url, auth)
    finally:
        processes.stop(proc)
        log.close()


# The search tests' server over generated builds (one per test module).
from ci_assets_tests.defs.buildhub.search_corpus import corpus  # noqa: E402, F401
