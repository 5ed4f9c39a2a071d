"""Thirty days of aggregates (both types): one single-run backfill against 30 one-day runs.

The source is a real PostgreSQL database on 127.0.0.1 with a month of generated
aggregate tables (created once, kept between runs of this script); each mode dumps
with the real pg_dump into its own local object store and converts into its own lake,
through one persistent (SQLite) Dagster instance. Target: the single run >= 3x faster.

    python bench/aggregates_backfill.py [--days 30] [--rows 400]
"""

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import dagster as dg
import psycopg

from ci_assets.defs import aggregates
from ci_assets.defs.aggregates import generate
from ci_assets.defs.aggregates.settings import AggregatesSource
from ci_assets.defs.resources import local_resources

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DSN = "postgresql://postgres@127.0.0.1:5432/ci_assets_bench_aggregates_month"
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
FIRST = dt.date(2019, 11, 1)


def ensure_source(days: int, rows: int) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = 'ci_assets_bench_aggregates_month'").fetchone():
            conn.execute("CREATE DATABASE ci_assets_bench_aggregates_month")
    with psycopg.connect(DSN, autocommit=True) as conn:
        conn.execute(generate.BOOKKEEPING_DDL)
        have = {r[0] for r in conn.execute("SELECT tablename FROM table_update_dates").fetchall()}
    for i in range(days):
        day = FIRST + dt.timedelta(days=i)
        for aggregate_type, tables in (("build_id", 1), ("submission_date", 5)):
            if not all(t.name in have for t in generate.tables_for_day(aggregate_type, day, tables)):
                generate.create_day(DSN, day, aggregate_type, tables, rows, seed=i)


def run(home: Path, instance: dg.DagsterInstance, start: str, end: str) -> dg.ExecuteInProcessResult:
    os.environ["CI_ASSETS_HOME"] = str(home)
    resources = local_resources() | {"aggregates_source": AggregatesSource(dsn=DSN)}
    tags = {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}
    result = dg.materialize(
        [aggregates.dump, aggregates.parquet], instance=instance, resources=resources, tags=tags, run_config=QUIET
    )
    assert result.success
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rows", type=int, default=400)
    args = parser.parse_args()
    ensure_source(args.days, args.rows)
    days = [FIRST + dt.timedelta(days=i) for i in range(args.days)]
    with tempfile.TemporaryDirectory(prefix="bench-aggregates-") as tmp:
        dagster_home = Path(tmp) / "dagster_home"
        dagster_home.mkdir()
        (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
            t0 = time.perf_counter()
            for day in days:
                run(Path(tmp) / "per-day", instance, f"{day}|build_id", f"{day}|submission_date")
            per_day = time.perf_counter() - t0

            t0 = time.perf_counter()
            result = run(Path(tmp) / "single", instance, f"{days[0]}|build_id", f"{days[-1]}|submission_date")
            single = time.perf_counter() - t0
            assert len(result.asset_materializations_for_node("aggregates__parquet")) == 2 * len(days)
        files = {m: sorted(p.relative_to(Path(tmp) / m) for p in (Path(tmp) / m).rglob("*.parquet"))
                 for m in ("per-day", "single")}  # fmt: skip
        assert files["per-day"] == files["single"] and len(files["single"]) == 2 * len(days), files

    print(f"{len(days)} days x 2 aggregate types (6 tables, ~{args.rows} rows each a day): real pg_dump + conversion")
    print(f"  {len(days)} one-day runs:        {per_day:7.2f} s  ({per_day / len(days):.2f} s a day)")
    print(f"  one single-run backfill:  {single:7.2f} s  ({single / len(days):.2f} s a day)")
    print(f"speed-up: {per_day / single:.1f}x (target >= 3x)")


if __name__ == "__main__":
    main()
