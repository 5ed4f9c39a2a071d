"""The demo month: real tables in the embedded PostgreSQL that the assets convert as they would production's."""

import datetime as dt
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg

from ci_assets.defs import aggregates
from ci_assets.defs.aggregates.demo import seed_demo
from ci_assets.defs.aggregates.settings import AggregatesSource
from ci_assets.defs.resources import local_resources


def test_demo_days_dump_and_convert_with_the_misnamed_table_quarantined(
    embedded_postgres_uri: str, ci_home: Path
) -> None:
    with psycopg.connect(embedded_postgres_uri, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'mozaggregator'").fetchone():
            conn.execute("CREATE DATABASE mozaggregator")
    dsn = embedded_postgres_uri.replace("/ci_assets?", "/mozaggregator?")
    assert dsn != embedded_postgres_uri
    resources = local_resources() | {"aggregates_source": AggregatesSource(dsn=dsn)}
    assert seed_demo(resources, days=2).startswith("12 aggregate tables")
    assert seed_demo(resources, days=2).startswith("0 aggregate tables")  # seeding twice adds nothing

    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=2)
    key = f"{day}|submission_date"
    result = dg.materialize(
        [aggregates.dump, aggregates.parquet],
        resources=resources,
        tags={"dagster/asset_partition_range_start": key, "dagster/asset_partition_range_end": key},
    )
    assert result.success
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["reconciles"].passed
    assert not checks["table_names_follow_convention"].passed
    lake = ci_home / "objects/ci-assets-lake/lake/aggregates/parquet"
    stored = lake / f"ingest_date={day}/aggregate_type=submission_date/data.parquet"
    with psycopg.connect(dsn) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE tablename LIKE %s", (f"submission_date_%_{day:%Y%m%d}",)
            )
        ]
        expected = sum(conn.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names)
    assert pl.read_parquet(stored).height == expected > 0
