"""What is particular to the Parquet lake: file layout, atomic file replacement, lazy reads."""

import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource, S3ObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetIOManager
from ci_assets.lib.storage.s3_store import S3ObjectStore
from ci_assets_tests.lib.storage.io_harness import DAYS, Harness, day_frame, sort


@pytest.fixture(params=["local", "s3"])
def lake(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "local":
        yield Harness(
            ParquetIOManager(store=LocalObjectStoreResource(root=str(tmp_path)), bucket="lake", prefix="assets")
        )
    else:
        endpoint = request.getfixturevalue("moto_endpoint")
        bucket = f"lake-{uuid.uuid4().hex[:10]}"
        S3ObjectStore(endpoint_url=endpoint).create_bucket(bucket)
        yield Harness(
            ParquetIOManager(store=S3ObjectStoreResource(endpoint_url=endpoint), bucket=bucket, prefix="assets")
        )


def stored_keys(lake: Harness) -> list[str]:
    manager = lake.io_manager
    return [o.key for o in manager.store.list(manager.bucket)]


def test_one_hive_style_file_per_partition(lake: Harness) -> None:
    daily, multi = lake.daily_asset(), Harness(lake.io_manager).multi_asset()
    assert lake.materialize_range([daily], "2024-01-01", "2024-01-02").success
    assert dg.materialize([multi], partition_key="2024-01-02|build_id", resources={"io": lake.io_manager}).success
    assert stored_keys(lake) == sorted(
        [
            f"assets/{daily.key.path[0]}/day=2024-01-01/data.parquet",
            f"assets/{daily.key.path[0]}/day=2024-01-02/data.parquet",
            f"assets/{multi.key.path[0]}/day=2024-01-02/type=build_id/data.parquet",
        ]
    )


def test_table_metadata_lays_the_asset_out_by_table_name(lake: Harness) -> None:
    lake.table = "moz-fx-data-shared-prod.fxci_derived.tasks_v2"
    assert lake.materialize([lake.daily_asset()], "2024-01-03").success
    assert stored_keys(lake) == ["assets/moz-fx-data-shared-prod/fxci_derived/tasks_v2/day=2024-01-03/data.parquet"]


def test_a_crash_mid_write_leaves_every_partition_whole(lake: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    asset = lake.daily_asset()
    assert lake.materialize_range([asset], "2024-01-04", "2024-01-06").success
    real_write = pl.DataFrame.write_parquet

    def crash_on_the_fifth(frame: pl.DataFrame, file: str, *args: object, **kwargs: object) -> None:
        if str(frame["day"][0]) == "2024-01-05":
            Path(file).write_bytes(b"PAR1 half a file")  # what a killed writer leaves behind
            raise OSError("disk vanished mid-write")
        real_write(frame, file, *args, **kwargs)

    monkeypatch.setattr(pl.DataFrame, "write_parquet", crash_on_the_fifth)
    assert not lake.materialize_range([asset], "2024-01-04", "2024-01-06", version=2).success
    monkeypatch.setattr(pl.DataFrame, "write_parquet", real_write)

    # The run failed, but every file is whole: the days written hold the new rows, the
    # day whose write crashed still holds the old ones.
    for day in ("2024-01-04", "2024-01-06"):
        assert lake.load(asset, [day])["value"].to_list() == [0, 2, 4, 6, 8]
    assert lake.load(asset, ["2024-01-05"])["value"].to_list() == [0, 1, 2, 3, 4]
    assert len(stored_keys(lake)) == 3  # no partial file is visible


def test_lazy_inputs_scan_without_loading(lake: Harness) -> None:
    asset = lake.daily_asset()
    assert lake.materialize_range([asset], "2024-01-07", "2024-01-08").success
    lazy = lake.load(asset, ["2024-01-07", "2024-01-08"], lazy=True)
    assert sort(lazy).equals(sort(pl.concat([day_frame("2024-01-07"), day_frame("2024-01-08")])))


def test_a_dict_of_frames_by_partition_key_is_accepted(lake: Harness) -> None:
    @dg.asset(
        name=lake.name,
        partitions_def=DAYS,
        io_manager_key="io",
        metadata=lake.metadata(),
        backfill_policy=dg.BackfillPolicy.single_run(),
    )
    def events(context: dg.AssetExecutionContext) -> dict[str, pl.DataFrame]:
        return {key: day_frame(key, rows=2) for key in context.partition_keys[:1]}

    assert lake.materialize_range([events], "2024-01-09", "2024-01-10").success
    assert lake.load(events, ["2024-01-09"]).height == 2
    assert lake.load(events, ["2024-01-10"]).height == 0  # written empty, as if run alone


def test_unpartitioned_assets_and_missing_partitions(lake: Harness) -> None:
    @dg.asset(name=lake.name, io_manager_key="io")
    def table() -> pl.DataFrame:
        return day_frame("2024-01-01", rows=3)

    assert dg.materialize([table], resources={"io": lake.io_manager}).success
    assert lake.load(table, None).height == 3
    assert stored_keys(lake) == [f"assets/{lake.name}/data.parquet"]
    daily = Harness(lake.io_manager).daily_asset()
    with pytest.raises(FileNotFoundError, match="materialize them first"):
        lake.load(daily, ["2024-01-01"])


def test_duckdb_reads_the_local_lake_as_one_table(tmp_path: Path) -> None:
    lake = Harness(ParquetIOManager(store=LocalObjectStoreResource(root=str(tmp_path)), bucket="lake", prefix="assets"))
    assert lake.materialize_range([lake.daily_asset()], "2024-01-01", "2024-01-03").success
    glob = tmp_path / "lake" / "assets" / lake.name / "**" / "*.parquet"
    rows = duckdb.sql(f"SELECT day, count(*) FROM read_parquet('{glob}') GROUP BY 1 ORDER BY 1").fetchall()
    assert [str(d) for d, _ in rows] == ["2024-01-01", "2024-01-02", "2024-01-03"]


def test_a_materializations_column_schema_keeps_the_declared_descriptions(tmp_path: Path) -> None:
    """The IO manager reports the stored frame's columns; those the asset declares (from its schema
    file) keep their descriptions and constraints, so the UI's latest schema is never barer."""
    declared = dg.TableSchema(
        columns=[
            dg.TableColumn("day", "DATE", description="The partition's day."),
            dg.TableColumn("n", "INTEGER", description="How many.", constraints=dg.TableColumnConstraints(False)),
        ]
    )

    @dg.asset(io_manager_key="io", metadata={"dagster/column_schema": declared})
    def described() -> pl.DataFrame:
        return pl.DataFrame({"day": ["2024-01-01"], "n": [1], "extra": ["x"]})

    lake = ParquetIOManager(store=LocalObjectStoreResource(root=str(tmp_path)), bucket="lake", prefix="assets")
    result = dg.materialize([described], resources={"io": lake})
    [materialization] = result.asset_materializations_for_node("described")
    columns = {c.name: c for c in materialization.metadata["dagster/column_schema"].schema.columns}
    assert columns["day"].description == "The partition's day." and columns["n"].description == "How many."
    assert columns["n"].constraints.nullable is False and columns["n"].type == "Int64"
    assert columns["extra"].description is None  # not declared: nothing made up
