"""Outputs too big to hold as one frame: a Parquet file the asset already wrote, or a LazyFrame.

An IO manager streams them into place instead of collecting them: the file is moved
into the store's staged file (then renamed or uploaded, atomically as always), a
LazyFrame is sunk into it. Memory then stays bounded by polars' streaming engine.
Upserts by primary key need the rows in memory, so those assets still hand frames.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Mapping
from typing import Any

import dagster as dg
import polars as pl

from ci_assets.lib.storage.frames import primary_key
from ci_assets.lib.storage.target import Target


@dataclasses.dataclass(frozen=True)
class ParquetFile:
    """A finished Parquet file on local disk; the IO manager takes it over (moves it)."""

    path: str


Streamable = ParquetFile | pl.LazyFrame


def _streamable(obj: Any) -> bool:
    return isinstance(obj, ParquetFile | pl.LazyFrame)


def streamed_output(context: Target | dg.OutputContext, obj: Any) -> dict[str | None, Streamable] | None:
    """What to stream into each partition's file, or None when `obj` is for the in-memory path."""
    label = f"asset {context.asset_key.to_user_string()}"
    many = isinstance(obj, Mapping) and bool(obj) and all(_streamable(v) for v in obj.values())
    if not (_streamable(obj) or many):
        return None
    if primary_key(context.definition_metadata or {}):
        if isinstance(obj, pl.LazyFrame):
            return None  # collected and upserted like a frame
        raise ValueError(f"{label} has a primary_key, so it must hand its IO manager frames, not files")
    if not context.has_asset_partitions:
        if many:
            raise ValueError(f"{label} is not partitioned but returned a mapping of outputs")
        return {None: obj}
    keys = list(context.asset_partition_keys)
    if not many:
        if len(keys) == 1:
            return {keys[0]: obj}
        if isinstance(obj, pl.LazyFrame):
            return None  # collected, then split by partition_expr
        raise ValueError(f"{label}: one file cannot be {len(keys)} partitions; return {{partition_key: file}}")
    unexpected = sorted(set(obj) - set(keys))
    missing = sorted(set(keys) - set(obj))
    if unexpected or missing:
        raise ValueError(
            f"{label} returned outputs for partitions {unexpected[:5]} outside the run and none for {missing[:5]} of it"
        )
    return dict(obj)


def write_streamed(item: Streamable, dest: str) -> None:
    if isinstance(item, ParquetFile):
        shutil.move(item.path, dest)
    else:
        item.sink_parquet(dest)


def file_summary(path: str) -> tuple[pl.Schema, int]:
    """The schema and row count of a Parquet file, from its footer."""
    return pl.read_parquet_schema(path), pl.scan_parquet(path).select(pl.len()).collect().item()
