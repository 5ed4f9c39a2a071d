"""Assets and helpers that put any of the three polars IO managers through the same paces."""

import dataclasses
import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import dagster as dg
import polars as pl

START, END = "2024-01-01", "2024-02-01"
DAYS = dg.DailyPartitionsDefinition(start_date=START, end_date=END)
DAYS_BY_TYPE = dg.MultiPartitionsDefinition(
    {"day": DAYS, "type": dg.StaticPartitionsDefinition(["build_id", "submission_date"])}
)
SCHEMA = {"day": pl.Date, "id": pl.String, "value": pl.Int64, "tags": pl.List(pl.String)}


class Generate(dg.Config):
    version: int = 1
    rows: int = 5
    # Emit a row for a day outside the run, which the IO manager must refuse.
    stray_day: str | None = None


def day_frame(day: str, version: int = 1, rows: int = 5, kind: str | None = None) -> pl.DataFrame:
    date = dt.date.fromisoformat(day)
    data: dict[str, Any] = {
        "day": [date] * rows,
        "id": [f"{day}-{kind or ''}-{i}" for i in range(rows)],
        "value": [i * version for i in range(rows)],
        "tags": [["a", "b", "c"][: i % 3] for i in range(rows)],
    }
    frame = pl.DataFrame(data, schema=SCHEMA)
    return frame.with_columns(pl.lit(kind).alias("type")) if kind else frame


def run_range(assets: Sequence[Any], start: str, end: str, run_config: Any = None, **kwargs: Any) -> Any:
    """One run over a partition range: what a `BackfillPolicy.single_run()` backfill launches."""
    tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
    return dg.materialize(assets, tags=tags, run_config=run_config, **kwargs)


@dataclasses.dataclass
class Harness:
    """One backend (an IO manager) plus the assets under test, named uniquely per test."""

    io_manager: Any
    name: str = dataclasses.field(default_factory=lambda: f"events_{uuid.uuid4().hex[:8]}")
    table: str | None = None

    def metadata(self, **extra: Any) -> dict[str, Any]:
        meta: dict[str, Any] = {"partition_expr": "day", **extra}
        if self.table:
            meta["table"] = self.table
        return meta

    def daily_asset(self, **metadata: Any) -> dg.AssetsDefinition:
        @dg.asset(
            name=self.name,
            partitions_def=DAYS,
            metadata=self.metadata(**metadata),
            io_manager_key="io",
            backfill_policy=dg.BackfillPolicy.single_run(),
        )
        def events(context: dg.AssetExecutionContext, config: Generate) -> pl.DataFrame:
            frames = [day_frame(k, config.version, config.rows) for k in context.partition_keys]
            if config.stray_day:
                frames.append(day_frame(config.stray_day, config.version, 1))
            return pl.concat(frames)

        return events

    def multi_asset(self) -> dg.AssetsDefinition:
        meta = {"partition_expr": {"day": "day", "type": "type"}}
        if self.table:
            meta["table"] = self.table

        @dg.asset(
            name=self.name,
            partitions_def=DAYS_BY_TYPE,
            metadata=meta,
            io_manager_key="io",
            backfill_policy=dg.BackfillPolicy.single_run(),
        )
        def events(context: dg.AssetExecutionContext, config: Generate) -> pl.DataFrame:
            frames = []
            for key in context.partition_keys:
                day, kind = key.split("|")
                frames.append(day_frame(day, config.version, config.rows, kind))
            return pl.concat(frames)

        return events

    def materialize(self, assets: Sequence[Any], partition: str | None = None, **config: Any) -> Any:
        return dg.materialize(
            assets,
            partition_key=partition,
            resources={"io": self.io_manager},
            run_config=_config(self.name, config),
            raise_on_error=False,
        )

    def materialize_range(self, assets: Sequence[Any], start: str, end: str, **config: Any) -> Any:
        return run_range(
            assets,
            start,
            end,
            run_config=_config(self.name, config),
            resources={"io": self.io_manager},
            raise_on_error=False,
        )

    def load(self, asset: dg.AssetsDefinition, keys: Sequence[str] | None, lazy: bool = False) -> pl.DataFrame:
        """Read partitions back through the IO manager's own `load_input`."""
        partitions_def = asset.partitions_def
        key_range = dg.PartitionKeyRange(keys[0], keys[-1]) if keys else None
        upstream = dg.build_output_context(asset_key=asset.key, definition_metadata=asset.metadata_by_key[asset.key])
        context = dg.build_input_context(
            asset_key=asset.key,
            upstream_output=upstream,
            asset_partitions_def=partitions_def if keys else None,
            asset_partition_key_range=key_range,
            dagster_type=dg.PythonObjectDagsterType(pl.LazyFrame if lazy else pl.DataFrame),
        )
        loaded = self.io_manager.load_input(context)
        return loaded.collect() if lazy else loaded


def _config(name: str, values: dict[str, Any]) -> dict[str, Any]:
    return {"ops": {name: {"config": values}}} if values else {}


def sort(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.sort("id").select(sorted(frame.columns))
