"""sources.json and schema.json (registry.md, seed 001): their shapes, read strictly, written from the graph.

An asset whose data lives in the object store declares metadata `source` = {name,
description, bucket (or the `root` resource whose bucket and prefix it lives under), prefix,
dimensions, doclink}; the registry is those declarations, so it lists exactly what the
platform writes. Keys a reader does not know are kept.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

import dagster as dg

PRODUCTION_METADATA_BUCKET = "net-mozaws-prod-us-west-2-pipeline-metadata"
SOURCES_JSON = "sources.json"
REQUIRED = ("description", "bucket", "prefix", "metadata_prefix")
OPTIONAL = ("doclink",)


class RegistryError(ValueError):
    """A sources.json or schema.json that a reader cannot trust, or a name it does not have."""


def parse_sources(text: str | bytes) -> dict[str, dict[str, Any]]:
    try:
        sources = json.loads(text)
    except ValueError as e:  # not JSON, or not UTF-8
        raise RegistryError(f"{SOURCES_JSON} is not JSON ({e})") from None
    if not isinstance(sources, dict):
        raise RegistryError(f"{SOURCES_JSON} is a JSON {type(sources).__name__}, not an object of sources")
    for name, entry in sources.items():
        if not isinstance(entry, dict):
            raise RegistryError(f"{SOURCES_JSON}: source {name!r} is not an object")
        missing = [f for f in REQUIRED if not isinstance(entry.get(f), str)]
        if missing:
            raise RegistryError(f"{SOURCES_JSON}: source {name!r} lacks {missing} (each a string)")
    return sources


def schema_path(entry: Mapping[str, Any]) -> str:
    return f"{str(entry['metadata_prefix']).strip('/')}/schema.json"


def parse_schema(text: str | bytes, source: str) -> list[str]:
    """The dimensions' field names, in folder order."""
    try:
        schema = json.loads(text)
    except ValueError as e:  # not JSON, or not UTF-8
        raise RegistryError(f"schema.json of {source!r} is not JSON ({e})") from None
    dimensions = schema.get("dimensions") if isinstance(schema, dict) else None
    if not isinstance(dimensions, list):
        raise RegistryError(f"schema.json of {source!r} has no 'dimensions' list")
    names = [d.get("field_name") if isinstance(d, dict) else None for d in dimensions]
    if not all(isinstance(n, str) and n for n in names):
        raise RegistryError(f"schema.json of {source!r}: every dimension needs a field_name")
    return names  # type: ignore[return-value]


def declared_sources(
    specs: Iterable[dg.AssetSpec], roots: Mapping[str, tuple[str, str]] | None = None
) -> dict[str, dict[str, Any]]:
    """name -> {source metadata, asset} for every asset that declares `source`; a `root` is
    resolved through `roots` (resource key -> its bucket and prefix)."""
    found: dict[str, dict[str, Any]] = {}
    for spec in specs:
        source = (spec.metadata or {}).get("source")
        if source is None:
            continue
        value = source.value if isinstance(source, dg.JsonMetadataValue) else source
        name = value["name"]
        if name in found:
            raise RegistryError(
                f"source {name!r} is declared by {found[name]['asset']} and {spec.key.to_user_string()}"
            )
        value = dict(value)
        root = value.pop("root", None)
        if root is not None:
            if root not in (roots or {}):
                raise RegistryError(f"source {name!r} is rooted at {root!r}, which the registry was not given")
            bucket, base = (roots or {})[root]
            value["bucket"] = bucket
            value["prefix"] = "/".join(p for p in (base.strip("/"), value.get("prefix", "")) if p)
        found[name] = {**value, "asset": spec.key.to_user_string()}
    return found


# Set by a migration's repoint on the entry it moved: the location the graph still declares.
MIGRATED_FROM = "migrated_from"


def merged_entries(
    declared: Mapping[str, Mapping[str, Any]], existing: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """The declared sources as sources.json entries, keeping what the existing file adds to each.

    The graph's location wins, except where a migration moved the entry away from the very location
    the graph still declares (its `migrated_from`): that waits for the graph to follow."""
    out = {}
    for name, source in sorted(declared.items()):
        entry = dict(existing.get(name, {}))  # unknown keys survive
        location = {"bucket": source["bucket"], "prefix": source["prefix"]}
        if entry.get(MIGRATED_FROM) != location:
            entry.update(location)
            entry.pop(MIGRATED_FROM, None)
        entry["description"] = source.get("description", "")
        entry["doclink"] = source.get("doclink", "")
        entry["metadata_prefix"] = source.get("metadata_prefix", name)
        out[name] = entry
    return out


def disagreements(
    entries: Mapping[str, Mapping[str, Any]], declared: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, str]]:
    """The sources whose location in sources.json is not where the graph declares them."""
    found = []
    for name, source in sorted(declared.items()):
        entry = entries.get(name, {})
        listed, wanted = (f"s3://{e.get('bucket')}/{e.get('prefix')}" for e in (entry, source))
        if listed != wanted:
            reason = "moved by a migration: update the asset's `source` metadata" if MIGRATED_FROM in entry else ""
            found.append({"source": name, "sources_json": listed, "graph": wanted, "reason": reason or "not written"})
    return found


def schema_document(source: Mapping[str, Any]) -> dict[str, Any]:
    return {"version": 1, "dimensions": [{"field_name": d, "allowed_values": "*"} for d in source["dimensions"]]}
