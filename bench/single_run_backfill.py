"""A year of daily partitions: one single-run backfill against 365 one-partition runs.

Both write through the local Parquet IO manager into the same persistent (SQLite)
Dagster instance, so both pay for run bookkeeping and event storage as a real
deployment does. Target: the single run >= 10x faster. Prints the figures.

    python bench/single_run_backfill.py [--days 365]
"""

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import dagster as dg
import polars as pl

from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetIOManager

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
YEAR = dg.DailyPartitionsDefinition(start_date="2023-01-01", end_date="2024-01-01")


@dg.asset(
    partitions_def=YEAR,
    metadata={"partition_expr": "day"},
    io_manager_key="lake",
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def light(context: dg.AssetExecutionContext) -> pl.DataFrame:
    """A few rows per day: the run machinery, not the work, is what is measured."""
    days = [dt.date.fromisoformat(k) for k in context.partition_keys]
    return pl.DataFrame({"day": days, "rows": [len(days)] * len(days)})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=365)
    args = parser.parse_args()
    keys = YEAR.get_partition_keys()[: args.days]
    with tempfile.TemporaryDirectory(prefix="bench-backfill-") as tmp:
        home = Path(tmp) / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        with dg.DagsterInstance.from_config(str(home)) as instance:
            lakes = {
                name: ParquetIOManager(store=LocalObjectStoreResource(root=tmp), bucket=name)
                for name in ("per-run", "single")
            }

            t0 = time.perf_counter()
            for key in keys:
                dg.materialize(
                    [light],
                    partition_key=key,
                    instance=instance,
                    resources={"lake": lakes["per-run"]},
                    run_config=QUIET,
                )
            per_partition_runs = time.perf_counter() - t0

            t0 = time.perf_counter()
            tags = {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
            result = dg.materialize(
                [light], instance=instance, tags=tags, resources={"lake": lakes["single"]}, run_config=QUIET
            )
            single_run = time.perf_counter() - t0

            assert result.success
            assert len(result.asset_materializations_for_node("light")) == len(keys)
            files = {name: len(list((Path(tmp) / name).rglob("data.parquet"))) for name in lakes}
            assert files == {"per-run": len(keys), "single": len(keys)}, files
            assert instance.get_materialized_partitions(light.key) == set(keys)

    print(f"{len(keys)} daily partitions of a light asset, same SQLite instance, local Parquet lake")
    print(
        f"  {len(keys)} one-partition runs:  {per_partition_runs:7.2f} s  ({per_partition_runs / len(keys):.3f} s each)"
    )
    print(f"  one single-run backfill:  {single_run:7.2f} s  ({single_run / len(keys) * 1000:.1f} ms a partition)")
    print(f"speed-up: {per_partition_runs / single_run:.1f}x (target >= 10x)")


if __name__ == "__main__":
    main()
