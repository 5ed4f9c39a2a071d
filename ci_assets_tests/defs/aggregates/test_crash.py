"""An aggregates day SIGKILLed mid-write: its Parquet partition, and its BigQuery load on the emulator."""

from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from ci_assets.defs import aggregates
from ci_assets.defs.aggregates.settings import AggregatesSource
from ci_assets.defs.aggregates.tables import DATASET
from ci_assets.defs.resources import local_resources
from ci_assets.lib.storage.bigquery_io import BigQueryIOManager
from ci_assets.lib.storage.bigquery_tables import make_client
from ci_assets_tests.crash import FreezePoint, crash_mid_write
from ci_assets_tests.defs.aggregates.conftest import DAY, Source

ASSETS = [aggregates.dump, aggregates.parquet, aggregates.build_id_aggregates, aggregates.submission_date_aggregates]
KEY = f"{DAY}|submission_date"
PROJECT = DATASET.split(".")[0]
TABLE = f"{DATASET}.submission_date_aggregates"


def _resources(dsn: str, bigquery: str | None) -> dict[str, Any]:
    resources = local_resources() | {"aggregates_source": AggregatesSource(dsn=dsn)}
    if bigquery:
        resources["warehouse_io_manager"] = BigQueryIOManager(project=PROJECT, endpoint=bigquery)
    return resources


def materialize(dsn: str, selection: list[str], bigquery: str | None = None) -> None:
    chosen = [a for a in ASSETS if a.key.to_user_string() in selection]
    tags = {"dagster/asset_partition_range_start": KEY, "dagster/asset_partition_range_end": KEY}
    assert dg.materialize(ASSETS, resources=_resources(dsn, bigquery), selection=chosen, tags=tags).success


def _lake_file(home: Path) -> Path:
    lake = home / "objects/ci-assets-lake/lake/aggregates/parquet"
    return lake / f"ingest_date={DAY}/aggregate_type=submission_date/data.parquet"


def _leftovers(home: Path) -> list[Path]:
    return [*home.rglob(".ci-assets-partial-*"), *(home / "tmp").glob("aggregates-*")]


def test_a_parquet_day_killed_mid_write_keeps_its_whole_file_and_a_rerun_converts_it_once(
    source: Source, ci_home: Path
) -> None:
    materialize(source.dsn, ["aggregates/dump", "aggregates/parquet"])
    expected = source.good_rows("submission_date")
    first = pl.read_parquet(_lake_file(ci_home)).sort(pl.all())
    assert first.height == expected

    def reader() -> None:  # converted and staged beside the partition, not yet in its place
        assert list(_lake_file(ci_home).parent.glob(".ci-assets-partial-*"))
        assert pl.read_parquet(_lake_file(ci_home)).sort(pl.all()).equals(first)

    after_staging = FreezePoint("ci_assets.lib.storage.parquet_io:write_streamed")
    crash_mid_write(materialize, (source.dsn, ["aggregates/parquet"]), after_staging, reader)
    assert _leftovers(ci_home), "the killed run left nothing behind to sweep: the test proves nothing"

    materialize(source.dsn, ["aggregates/parquet"])
    assert pl.read_parquet(_lake_file(ci_home)).sort(pl.all()).equals(first)
    assert not _leftovers(ci_home)


def test_a_bigquery_load_killed_between_staging_and_merge_leaves_the_day_as_it_was(
    source: Source, ci_home: Path, bigquery_endpoint: str
) -> None:
    client = make_client(PROJECT, bigquery_endpoint)

    def rows_of_day() -> int:
        sql = f"SELECT count(*) AS n FROM `{TABLE}` WHERE ingest_date = DATE '{DAY}'"
        return client.query(sql).result().to_arrow(create_bqstorage_client=False).to_pylist()[0]["n"]

    materialize(source.dsn, ["aggregates/dump", "aggregates/parquet"])
    materialize(source.dsn, ["aggregates/submission_date_aggregates"], bigquery_endpoint)
    expected = source.good_rows("submission_date")
    assert rows_of_day() == expected

    def reader() -> None:  # the day's rows are in a staging table; the table still holds the old day, whole
        assert rows_of_day() == expected

    before_merge = FreezePoint("ci_assets.lib.storage.bigquery_io:merge_statement", after=False)
    args = (source.dsn, ["aggregates/submission_date_aggregates"], bigquery_endpoint)
    crash_mid_write(materialize, args, before_merge, reader)
    staging = [t.table_id for t in client.list_tables(DATASET.split(".", 1)[1]) if "__staging_" in t.table_id]
    # BigQuery deletes it a day later: it is created expiring before anything is loaded into it
    # (the emulator keeps no expiry, so this test cannot see that part).
    assert staging, "the killed load left no staging table: it was not between staging and merge"
    materialize(*args)
    assert rows_of_day() == expected  # replaced once, not added
