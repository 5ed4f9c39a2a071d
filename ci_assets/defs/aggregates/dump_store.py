"""Dump directories in the object store: `aggregates/dumps/<type>/<yyyymmdd>/`.

toc.dat is uploaded last, after every data file, so a toc.dat whose data files are all
there is a complete dump; a day without tables gets an `EMPTY.json` note instead.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ci_assets.defs.aggregates import toc
from ci_assets.lib.storage.object_store import BucketNotFoundError, ObjectStore

TOC = "toc.dat"
EMPTY = "EMPTY.json"


def location(store: ObjectStore, bucket: str, prefix: str) -> str:
    """The dump folder's URI (keys may not end in '/', so the folder is named without it)."""
    return store.uri(bucket, prefix.rstrip("/")) + "/"


def listing(store: ObjectStore, bucket: str, prefix: str) -> dict[str, int]:
    """File name -> size under `prefix`."""
    try:
        return {o.key[len(prefix) :]: o.size for o in store.list(bucket, prefix=prefix)}
    except BucketNotFoundError:
        return {}


def is_complete(store: ObjectStore, bucket: str, prefix: str, files: dict[str, int]) -> bool:
    if TOC not in files:
        return False
    try:
        _, entries = toc.parse(store.get_bytes(bucket, prefix + TOC))
    except toc.TocError:
        return False
    return all(f"{name}.gz" in files or name in files for name in toc.data_files(entries))


def upload_dump(store: ObjectStore, bucket: str, prefix: str, directory: Path, stale: dict[str, int]) -> int:
    """Data files first, stale leftovers removed, toc.dat last; returns the bytes uploaded."""
    if TOC in stale:
        store.delete(bucket, prefix + TOC)  # from here until the end, no toc.dat claims completeness
    data = sorted(p for p in directory.iterdir() if p.name != TOC)
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(lambda p: _put_file(store, bucket, prefix + p.name, p), data))
    for name in set(stale) - {p.name for p in data} - {TOC}:
        store.delete(bucket, prefix + name)
    _put_file(store, bucket, prefix + TOC, directory / TOC)
    return sum(p.stat().st_size for p in data) + (directory / TOC).stat().st_size


def _put_file(store: ObjectStore, bucket: str, key: str, path: Path) -> None:
    with path.open("rb") as f:
        store.put(bucket, key, f)


def write_empty_note(store: ObjectStore, bucket: str, prefix: str, pattern: str) -> str:
    note = f"no table of the source matched {pattern!r} on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    store.put(bucket, prefix + EMPTY, json.dumps({"note": note, "pattern": pattern}).encode())
    return note


def read_empty_note(store: ObjectStore, bucket: str, prefix: str) -> str:
    return str(json.loads(store.get_bytes(bucket, prefix + EMPTY))["note"])


@contextlib.contextmanager
def local_copy(store: ObjectStore, bucket: str, prefix: str, files: dict[str, int]) -> Iterator[Path]:
    """The dump as a local directory: the store's own folder when it is on disk, else a download."""
    here = store.local_path(bucket, prefix + TOC)
    if here is not None:
        yield Path(here).parent
        return
    with tempfile.TemporaryDirectory(prefix="ci-assets-dump-") as tmp:
        directory = Path(tmp)

        def fetch(name: str) -> None:
            with store.open(bucket, prefix + name) as src, (directory / name).open("wb") as out:
                while chunk := src.read(1 << 20):
                    out.write(chunk)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(fetch, [n for n in files if "/" not in n]))
        yield directory
