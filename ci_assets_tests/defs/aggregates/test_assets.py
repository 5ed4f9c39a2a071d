"""The aggregates assets on the local default: real pg_dump into the object store, Parquet, the tables."""

import datetime as dt
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import psycopg
import pytest

from ci_assets.defs import aggregates
from ci_assets.defs.aggregates import generate
from ci_assets.defs.aggregates.settings import AggregatesSource
from ci_assets.defs.aggregates.toc import parse as parse_toc
from ci_assets.defs.resources import local_resources
from ci_assets.lib.storage.sql import DuckDBSqlRunner
from ci_assets_tests.defs.aggregates.conftest import DAY, DIRTY, DIRTY_ROWS, EMPTY_DAY, ODD_NAMES, Source, file_of

ASSETS = [aggregates.dump, aggregates.parquet, aggregates.build_id_aggregates, aggregates.submission_date_aggregates]
BOTH_DAYS = {"dagster/asset_partition_range_start": f"{DAY}|build_id"}
BOTH_DAYS["dagster/asset_partition_range_end"] = f"{EMPTY_DAY}|submission_date"


def _resources(dsn: str) -> dict[str, Any]:
    return local_resources() | {"aggregates_source": AggregatesSource(dsn=dsn)}


def _run(resources: dict[str, Any], selection: list[dg.AssetsDefinition], tags: dict[str, str], **kw: Any):
    return dg.materialize(ASSETS, resources=resources, selection=selection, tags=tags, **kw)


def _lake_file(home: Path, day: dt.date, aggregate_type: str) -> Path:
    lake = home / "objects/ci-assets-lake/lake/aggregates/parquet"
    return lake / f"ingest_date={day}/aggregate_type={aggregate_type}/data.parquet"


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


def test_a_two_day_backfill_of_both_types_is_one_run_and_accounts_for_every_row(source: Source, ci_home: Path) -> None:
    resources = _resources(source.dsn)
    with dg.instance_for_test() as instance:
        result = _run(resources, [aggregates.dump, aggregates.parquet], BOTH_DAYS, instance=instance)
        assert result.success
        dumped = result.asset_materializations_for_node("aggregates__dump")
        with psycopg.connect(source.dsn) as conn:
            major = int(conn.execute("SHOW server_version_num").fetchone()[0]) // 10000
        chosen = dumped[0].metadata["pg_dump"].value
        # The oldest pg_dump at least as new as the server, whichever PostgreSQL the machine has.
        assert len(dumped) == 4 and int(chosen.split("pg_dump ")[1].split(".")[0]) >= major, chosen
        for aggregate_type in ("build_id", "submission_date"):
            stored = pl.read_parquet(_lake_file(ci_home, DAY, aggregate_type))
            assert stored.height == source.good_rows(aggregate_type)
            assert stored["aggregate_type"].unique().to_list() == [aggregate_type]
        # The day without tables: an empty partition, with the note saying why.
        assert pl.read_parquet(_lake_file(ci_home, EMPTY_DAY, "submission_date")).height == 0
        observed = instance.fetch_observations(aggregates.parquet.key, limit=10).records
        notes = {r.partition_key: r.asset_observation.metadata["note"].value for r in observed}
        assert "no table of the source matched 'submission_date_*_20191202*'" in notes[f"{EMPTY_DAY}|submission_date"]

        checks = _checks(result)
        assert checks["reconciles"].passed
        assert checks["reconciles"].metadata["rejected"].value == len(DIRTY_ROWS)
        assert checks["rows_keep_contract"].passed and checks["no_bookkeeping_tables"].passed
        names = checks["table_names_follow_convention"]
        assert not names.passed and {t["tag"] for t in names.metadata["quarantined_tables"].value} == set(ODD_NAMES)

        # Quarantine: each bad row with file and line, each odd table; a re-run adds nothing.
        with psycopg.connect(resources["postgres"].uri()) as conn:
            count = "SELECT count(*) FROM quarantine WHERE source = 'aggregates'"
            before = conn.execute(count).fetchone()[0]
        assert before == len(DIRTY_ROWS) + len(ODD_NAMES)

        again = _run(resources, [aggregates.dump, aggregates.parquet], BOTH_DAYS, instance=instance)
        assert again.success
        redone = again.asset_materializations_for_node("aggregates__dump")[0].metadata
        # The empty day is asked again (its tables may have arrived since); complete dumps are not.
        assert (redone["partitions_skipped_complete"].value, redone["partitions_without_tables"].value) == (2, 2)
        assert pl.read_parquet(_lake_file(ci_home, DAY, "submission_date")).height == source.good_rows(
            "submission_date"
        )
        with psycopg.connect(resources["postgres"].uri()) as conn:
            assert conn.execute(count).fetchone()[0] == before

        # The warehouse tables, then the same rows through DuckDB under the production name.
        tables = _run(
            resources,
            [aggregates.build_id_aggregates],
            {"dagster/asset_partition_range_start": f"{DAY}|build_id",
             "dagster/asset_partition_range_end": f"{EMPTY_DAY}|build_id"},
            instance=instance,
        )  # fmt: skip
        assert tables.success
    sql = DuckDBSqlRunner(warehouse_dir=str(ci_home / "lake" / "warehouse"))
    got = sql.query(
        "SELECT ingest_date, count(*) AS n FROM `moz-fx-data-shared-prod.dev_telemetry_derived.build_id_aggregates` "
        "GROUP BY 1 ORDER BY 1"
    )
    assert got.rows(named=True) == [{"ingest_date": DAY, "n": source.good_rows("build_id")}]


def test_a_damaged_dump_fails_the_run_and_leaves_the_stored_partition_as_it_was(source: Source, ci_home: Path) -> None:
    """A data file cut short, then a toc.dat damaged after its header: each fails the run naming the
    file (and the offset in toc.dat), the stored partition stays as it was, no scratch file stays."""
    scratch = ci_home / "tmp"
    resources = _resources(source.dsn) | {
        "aggregates_source": AggregatesSource(dsn=source.dsn, scratch_dir=str(scratch))
    }
    one = {"dagster/asset_partition_range_start": f"{DAY}|submission_date"}
    one["dagster/asset_partition_range_end"] = f"{DAY}|submission_date"
    assert _run(resources, [aggregates.dump, aggregates.parquet], one).success
    stored = _lake_file(ci_home, DAY, "submission_date")
    before = stored.read_bytes()
    dump_dir = ci_home / "objects/ci-assets-aggregates/aggregates/dumps/submission_date/20191201"
    victim = file_of(dump_dir, DIRTY)
    victim.write_bytes(victim.read_bytes()[:-40])
    result = _run(resources, [aggregates.parquet], one, raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error.to_string()
    assert f"{victim.name}: cannot be decompressed whole" in failure
    # Which day and which dump, as a month's backfill needs to say.
    assert f"partition {DAY}|submission_date: the dump at " in failure
    assert "aggregates/dumps/submission_date/20191201" in failure
    assert stored.read_bytes() == before
    assert scratch.is_dir() and not list(scratch.glob("aggregates-*.parquet"))  # nothing left behind
    toc = dump_dir / "toc.dat"
    header, _ = parse_toc(toc.read_bytes())
    data = toc.read_bytes()
    toc.write_bytes(data[: header.entries_at + 40] + b"\x80\xff" * 8 + data[header.entries_at + 56 :])
    damaged = _run(resources, [aggregates.parquet], one, raise_on_error=False)
    assert not damaged.success
    failure = damaged.get_step_failure_events()[0].step_failure_data.error.to_string()
    assert "toc.dat" in failure and "offset" in failure, failure
    assert stored.read_bytes() == before
    assert not list(scratch.glob("aggregates-*.parquet"))


def test_the_embedded_server_is_dumped_by_pg_dump_18(embedded_postgres_uri: str, ci_home: Path) -> None:
    dsn = embedded_postgres_uri.replace("/ci_assets?", "/aggregates_t?") if "?" in embedded_postgres_uri else None
    with psycopg.connect(embedded_postgres_uri, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = 'aggregates_t'").fetchone()
        if not exists:
            conn.execute("CREATE DATABASE aggregates_t")
    assert dsn is not None, embedded_postgres_uri
    made = generate.create_day(dsn, DAY, "build_id", tables=2, rows_per_table=150, seed=3)
    with psycopg.connect(dsn) as conn:
        rows = sum(conn.execute(f"SELECT count(*) FROM {t.name}").fetchone()[0] for t in made)
    one = {
        "dagster/asset_partition_range_start": f"{DAY}|build_id",
        "dagster/asset_partition_range_end": f"{DAY}|build_id",
    }
    result = _run(_resources(dsn), [aggregates.dump, aggregates.parquet], one)
    assert result.success
    assert "pg_dump 18" in result.asset_materializations_for_node("aggregates__dump")[0].metadata["pg_dump"].value
    assert pl.read_parquet(_lake_file(ci_home, DAY, "build_id")).height == rows


@pytest.mark.parametrize("partition", [f"{DAY}|build_id"])
def test_parquet_without_its_dump_says_what_to_materialize(source: Source, ci_home: Path, partition: str) -> None:
    tags = {"dagster/asset_partition_range_start": partition, "dagster/asset_partition_range_end": partition}
    result = _run(_resources(source.dsn), [aggregates.parquet], tags, raise_on_error=False)
    assert not result.success
    message = result.get_step_failure_events()[0].step_failure_data.error.message
    assert "no dump at" in message and "materialize aggregates/dump" in message
