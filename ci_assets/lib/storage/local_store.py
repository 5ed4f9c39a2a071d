"""The object store of the embedded local default: `<root>/<bucket>/<key>` on disk."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ci_assets.lib import scratch
from ci_assets.lib.storage.object_store import (
    DEFAULT_PAGE_SIZE,
    BucketNotFoundError,
    InvalidKeyError,
    ListPage,
    ObjectInfo,
    ObjectNotFoundError,
    ObjectStore,
    StoredObject,
    validate_bucket_name,
)

# Writers stage their bytes under this marker next to the target; listings skip them.
TEMP_MARKER = ".ci-assets-partial-"


def _etag(stat: os.stat_result) -> str:
    # Hashing every file on each listing would make listing cost the bucket's bytes;
    # mtime and size change whenever a writer replaces the object.
    return f"{stat.st_mtime_ns:x}-{stat.st_size:x}"


def _info(key: str, stat: os.stat_result) -> ObjectInfo:
    modified = dt.datetime.fromtimestamp(stat.st_mtime, tz=dt.UTC)
    return ObjectInfo(key=key, size=stat.st_size, etag=_etag(stat), last_modified=modified)


class LocalObjectStore(ObjectStore):
    def __init__(self, root: str | os.PathLike[str], fsync: bool = True):
        self.root = Path(root).expanduser().resolve()
        self.fsync = fsync

    def _bucket_dir(self, bucket: str) -> Path:
        return self.root / validate_bucket_name(bucket)

    def _path(self, bucket: str, key: str) -> Path:
        if not key or key.startswith("/") or "\\" in key or "\x00" in key:
            raise InvalidKeyError(f"key {key!r} is empty, absolute or has a backslash/NUL: refused")
        parts = key.split("/")
        if any(part in ("", ".", "..") for part in parts):
            raise InvalidKeyError(
                f"key {key!r} has an empty, '.' or '..' segment and could escape the store root: refused"
            )
        if any(part.startswith(TEMP_MARKER) for part in parts):
            raise InvalidKeyError(f"key {key!r} uses the reserved marker {TEMP_MARKER!r}")
        bucket_dir = self._bucket_dir(bucket)
        path = bucket_dir.joinpath(*parts)
        # Symlinks inside the root could still point outside it.
        if not path.resolve().is_relative_to(bucket_dir.resolve()):
            raise InvalidKeyError(f"key {key!r} resolves outside bucket {bucket!r}: refused")
        return path

    def uri(self, bucket: str, key: str = "") -> str:
        base = self._bucket_dir(bucket)
        return (self._path(bucket, key) if key else base).as_uri()

    def local_path(self, bucket: str, key: str) -> str | None:
        return str(self._path(bucket, key))

    def create_bucket(self, bucket: str) -> None:
        self._bucket_dir(bucket).mkdir(parents=True, exist_ok=True)

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        try:
            return _info(key, self._path(bucket, key).stat())
        except (FileNotFoundError, NotADirectoryError):
            return None

    def get(self, bucket: str, key: str, if_none_match: str | None = None) -> StoredObject | None:
        path = self._path(bucket, key)
        try:
            with path.open("rb") as f:
                info = _info(key, os.fstat(f.fileno()))
                if if_none_match is not None and info.etag == if_none_match:
                    return None
                return StoredObject(info=info, data=f.read())
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFoundError(bucket, key) from None

    @contextlib.contextmanager
    def open(self, bucket: str, key: str) -> Iterator[BinaryIO]:
        try:
            f = self._path(bucket, key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFoundError(bucket, key) from None
        with f:
            yield f

    @contextlib.contextmanager
    def writer(self, bucket: str, key: str) -> Iterator[BinaryIO]:
        with self.staged_file(bucket, key) as temp, open(temp, "wb") as out:
            yield out

    def sweep_leftovers(self, bucket: str, key: str) -> None:
        scratch.sweep(self._path(bucket, key).parent, TEMP_MARKER)

    @contextlib.contextmanager
    def staged_file(self, bucket: str, key: str) -> Iterator[str]:
        path = self._path(bucket, key)
        # A directory tree can't hold both "a" and "a/b", which S3 can: say so plainly.
        if path.is_dir():
            raise InvalidKeyError(f"key {key!r} is a folder of other keys in the local store")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise InvalidKeyError(f"key {key!r} lies under another key in the local store") from None
        temp = path.with_name(scratch.owned_name(TEMP_MARKER, path.name))
        try:
            yield str(temp)
            if self.fsync:
                fd = os.open(temp, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            # rename() within one directory is atomic: readers see the old file or the new.
            os.replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)

    def delete(self, bucket: str, key: str) -> None:
        self._path(bucket, key).unlink(missing_ok=True)

    def list_page(
        self,
        bucket: str,
        prefix: str = "",
        start_after: str | None = None,
        max_keys: int = DEFAULT_PAGE_SIZE,
    ) -> ListPage:
        bucket_dir = self._bucket_dir(bucket)
        if not bucket_dir.is_dir():
            raise BucketNotFoundError(bucket, f"no directory {bucket_dir}")
        objects: list[ObjectInfo] = []
        for info in _walk_sorted(bucket_dir, "", prefix, start_after or ""):
            if len(objects) == max_keys:
                return ListPage(objects, next_start_after=objects[-1].key)
            objects.append(info)
        return ListPage(objects, next_start_after=None)


def _walk_sorted(directory: Path, base: str, prefix: str, start_after: str) -> Iterator[ObjectInfo]:
    """Keys under `directory` in S3 order, skipping whole subtrees that sort before
    `start_after` or lie outside `prefix`, so resuming a listing costs what is left."""
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return
    # A directory's keys all start with "<name>/": sorting it by that string puts it
    # exactly where its keys belong among its sibling files.
    named = [(base + e.name + ("/" if e.is_dir() else ""), e) for e in entries]
    named.sort(key=lambda pair: pair[0].encode())
    for name, entry in named:
        if entry.name.startswith(TEMP_MARKER):
            continue
        if entry.is_dir():
            if not (name.startswith(prefix) or prefix.startswith(name)):
                continue
            if start_after >= name and not start_after.startswith(name):
                continue
            yield from _walk_sorted(Path(entry.path), name, prefix, start_after)
        elif name.startswith(prefix) and name.encode() > start_after.encode():
            yield _info(name, entry.stat())
