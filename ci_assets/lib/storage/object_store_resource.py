"""The `object_store` resources: the local and S3 stores behind one interface.

Systems and IO managers ask for `ObjectStoreResource`; the environment's module
decides which of the two it is (an IO manager holds its store as a nested resource).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from typing import Any, BinaryIO

import dagster as dg
from pydantic import PrivateAttr

from ci_assets.lib.storage.local_store import LocalObjectStore
from ci_assets.lib.storage.object_store import DEFAULT_PAGE_SIZE, ListPage, ObjectInfo, ObjectStore, StoredObject


class ObjectStoreResource(dg.ConfigurableResource, ObjectStore):
    """What every store offers; `LocalObjectStoreResource` and `S3ObjectStoreResource` say where."""

    _impl: ObjectStore | None = PrivateAttr(default=None)

    def _make(self) -> ObjectStore:
        raise NotImplementedError

    @property
    def impl(self) -> ObjectStore:
        if self._impl is None:
            self._impl = self._make()
        return self._impl

    def list_page(
        self, bucket: str, prefix: str = "", start_after: str | None = None, max_keys: int = DEFAULT_PAGE_SIZE
    ) -> ListPage:
        return self.impl.list_page(bucket, prefix, start_after, max_keys)

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        return self.impl.head(bucket, key)

    def get(self, bucket: str, key: str, if_none_match: str | None = None) -> StoredObject | None:
        return self.impl.get(bucket, key, if_none_match)

    @contextlib.contextmanager
    def open(self, bucket: str, key: str) -> Iterator[BinaryIO]:
        with self.impl.open(bucket, key) as f:
            yield f

    @contextlib.contextmanager
    def writer(self, bucket: str, key: str) -> Iterator[BinaryIO]:
        with self.impl.writer(bucket, key) as f:
            yield f

    @contextlib.contextmanager
    def staged_file(self, bucket: str, key: str) -> Iterator[str]:
        with self.impl.staged_file(bucket, key) as path:
            yield path

    def delete(self, bucket: str, key: str) -> None:
        self.impl.delete(bucket, key)

    def create_bucket(self, bucket: str) -> None:
        self.impl.create_bucket(bucket)

    def uri(self, bucket: str, key: str = "") -> str:
        return self.impl.uri(bucket, key)

    def local_path(self, bucket: str, key: str) -> str | None:
        return self.impl.local_path(bucket, key)

    def sweep_leftovers(self, bucket: str, key: str) -> None:
        self.impl.sweep_leftovers(bucket, key)


class LocalObjectStoreResource(ObjectStoreResource):
    """Objects under `<root>/<bucket>/<key>` on local disk (the embedded default)."""

    root: str
    # Tests and demos that throw their files away skip the fsync of each write.
    fsync: bool = True

    def _make(self) -> ObjectStore:
        return LocalObjectStore(self.root, fsync=self.fsync)


class S3ObjectStoreResource(ObjectStoreResource):
    """S3, or any endpoint that speaks its API, configured as dagster-aws's `S3Resource` is (the same
    fields: region, endpoint, retries, profile or keys — give keys as EnvVars), whose client that
    resource builds; with nothing set, boto3's own chain finds the region and credentials.

    The fields are S3Resource's own names (a test holds them equal) rather than its configuration
    class inherited: importing dagster_aws costs every run's process 1.5 s (its package imports all
    its components), so it is imported when an S3 store is first used, not when the code loads.
    """

    use_unsigned_session: bool = False
    region_name: str | None = None
    endpoint_url: str | None = None
    max_attempts: int = 5
    profile_name: str | None = None
    use_ssl: bool = True
    verify: bool | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None

    def _make(self) -> ObjectStore:
        from dagster_aws.s3 import S3Resource

        config = tuple((name, getattr(self, name)) for name in S3Resource.model_fields)
        from ci_assets.lib.storage.s3_store import S3ObjectStore  # boto3 only where S3 is used

        client = _s3_client(config)
        return S3ObjectStore(self.endpoint_url, client=client, max_attempts=self.max_attempts, verify=self.verify)


@functools.lru_cache(maxsize=16)
def _s3_client(config: tuple[tuple[str, Any], ...]) -> Any:
    """One client per configuration and process: S3Resource starts a boto3 session for each client
    (~150 ms), and a client is safe to share between threads and resources."""
    from dagster_aws.s3 import S3Resource

    return S3Resource(**dict(config)).get_client()
