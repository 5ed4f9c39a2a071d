"""What an asset handed its IO manager, as one frame per partition the run writes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import dagster as dg
import polars as pl

from ci_assets.lib.storage.partition_split import split_frame
from ci_assets.lib.storage.target import Target


@dataclasses.dataclass(frozen=True)
class AssetOutput:
    label: str
    metadata: Mapping[str, Any]
    partitions_def: dg.PartitionsDefinition | None
    keys: list[str]
    # One frame per partition key of the run; the single key None for an unpartitioned asset.
    frames: dict[str | None, pl.DataFrame]

    @property
    def schema(self) -> pl.Schema:
        return next(iter(self.frames.values())).schema


def _collect(frame: Any, label: str) -> pl.DataFrame:
    if isinstance(frame, pl.LazyFrame):
        return frame.collect()
    if not isinstance(frame, pl.DataFrame):
        raise TypeError(f"{label}: expected a polars DataFrame, got {type(frame).__name__}")
    return frame


def asset_output(context: Target | dg.OutputContext, obj: Any) -> AssetOutput | None:
    """Accepts a DataFrame, a LazyFrame, or (partitioned) a {partition_key: frame} mapping.

    A frame covering several partitions is split by `partition_expr`; a row that belongs
    to no partition of the run is refused here, before anything is written.
    """
    if obj is None:
        return None
    label = f"asset {context.asset_key.to_user_string()}"
    metadata = context.definition_metadata or {}
    if not context.has_asset_partitions:
        return AssetOutput(label, metadata, None, [], {None: _collect(obj, label)})
    partitions_def = context.asset_partitions_def
    keys = list(context.asset_partition_keys)
    if isinstance(obj, Mapping):
        unexpected = sorted(set(obj) - set(keys))
        if unexpected:
            raise ValueError(f"{label} returned frames for partitions outside the run: {unexpected[:5]}")
        if not obj:
            raise ValueError(f"{label} returned no frame for any partition of the run")
        given = {k: _collect(f, label) for k, f in obj.items()}
        empty = next(iter(given.values())).clear()
        frames: dict[str | None, pl.DataFrame] = {k: given.get(k, empty) for k in keys}
    else:
        split = split_frame(_collect(obj, label), partitions_def, keys, metadata.get("partition_expr"), label)
        frames = dict(split.items())
    return AssetOutput(label, metadata, partitions_def, keys, frames)
