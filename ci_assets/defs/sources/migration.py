"""The five-step server-side change of seed 001, as functions the migration job's ops call.

reserve -> backfill -> cut over (the writer writes old and new) -> fill the gap ->
verify (same partitions, record counts and `_id` sets) -> repoint sources.json -> let the
writer drop the old location. Nothing repoints unless verification passed.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ci_assets.defs.sources import routing
from ci_assets.defs.sources.registry import MIGRATED_FROM, SOURCES_JSON, parse_schema, parse_sources, schema_path
from ci_assets.lib.storage.object_store import ObjectNotFoundError, ObjectStore

RESERVATIONS = "reservations"


class MigrationError(RuntimeError):
    """A step that must not go on: the target is taken, or the copy is not the original."""


@dataclasses.dataclass(frozen=True)
class Plan:
    source: str
    old: routing.Location
    new: routing.Location
    dimensions: tuple[str, ...]


def _keys(store: ObjectStore, location: routing.Location) -> dict[str, str]:
    """relative key -> ETag of everything under a location."""
    bucket, prefix = location
    base = f"{prefix}/" if prefix else ""
    return {o.key[len(base) :]: o.etag for o in store.list(bucket, prefix=base)}


def _full(location: routing.Location, relative: str) -> str:
    return f"{location[1]}/{relative}" if location[1] else relative


def reserve(store: ObjectStore, metadata_bucket: str, source: str, new_prefix: str) -> Plan:
    found = routing.entry(store, metadata_bucket, source)
    old = (found["bucket"], found["prefix"].strip("/"))
    new = (found["bucket"], new_prefix.strip("/"))
    if not new[1] or new == old or new[1].startswith(old[1] + "/") or old[1].startswith(new[1] + "/"):
        raise MigrationError(f"{source}: the new prefix {new[1]!r} must be a place of its own, apart from {old[1]!r}")
    if _keys(store, new):
        raise MigrationError(f"{source}: s3://{new[0]}/{new[1]}/ already holds data; choose a new prefix")
    marker = f"{RESERVATIONS}/{new[0]}/{new[1]}.json"
    try:
        holder = json.loads(store.get_bytes(metadata_bucket, marker))["source"]
    except ObjectNotFoundError:
        holder = None
    if holder not in (None, source):
        raise MigrationError(f"s3://{new[0]}/{new[1]}/ is reserved by source {holder!r}")
    store.put(metadata_bucket, marker, json.dumps({"source": source, "from": old[1]}).encode())
    dimensions = tuple(parse_schema(store.get_bytes(metadata_bucket, schema_path(found)), source))
    return Plan(source, old, new, dimensions)


def copy_missing(store: ObjectStore, plan: Plan) -> dict[str, int]:
    """Copy what the new location lacks (or holds in another version), partition by partition
    (one folder per dimension); returns the objects copied per partition."""
    old, new = _keys(store, plan.old), _keys(store, plan.new)
    by_partition: dict[str, list[str]] = defaultdict(list)
    for relative, etag in old.items():
        if relative not in new or new[relative] != etag:
            by_partition["/".join(relative.split("/")[: len(plan.dimensions)])].append(relative)

    def one(relative: str) -> None:
        store.put(plan.new[0], _full(plan.new, relative), store.get_bytes(plan.old[0], _full(plan.old, relative)))

    with ThreadPoolExecutor(max_workers=8) as pool:
        for partition in sorted(by_partition):
            list(pool.map(one, by_partition[partition]))
    return {p: len(keys) for p, keys in sorted(by_partition.items())}


def _contents(store: ObjectStore, location: routing.Location, depth: int) -> dict[tuple[str, ...], dict[str, Any]]:
    """partition (one folder per dimension) -> record count and `_id`s (digests for other files)."""
    out: dict[tuple[str, ...], dict[str, Any]] = defaultdict(lambda: {"records": 0, "ids": set(), "files": {}})
    for relative in _keys(store, location):
        parts = relative.split("/")
        partition = tuple(parts[:depth])
        body = store.get_bytes(location[0], _full(location, relative))
        if relative.endswith(".json.gz"):
            for line in gzip.decompress(body).splitlines():
                if line.strip():
                    out[partition]["records"] += 1
                    out[partition]["ids"].add(json.loads(line).get("_id"))
        else:
            out[partition]["files"][relative] = hashlib.sha256(body).hexdigest()
    return out


def verify(store: ObjectStore, plan: Plan) -> dict[str, Any]:
    """The new location holds exactly the old one's partitions, records and `_id`s.

    The live writer keeps writing both (old first) while this runs, so the old location
    is read before and after the new one: before <= new <= after, partition by partition,
    is "the same" for data that is still growing.
    """
    depth = len(plan.dimensions)
    before = _contents(store, plan.old, depth)
    new = _contents(store, plan.new, depth)
    after = _contents(store, plan.old, depth)
    problems = []
    for partition in sorted(set(before) | set(new) | set(after)):
        a, b, c = before.get(partition), new.get(partition), after.get(partition)
        where = "/".join(partition) or "(top)"
        if b is None or c is None:
            problems.append(
                f"partition {where} is {'missing from the new location' if b is None else 'not in the old'}"
            )
            continue
        if a is not None and not (a["ids"] <= b["ids"] and a["records"] <= b["records"]):
            problems.append(
                f"partition {where}: {len(a['ids'] - b['ids'])} record(s) of the old location are not in the new"
            )
        if not (b["ids"] <= c["ids"] and b["records"] <= c["records"]):
            problems.append(f"partition {where}: {len(b['ids'] - c['ids'])} record(s) are only in the new location")
        if not (set((a or {"files": {}})["files"].items()) <= set(b["files"].items()) <= set(c["files"].items())):
            problems.append(f"partition {where}: other files differ")
    if problems:
        raise MigrationError(f"{plan.source}: the new location is not the old one: " + "; ".join(problems[:10]))
    return {"partitions": len(new), "records": sum(p["records"] for p in new.values())}


def repoint(store: ObjectStore, metadata_bucket: str, plan: Plan) -> None:
    sources = parse_sources(store.get_bytes(metadata_bucket, SOURCES_JSON))
    moved = {
        "bucket": plan.new[0],
        "prefix": plan.new[1],
        MIGRATED_FROM: {"bucket": plan.old[0], "prefix": plan.old[1]},
    }
    sources[plan.source] = {**sources[plan.source], **moved}
    store.put(metadata_bucket, SOURCES_JSON, json.dumps(sources, indent=2, sort_keys=True).encode())
