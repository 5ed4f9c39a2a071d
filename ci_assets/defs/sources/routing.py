"""Where the live writer of a source writes: `{metadata_prefix}/writer.json` in the metadata bucket.

Readers resolve a source through sources.json; writers through writer.json, which lists
one location, or two while a migration cuts over (old and new both get every write until
sources.json points at the new one, so no reader misses a record whichever it resolved).
"""

from __future__ import annotations

import json
from typing import Any

from ci_assets.defs.sources.registry import SOURCES_JSON, RegistryError, parse_sources
from ci_assets.lib.storage.object_store import ObjectNotFoundError, ObjectStore

Location = tuple[str, str]  # (bucket, prefix)


def entry(store: ObjectStore, metadata_bucket: str, source: str) -> dict[str, Any]:
    sources = parse_sources(store.get_bytes(metadata_bucket, SOURCES_JSON))
    if source not in sources:
        raise RegistryError(f"unknown source {source!r}; the registry has {sorted(sources)}")
    return sources[source]


def _writer_key(source_entry: dict[str, Any]) -> str:
    return f"{str(source_entry['metadata_prefix']).strip('/')}/writer.json"


def writer_targets(store: ObjectStore, metadata_bucket: str, source: str) -> list[Location]:
    found = entry(store, metadata_bucket, source)
    try:
        targets = json.loads(store.get_bytes(metadata_bucket, _writer_key(found)))["targets"]
    except ObjectNotFoundError:
        return [(found["bucket"], found["prefix"].strip("/"))]
    return [(t["bucket"], t["prefix"].strip("/")) for t in targets]


def set_writer_targets(store: ObjectStore, metadata_bucket: str, source: str, targets: list[Location]) -> None:
    body = {"targets": [{"bucket": b, "prefix": p} for b, p in targets]}
    store.put(metadata_bucket, _writer_key(entry(store, metadata_bucket, source)), json.dumps(body).encode())


def write(store: ObjectStore, metadata_bucket: str, source: str, relative_key: str, body: bytes) -> None:
    """The live writer's one write: to every current target, before it is acknowledged."""
    for bucket, prefix in writer_targets(store, metadata_bucket, source):
        store.put(bucket, f"{prefix}/{relative_key}" if prefix else relative_key, body)
