"""Store a frame through an IO manager from inside an asset, with the manager's own guarantees.

For assets that must know their rows are durable before they do something else in
the same step (acknowledging pulse messages): they call this, then return a
MaterializeResult instead of handing the frame back to Dagster.
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg
import polars as pl


def store_partition(
    io_manager: dg.IOManager,
    asset_key: dg.AssetKey,
    metadata: Mapping[str, Any],
    partitions_def: dg.PartitionsDefinition,
    partition_key: str,
    frame: pl.DataFrame,
) -> dict[str, Any]:
    """Write `frame` as `partition_key` of the asset; returns the metadata the manager recorded."""
    context = dg.build_output_context(
        asset_key=asset_key,
        definition_metadata=dict(metadata),
        partition_key=partition_key,
        asset_partitions_def=partitions_def,
    )
    io_manager.handle_output(context, frame)
    return dict(context.get_logged_metadata())


def load_partition(
    io_manager: dg.IOManager,
    asset_key: dg.AssetKey,
    metadata: Mapping[str, Any],
    partitions_def: dg.PartitionsDefinition,
    partition_key: str,
) -> pl.DataFrame:
    """Read one stored partition back through the same IO manager (for checks on what was stored)."""
    upstream = dg.build_output_context(asset_key=asset_key, definition_metadata=dict(metadata))
    context = dg.build_input_context(
        asset_key=asset_key,
        upstream_output=upstream,
        asset_partitions_def=partitions_def,
        asset_partition_key_range=dg.PartitionKeyRange(partition_key, partition_key),
        dagster_type=dg.PythonObjectDagsterType(pl.DataFrame),
    )
    frame = io_manager.load_input(context)
    assert isinstance(frame, pl.DataFrame)
    return frame
