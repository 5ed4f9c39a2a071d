"""One BigQuery-dialect query, run on BigQuery (the emulator) and on DuckDB over the lake."""

import datetime as dt
import uuid
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ci_assets.lib.storage.bigquery_io import BigQueryIOManager
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetIOManager
from ci_assets.lib.storage.sql import BigQuerySqlRunner, DuckDBSqlRunner, UnknownTableError
from ci_assets_tests.lib.storage.io_harness import DAYS

COSTS = pl.DataFrame(
    {
        "day": [dt.date(2024, 1, d) for d in (1, 1, 2, 2, 3)],
        "project": ["level1", "level3", "level1", "level3", "level1"],
        "cost": [10.0, 0.0, 30.0, 5.0, 7.5],
        "hours": [2.0, 0.0, 3.0, 1.0, 0.0],
    }
)

QUERY = """
WITH per_day AS (
  SELECT day, project, SUM(cost) AS cost, SUM(hours) AS hours
  FROM `{table}`
  WHERE day BETWEEN @start AND @end AND project IN UNNEST(@projects)
  GROUP BY day, project
)
SELECT per_day.day, project, DATE_TRUNC(day, MONTH) AS month,
       SAFE_DIVIDE(cost, hours) AS cost_per_hour, FORMAT_DATE('%Y%m%d', day) AS yyyymmdd
FROM per_day
ORDER BY day, project
"""
PARAMS = {"start": dt.date(2024, 1, 1), "end": dt.date(2024, 1, 2), "projects": ["level1", "level3"]}


def costs_asset(table: str) -> dg.AssetsDefinition:
    @dg.asset(
        name="costs",
        partitions_def=DAYS,
        io_manager_key="io",
        metadata={"table": table, "partition_expr": "day"},
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def costs() -> pl.DataFrame:
        return COSTS

    return costs


def materialize(asset: dg.AssetsDefinition, io_manager: object) -> None:
    tags = {"dagster/asset_partition_range_start": "2024-01-01", "dagster/asset_partition_range_end": "2024-01-03"}
    assert dg.materialize([asset], resources={"io": io_manager}, tags=tags).success


def test_the_same_query_gives_the_same_rows_on_both_engines(tmp_path: Path, bigquery_endpoint: str) -> None:
    table = f"test-project.sql_{uuid.uuid4().hex[:8]}.worker_costs"
    materialize(
        costs_asset(table),
        ParquetIOManager(store=LocalObjectStoreResource(root=str(tmp_path)), bucket="lake", prefix="warehouse"),
    )
    materialize(costs_asset(table), BigQueryIOManager(project="test-project", endpoint=bigquery_endpoint))

    local = DuckDBSqlRunner(warehouse_dir=str(tmp_path / "lake" / "warehouse")).query(QUERY.format(table=table), PARAMS)
    cloud = BigQuerySqlRunner(project="test-project", endpoint=bigquery_endpoint).query(
        QUERY.format(table=table), PARAMS
    )
    assert local["cost_per_hour"].to_list() == [5.0, None, 10.0, 5.0]
    assert local["yyyymmdd"].to_list() == ["20240101", "20240101", "20240102", "20240102"]
    assert_frame_equal(local, cloud, check_dtypes=False)


def test_unknown_tables_and_missing_parameters_are_clear_errors(tmp_path: Path) -> None:
    runner = DuckDBSqlRunner(warehouse_dir=str(tmp_path))
    with pytest.raises(UnknownTableError, match=r"p\.d\.nowhere has no data"):
        runner.query("SELECT * FROM `p.d.nowhere`")
    with pytest.raises(ValueError, match="'start'"):
        runner.query("SELECT @start AS s")
    assert runner.query("SELECT @n + 1 AS m", {"n": 41, "unused": 1})["m"].to_list() == [42]
