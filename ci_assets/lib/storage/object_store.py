"""One interface over every object store the platform reads raw inputs from.

Systems list, fetch and write objects through `ObjectStore`; whether the bytes
live in a local directory or in S3 is the environment's business, not theirs.
Keys and listing order follow S3: keys are compared as UTF-8 byte strings and
`start_after` resumes a listing right after the given key (the seed's
`?marker=`).
"""

from __future__ import annotations

import abc
import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator
from typing import BinaryIO

DEFAULT_PAGE_SIZE = 1000


class ObjectStoreError(Exception):
    """Base of every error an object store raises on purpose."""


class InvalidKeyError(ObjectStoreError, ValueError):
    """A key or bucket name that the store refuses (e.g. one escaping its root)."""


class ObjectNotFoundError(ObjectStoreError, FileNotFoundError):
    def __init__(self, bucket: str, key: str):
        super().__init__(f"no object {key!r} in bucket {bucket!r}")
        self.bucket, self.key = bucket, key


class BucketNotFoundError(ObjectStoreError, FileNotFoundError):
    def __init__(self, bucket: str, where: str):
        super().__init__(f"bucket {bucket!r} does not exist ({where})")
        self.bucket = bucket


@dataclasses.dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    etag: str
    last_modified: dt.datetime


@dataclasses.dataclass(frozen=True)
class ListPage:
    objects: list[ObjectInfo]
    # Where the next page starts (pass as `start_after`); None once the listing is done.
    next_start_after: str | None


@dataclasses.dataclass(frozen=True)
class StoredObject:
    info: ObjectInfo
    data: bytes

    @property
    def etag(self) -> str:
        return self.info.etag


class ObjectStore(abc.ABC):
    """What every object store offers; see the module docstring for semantics."""

    @abc.abstractmethod
    def list_page(
        self,
        bucket: str,
        prefix: str = "",
        start_after: str | None = None,
        max_keys: int = DEFAULT_PAGE_SIZE,
    ) -> ListPage: ...

    @abc.abstractmethod
    def head(self, bucket: str, key: str) -> ObjectInfo | None: ...

    @abc.abstractmethod
    def get(self, bucket: str, key: str, if_none_match: str | None = None) -> StoredObject | None:
        """The object and its ETag; None when `if_none_match` equals the current ETag."""

    @abc.abstractmethod
    def open(self, bucket: str, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        """A streaming reader, so large objects never have to fit in memory."""

    @abc.abstractmethod
    def writer(self, bucket: str, key: str) -> contextlib.AbstractContextManager[BinaryIO]:
        """A file to write the object into; it replaces the object atomically on a clean
        exit and leaves the previous object untouched if the block raises."""

    @abc.abstractmethod
    def staged_file(self, bucket: str, key: str) -> contextlib.AbstractContextManager[str]:
        """Like `writer`, but hands out a filesystem path, for tools that write to paths."""

    @abc.abstractmethod
    def delete(self, bucket: str, key: str) -> None: ...

    @abc.abstractmethod
    def create_bucket(self, bucket: str) -> None: ...

    @abc.abstractmethod
    def uri(self, bucket: str, key: str = "") -> str: ...

    def local_path(self, bucket: str, key: str) -> str | None:
        """A filesystem path for the object when the store has one (lets readers scan lazily)."""
        return None

    def sweep_leftovers(self, bucket: str, key: str) -> None:
        """Remove what writers killed mid-write left staged beside `key` (S3's PutObject leaves nothing).
        A writer that replaces the same keys again and again (a partition's file) calls it first;
        staging itself does not, as that would scan a whole folder for every object put."""
        return None

    def put(self, bucket: str, key: str, data: bytes | BinaryIO) -> str:
        """Store `data` atomically and return the new ETag."""
        with self.writer(bucket, key) as out:
            if isinstance(data, bytes | bytearray | memoryview):
                out.write(data)
            else:
                while chunk := data.read(1 << 20):
                    out.write(chunk)
        info = self.head(bucket, key)
        assert info is not None, f"{key!r} vanished right after it was written"
        return info.etag

    def get_bytes(self, bucket: str, key: str) -> bytes:
        stored = self.get(bucket, key)
        assert stored is not None
        return stored.data

    def list(
        self,
        bucket: str,
        prefix: str = "",
        start_after: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> Iterator[ObjectInfo]:
        """Every object after `start_after` under `prefix`, in key order, page by page."""
        cursor = start_after
        while True:
            page = self.list_page(bucket, prefix, cursor, page_size)
            yield from page.objects
            if page.next_start_after is None:
                return
            cursor = page.next_start_after


def validate_bucket_name(bucket: str) -> str:
    """S3's naming rules, enforced locally too so a name that works here works in S3."""
    ok_chars = set("abcdefghijklmnopqrstuvwxyz0123456789.-")
    if not 3 <= len(bucket) <= 63 or not set(bucket) <= ok_chars or bucket[0] in ".-" or ".." in bucket:
        raise InvalidKeyError(
            f"invalid bucket name {bucket!r}: 3-63 characters of a-z, 0-9, '.' and '-', starting with a letter or digit"
        )
    return bucket
