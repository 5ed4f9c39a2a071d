"""What is particular to the BigQuery warehouse, against the emulator's REST API."""

import uuid
from collections.abc import Iterator

import dagster as dg
import polars as pl
import pytest
from google.cloud import bigquery

from ci_assets.lib.storage.bigquery_io import BigQueryIOManager
from ci_assets.lib.storage.bigquery_tables import make_client
from ci_assets_tests.lib.storage.io_harness import DAYS, Harness, day_frame

REQUIRED_SCHEMA = [
    {"name": "day", "type": "DATE", "mode": "REQUIRED"},
    {"name": "id", "type": "STRING", "mode": "REQUIRED"},
    {"name": "value", "type": "INT64", "mode": "NULLABLE"},
    {"name": "tags", "type": "STRING", "mode": "REPEATED"},
]


@pytest.fixture
def warehouse(bigquery_endpoint: str) -> Iterator[Harness]:
    dataset = f"ds_{uuid.uuid4().hex[:10]}"
    harness = Harness(BigQueryIOManager(project="test-project", dataset=dataset, endpoint=bigquery_endpoint))
    harness.table = f"test-project.{dataset}.{harness.name}"
    yield harness


def client(warehouse: Harness) -> bigquery.Client:
    return make_client("test-project", warehouse.io_manager.endpoint)


def tables_in(warehouse: Harness) -> list[str]:
    dataset = warehouse.io_manager.dataset
    return sorted(t.table_id for t in client(warehouse).list_tables(f"test-project.{dataset}"))


def test_table_is_created_day_partitioned_with_dates_kept_as_date(warehouse: Harness) -> None:
    asset = warehouse.daily_asset(bigquery_schema=REQUIRED_SCHEMA, clustering_fields=["id"])
    result = warehouse.materialize([asset], "2024-01-02")
    assert result.success
    assert result.asset_materializations_for_node(warehouse.name)[0].metadata["location"].value == warehouse.table
    table = client(warehouse).get_table(warehouse.table)
    assert [(f.name, f.field_type, f.mode) for f in table.schema] == [
        ("day", "DATE", "REQUIRED"),
        ("id", "STRING", "REQUIRED"),
        ("value", "INT64", "NULLABLE"),
        ("tags", "STRING", "REPEATED"),
    ]
    assert table.time_partitioning.field == "day" and table.time_partitioning.type_ == "DAY"
    assert table.clustering_fields == ["id"]
    assert warehouse.load(asset, ["2024-01-02"]).schema["day"] == pl.Date
    assert tables_in(warehouse) == [warehouse.name]  # the staging table is gone


def test_a_failed_load_leaves_the_partition_as_it_was(warehouse: Harness) -> None:
    asset = warehouse.daily_asset(bigquery_schema=REQUIRED_SCHEMA)
    assert warehouse.materialize([asset], "2024-01-03").success

    @dg.asset(
        name=warehouse.name,
        partitions_def=DAYS,
        io_manager_key="io",
        metadata=warehouse.metadata(bigquery_schema=REQUIRED_SCHEMA),
    )
    def events(context: dg.AssetExecutionContext) -> pl.DataFrame:
        # A null in a REQUIRED column: refused before anything is staged, as BigQuery would.
        return day_frame(context.partition_key, version=5).with_columns(id=pl.lit(None, pl.String))

    result = warehouse.materialize([events], "2024-01-03")
    assert not result.success
    assert "REQUIRED column(s) {'id': 5}" in str(result.get_step_failure_events()[0].event_specific_data.error)
    assert warehouse.load(asset, ["2024-01-03"])["value"].sort().to_list() == [0, 1, 2, 3, 4]
    assert tables_in(warehouse) == [warehouse.name]


def test_a_crash_between_staging_and_merge_changes_nothing(warehouse: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    asset = warehouse.daily_asset()
    assert warehouse.materialize_range([asset], "2024-01-04", "2024-01-05").success

    def crash(*args: object, **kwargs: object) -> None:
        raise ConnectionError("network dropped before the MERGE")

    monkeypatch.setattr("ci_assets.lib.storage.bigquery_io.merge_statement", crash)
    assert not warehouse.materialize_range([asset], "2024-01-04", "2024-01-05", version=7).success
    monkeypatch.undo()
    loaded = warehouse.load(asset, ["2024-01-04", "2024-01-05"])
    assert loaded.height == 10 and loaded["value"].max() == 4
    assert tables_in(warehouse) == [warehouse.name]


def test_unpartitioned_tables_are_replaced_whole(warehouse: Harness) -> None:
    rows = {"n": 3}

    @dg.asset(name=warehouse.name, io_manager_key="io", metadata={"table": warehouse.table})
    def table() -> pl.DataFrame:
        return day_frame("2024-01-01", rows=rows["n"])

    assert dg.materialize([table], resources={"io": warehouse.io_manager}).success
    rows["n"] = 2
    assert dg.materialize([table], resources={"io": warehouse.io_manager}).success
    assert warehouse.load(table, None).height == 2


def test_columns_the_table_lacks_are_refused(warehouse: Harness) -> None:
    asset = warehouse.daily_asset()
    assert warehouse.materialize([asset], "2024-01-06").success

    @dg.asset(name=warehouse.name, partitions_def=DAYS, io_manager_key="io", metadata=warehouse.metadata())
    def events(context: dg.AssetExecutionContext) -> pl.DataFrame:
        return day_frame(context.partition_key).with_columns(surprise=pl.lit(1))

    result = warehouse.materialize([events], "2024-01-06")
    assert not result.success
    assert "surprise" in str(result.get_step_failure_events()[0].event_specific_data.error)
