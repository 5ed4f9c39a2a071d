"""The writers: the lake's and the warehouse's one way to replace, split and upsert partitions.

A writer is a resource: `write(target, obj)` stores a frame (or a mapping of frames, a file, a
LazyFrame) as the target's partitions, atomically per partition and upserting by
`primary_key`, and returns the metadata it recorded; `read(target)` loads them. The IO
managers are thin adapters (`WriterIOManager`): they turn Dagster's output and input contexts
into targets, and apply the platform's retry policy to transient storage failures.
"""

from __future__ import annotations

from typing import Any

import dagster as dg
import polars as pl

from ci_assets.lib.retries import transient_failures_retried
from ci_assets.lib.storage.target import Target


class TableWriter(dg.ConfigurableResource):
    # A transient failure under an IO manager retries the step after this many seconds, doubling
    # each time (None: the platform's policy, lib/retries.py).
    retry_wait_seconds: float | None = None

    def write(self, target: Target, obj: Any) -> dict[str, Any]:
        raise NotImplementedError

    def read(self, target: Target, lazy: bool = False, allow_missing: bool = False) -> pl.DataFrame | pl.LazyFrame:
        raise NotImplementedError


class WriterIOManager(dg.ConfigurableIOManager):
    """Mixed in before a writer: `class ParquetIOManager(WriterIOManager, ParquetWriter)`."""

    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        with transient_failures_retried(context, self.retry_wait_seconds):  # type: ignore[attr-defined]
            metadata = self.write(Target.of_output(context), obj)  # type: ignore[attr-defined]
        if metadata:
            context.add_output_metadata(metadata)

    def load_input(self, context: dg.InputContext) -> pl.DataFrame | pl.LazyFrame:
        lazy = context.dagster_type.typing_type is pl.LazyFrame
        allow_missing = bool((context.definition_metadata or {}).get("allow_missing_partitions"))
        with transient_failures_retried(context, self.retry_wait_seconds):  # type: ignore[attr-defined]
            return self.read(Target.of_input(context), lazy, allow_missing)  # type: ignore[attr-defined]
