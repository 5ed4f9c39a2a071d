"""A Buildhub bucket on moto's S3, a fresh PostgreSQL database, and the resources that use them."""

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
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource
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


@pytest.fixture
def world(moto_endpoint: str, fresh_postgres: str) -> Iterator[BuildhubWorld]:
    bucket = f"buildhub-{uuid.uuid4().hex[:10]}"
    store = S3ObjectStore(endpoint_url=moto_endpoint)
    store.create_bucket(bucket)
    resources = {
        "object_store": ObjectStoreResource(kind="s3", endpoint_url=moto_endpoint),
        "postgres": PostgresResource(dsn=fresh_postgres),
        "buildhub_settings": BuildhubSettings(bucket=bucket, sqs_endpoint_url=moto_endpoint),
    }
    with dg.DagsterInstance.ephemeral() as instance:
        yield BuildhubWorld(store, bucket, resources, instance, fresh_postgres)
