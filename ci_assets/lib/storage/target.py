"""What a write or a read is about: an asset, its metadata, and the partitions of the run.

The writers (lib/storage/writer.py) take a Target, so an asset that must store rows itself
(before it acknowledges the messages they came from) asks the same machinery the IO managers
use, with no Dagster context faked. Its attributes carry the names of Dagster's output context,
so code written against either reads the same.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg


@dataclasses.dataclass(frozen=True)
class Target:
    asset_key: dg.AssetKey
    definition_metadata: Mapping[str, Any]
    asset_partitions_def: dg.PartitionsDefinition | None = None
    asset_partition_keys: Sequence[str] = ()

    @property
    def has_asset_partitions(self) -> bool:
        return self.asset_partitions_def is not None

    @property
    def label(self) -> str:
        return f"asset {self.asset_key.to_user_string()}"

    @classmethod
    def of_spec(cls, spec: dg.AssetSpec, partition_keys: Sequence[str] = ()) -> Target:
        return cls(spec.key, spec.metadata or {}, spec.partitions_def, tuple(partition_keys))

    @classmethod
    def of_output(cls, context: dg.OutputContext) -> Target:
        partitioned = context.has_asset_partitions
        return cls(
            context.asset_key,
            context.definition_metadata or {},
            context.asset_partitions_def if partitioned else None,
            tuple(context.asset_partition_keys) if partitioned else (),
        )

    @classmethod
    def of_input(cls, context: dg.InputContext) -> Target:
        """The upstream asset as this input reads it (its metadata, this run's partitions of it)."""
        upstream = context.upstream_output
        partitioned = context.has_asset_partitions
        return cls(
            context.asset_key,
            (upstream.definition_metadata if upstream else None) or {},
            context.asset_partitions_def if partitioned else None,
            tuple(context.asset_partition_keys) if partitioned else (),
        )
