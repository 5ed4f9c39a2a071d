"""A batch of days dumped by one pg_dump and split per day: each day's dump is one pg_restore accepts."""

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import dagster as dg
import psycopg

from ci_assets.defs import aggregates
from ci_assets.defs.aggregates import generate
from ci_assets.defs.aggregates.settings import AggregatesSource
from ci_assets.defs.resources import local_resources
from ci_assets_tests.services.databases import scratch_database

DAYS = [dt.date(2020, 1, 1), dt.date(2020, 1, 2), dt.date(2020, 1, 3)]


def _tables(dsn: str) -> dict[str, int]:
    with psycopg.connect(dsn) as conn:
        names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE tablename LIKE 'build_id_%'")]
        return {n: conn.execute(f"SELECT count(*) FROM {n}").fetchone()[0] for n in names}


def test_one_pg_dump_for_a_range_gives_each_day_a_dump_of_its_own_tables(postgres_dsn: str, ci_home: Path) -> None:
    with scratch_database("ci_assets_split_src") as source:
        for i, day in enumerate(DAYS[:2]):  # the third day has no tables
            generate.create_day(source, day, "build_id", tables=2, rows_per_table=50, seed=i)
        expected = _tables(source)
        tags = {
            "dagster/asset_partition_range_start": f"{DAYS[0]}|build_id",
            "dagster/asset_partition_range_end": f"{DAYS[-1]}|build_id",
        }
        resources = local_resources() | {"aggregates_source": AggregatesSource(dsn=source)}
        result = dg.materialize([aggregates.dump], resources=resources, tags=tags)
        assert result.success
        meta = result.asset_materializations_for_node("aggregates__dump")[0].metadata
        assert (meta["pg_dump_runs"].value, meta["partitions_dumped"].value) == (1, 2)
        assert meta["partitions_without_tables"].value == 1

    pg_restore = shutil.which("pg_restore")
    assert pg_restore, "the machine's pg_restore is needed"
    for day in DAYS[:2]:
        directory = ci_home / f"objects/ci-assets-aggregates/aggregates/dumps/build_id/{day:%Y%m%d}"
        listing = subprocess.run([pg_restore, "--list", str(directory)], capture_output=True, text=True, check=True)
        assert "INDEX" in listing.stdout and f"{day:%Y%m%d}" in listing.stdout
        with scratch_database("ci_assets_split_dst") as target:
            subprocess.run([pg_restore, "--dbname", target, "--no-owner", str(directory)], check=True)
            restored = _tables(target)
            with psycopg.connect(target) as conn:
                indexes = conn.execute(
                    "SELECT count(*) FROM pg_indexes WHERE schemaname = 'public' AND indexdef LIKE '%USING gin%'"
                ).fetchone()[0]
        wanted = {t: n for t, n in expected.items() if t.endswith(f"{day:%Y%m%d}")}
        assert restored == wanted and len(wanted) == 2
        assert indexes == 2  # each table's GIN index came along, no other day's
