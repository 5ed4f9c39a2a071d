"""Datasets resolved through the registry, the way moztelemetry's `Dataset.from_source(name)` does.

The location (bucket, prefix) and the dimensions come from sources.json and the source's
schema.json, read when the dataset is made: never from a hard-coded place, so a source
repointed by a migration is followed. `.where(dim=value | predicate)` filters one folder
level per dimension; an unknown source or dimension is an error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

from ci_assets.defs.sources.registry import SOURCES_JSON, RegistryError, parse_schema, parse_sources, schema_path
from ci_assets.lib.storage.object_store import ObjectInfo, ObjectNotFoundError, ObjectStore

Condition = str | Callable[[str], bool]


@dataclasses.dataclass(frozen=True)
class Dataset:
    store: ObjectStore
    name: str
    bucket: str
    prefix: str
    dimensions: tuple[str, ...]
    conditions: tuple[tuple[str, Condition], ...] = ()

    @classmethod
    def from_source(cls, name: str, store: ObjectStore, metadata_bucket: str) -> Dataset:
        try:
            sources = parse_sources(store.get_bytes(metadata_bucket, SOURCES_JSON))
        except ObjectNotFoundError:
            raise RegistryError(f"s3://{metadata_bucket}/{SOURCES_JSON} does not exist") from None
        if name not in sources:
            raise RegistryError(f"unknown source {name!r}; the registry has {sorted(sources)}")
        entry = sources[name]
        try:
            dimensions = parse_schema(store.get_bytes(metadata_bucket, schema_path(entry)), name)
        except ObjectNotFoundError:
            raise RegistryError(f"source {name!r} has no {schema_path(entry)} in {metadata_bucket}") from None
        return cls(store, name, entry["bucket"], entry["prefix"].strip("/"), tuple(dimensions))

    def where(self, **conditions: Condition) -> Dataset:
        unknown = sorted(set(conditions) - set(self.dimensions))
        if unknown:
            raise RegistryError(f"source {self.name!r} has no dimension(s) {unknown}; it has {list(self.dimensions)}")
        return dataclasses.replace(self, conditions=self.conditions + tuple(conditions.items()))

    def objects(self) -> Iterator[ObjectInfo]:
        base = f"{self.prefix}/" if self.prefix else ""
        for info in self.store.list(self.bucket, prefix=base):
            levels = info.key[len(base) :].split("/")
            if len(levels) <= len(self.dimensions):
                continue  # not under one folder per dimension
            values = dict(
                zip(self.dimensions, (_value(d, v) for d, v in zip(self.dimensions, levels, strict=False)), strict=True)
            )
            if all(_matches(values[d], c) for d, c in self.conditions):
                yield info

    def summary(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "prefix": self.prefix, "dimensions": list(self.dimensions)}


def _value(dimension: str, folder: str) -> str:
    """A folder's value: `name=value` (hive-style) or the bare value."""
    return folder.removeprefix(f"{dimension}=")


def _matches(value: str, condition: Condition) -> bool:
    return condition(value) if callable(condition) else value == condition
