"""Properties every polars IO manager must have, checked on local Parquet, S3 Parquet
(moto's server) and BigQuery (the emulator) alike."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ci_assets.lib.storage.bigquery_io import BigQueryIOManager
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource, S3ObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetIOManager
from ci_assets.lib.storage.s3_store import S3ObjectStore
from ci_assets.lib.storage.target import Target
from ci_assets_tests.lib.storage.io_harness import DAYS, DAYS_BY_TYPE, Harness, day_frame, sort

BACKENDS = ["local", "s3", "bigquery"]


@pytest.fixture(params=BACKENDS)
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "local":
        yield Harness(
            ParquetIOManager(store=LocalObjectStoreResource(root=str(tmp_path)), bucket="lake", prefix="assets")
        )
    elif request.param == "s3":
        endpoint = request.getfixturevalue("moto_endpoint")
        bucket = f"lake-{uuid.uuid4().hex[:10]}"
        S3ObjectStore(endpoint_url=endpoint).create_bucket(bucket)
        yield Harness(
            ParquetIOManager(store=S3ObjectStoreResource(endpoint_url=endpoint), bucket=bucket, prefix="lake")
        )
    else:
        endpoint = request.getfixturevalue("bigquery_endpoint")
        dataset = f"ds_{uuid.uuid4().hex[:10]}"
        harness = Harness(BigQueryIOManager(project="test-project", dataset=dataset, endpoint=endpoint))
        harness.table = f"test-project.{dataset}.{harness.name}"
        yield harness


def test_partitions_round_trip_with_schema_and_row_count(harness: Harness) -> None:
    asset = harness.daily_asset()
    for day in ["2024-01-01", "2024-01-02"]:
        result = harness.materialize([asset], day)
        assert result.success
        meta = result.asset_materializations_for_node(harness.name)[0].metadata
        assert meta["dagster/row_count"].value == 5
        columns = {c.name: c.type for c in meta["dagster/column_schema"].schema.columns}
        assert list(columns) == ["day", "id", "value", "tags"]
    assert_frame_equal(sort(harness.load(asset, ["2024-01-02"])), sort(day_frame("2024-01-02")))
    both = harness.load(asset, ["2024-01-01", "2024-01-02"])
    assert both.height == 10 and both.schema["day"] == pl.Date


def test_single_run_backfill_is_stored_as_if_each_partition_ran_alone(harness: Harness) -> None:
    asset = harness.daily_asset()
    result = harness.materialize_range([asset], "2024-01-03", "2024-01-07", rows=4)
    assert result.success
    materializations = result.asset_materializations_for_node(harness.name)
    assert sorted(m.partition for m in materializations) == [f"2024-01-0{d}" for d in range(3, 8)]
    assert materializations[0].metadata["rows_written"].value == 20
    for day in range(3, 8):
        key = f"2024-01-0{day}"
        assert_frame_equal(sort(harness.load(asset, [key])), sort(day_frame(key, rows=4)))
    # A later one-partition run of a day inside the range replaces just that day.
    assert harness.materialize([asset], "2024-01-05", version=3).success
    assert harness.load(asset, ["2024-01-05"])["value"].to_list() == [0, 3, 6, 9, 12]
    assert harness.load(asset, ["2024-01-03", "2024-01-07"]).height == 4 * 4 + 5


def test_rematerializing_a_partition_leaves_one_copy(harness: Harness) -> None:
    asset = harness.daily_asset()
    for version in (1, 2, 2):
        assert harness.materialize([asset], "2024-01-10", version=version).success
    loaded = harness.load(asset, ["2024-01-10"])
    assert_frame_equal(sort(loaded), sort(day_frame("2024-01-10", version=2)))
    assert harness.materialize_range([asset], "2024-01-09", "2024-01-11").success
    assert harness.materialize_range([asset], "2024-01-09", "2024-01-11").success
    assert harness.load(asset, ["2024-01-09", "2024-01-11"]).height == 15


def test_rows_outside_the_runs_partitions_are_refused(harness: Harness) -> None:
    asset = harness.daily_asset()
    assert harness.materialize([asset], "2024-01-12").success
    result = harness.materialize([asset], "2024-01-12", version=9, stray_day="2024-01-20")
    assert not result.success
    assert "2024-01-20" in str(result.get_step_failure_events()[0].event_specific_data.error)
    assert harness.load(asset, ["2024-01-12"])["value"].to_list() == [0, 1, 2, 3, 4]  # untouched


def test_the_writer_resource_refuses_rows_outside_its_partitions_and_writes_nothing(harness: Harness) -> None:
    """Assets that store rows themselves (the pulse drain) call the writer the IO manager is built on."""
    asset = harness.daily_asset()
    target = Target(asset.key, asset.metadata_by_key[asset.key], DAYS, ["2024-01-12"])
    stray = pl.concat([day_frame("2024-01-12"), day_frame("2024-01-20", rows=1)])
    with pytest.raises(ValueError, match="2024-01-20"):
        harness.io_manager.write(target, stray)
    with pytest.raises(FileNotFoundError):
        harness.load(asset, ["2024-01-12"])  # nothing was written, not even the day of the run
    written = harness.io_manager.write(target, day_frame("2024-01-12"))
    assert written["dagster/row_count"].value == 5
    assert harness.io_manager.read(target)["value"].to_list() == [0, 1, 2, 3, 4]


def test_primary_key_upserts_within_the_partition(harness: Harness) -> None:
    asset = harness.daily_asset(primary_key=["id"])
    assert harness.materialize([asset], "2024-01-15", rows=3).success
    result = harness.materialize([asset], "2024-01-15", rows=5, version=10)
    assert result.success
    loaded = sort(harness.load(asset, ["2024-01-15"]))
    assert loaded["id"].to_list() == [f"2024-01-15--{i}" for i in range(5)]
    assert loaded["value"].to_list() == [0, 10, 20, 30, 40]
    # Re-sending the same rows (a redelivery) changes nothing.
    assert harness.materialize([asset], "2024-01-15", rows=5, version=10).success
    assert_frame_equal(sort(harness.load(asset, ["2024-01-15"])), loaded)


def test_duplicate_keys_in_one_output_keep_the_last_row(harness: Harness) -> None:
    @dg.asset(
        name=harness.name, partitions_def=DAYS, io_manager_key="io", metadata=harness.metadata(primary_key=["id"])
    )
    def events(context: dg.AssetExecutionContext) -> pl.DataFrame:
        first, second = day_frame(context.partition_key, 1, 2), day_frame(context.partition_key, 7, 2)
        return pl.concat([first, second])

    result = harness.materialize([events], "2024-01-16")
    assert result.success
    meta = result.asset_materializations_for_node(harness.name)[0].metadata
    assert meta["rows_deduplicated_by_primary_key"].value == 2
    assert sort(harness.load(events, ["2024-01-16"]))["value"].to_list() == [0, 7]


def test_multi_partitions_split_by_day_and_type(harness: Harness) -> None:
    asset = harness.multi_asset()
    assert harness.materialize_range([asset], "2024-01-02|build_id", "2024-01-03|submission_date").success
    key = dg.MultiPartitionKey({"day": "2024-01-03", "type": "build_id"})
    one = harness.load(asset, [str(key)])
    assert_frame_equal(sort(one), sort(day_frame("2024-01-03", kind="build_id")))
    assert harness.materialize([asset], str(key), version=2).success
    everything = harness.load(asset, ["2024-01-02|build_id", "2024-01-03|submission_date"])
    assert everything.height == 20
    assert everything.filter(pl.col("type") == "build_id", pl.col("day").cast(pl.String) == "2024-01-03")[
        "value"
    ].sort().to_list() == [0, 2, 4, 6, 8]
    assert DAYS_BY_TYPE.get_num_partitions() == 62


def test_downstream_asset_loads_a_range_of_upstream_partitions(harness: Harness) -> None:
    asset = harness.daily_asset()
    assert harness.materialize_range([asset], "2024-01-20", "2024-01-26").success

    weekly = dg.WeeklyPartitionsDefinition(start_date="2024-01-21")

    @dg.asset(partitions_def=weekly, ins={"events": dg.AssetIn(key=asset.key)}, io_manager_key="io")
    def weekly_totals(events: pl.DataFrame) -> None:
        assert events.height == 35  # Sunday 21st through Saturday 27th: 7 days, 5 rows each
        assert events["day"].n_unique() == 7

    result = dg.materialize(
        [asset.to_source_asset(), weekly_totals],
        partition_key="2024-01-21",
        resources={"io": harness.io_manager},
        raise_on_error=False,
    )
    assert not result.success  # the 27th was never materialized: a clear error, not a short week
    assert harness.materialize([asset], "2024-01-27").success
    result = dg.materialize(
        [asset.to_source_asset(), weekly_totals], partition_key="2024-01-21", resources={"io": harness.io_manager}
    )
    assert result.success
