"""A month of mozaggregator tables in the embedded PostgreSQL (database `mozaggregator`), for `make dev`."""

import datetime as dt
from typing import Any

import psycopg

from ci_assets.defs.aggregates import generate
from ci_assets.defs.aggregates.names import AGGREGATE_TYPES
from ci_assets.lib.launch import DemoRun

PARQUET = ["aggregates", "parquet"]

DAYS = 30
SUBMISSION_TABLES = 5
ROWS_PER_TABLE = 400


def seed_demo(resources: dict[str, Any], days: int = DAYS) -> str:
    """Tables for the last `days` days (both types), plus one misnamed table to show the quarantine."""
    dsn = resources["aggregates_source"].uri()
    today = dt.datetime.now(dt.UTC).date()
    made = 0
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(generate.BOOKKEEPING_DDL)
        seeded = {r[0] for r in conn.execute("SELECT tablename FROM table_update_dates").fetchall()}
    for back in range(1, days + 1):
        day = today - dt.timedelta(days=back)
        for aggregate_type, tables in (("build_id", 1), ("submission_date", SUBMISSION_TABLES)):
            wanted = generate.tables_for_day(aggregate_type, day, tables)
            if all(t.name in seeded for t in wanted):
                continue
            generate.create_day(dsn, day, aggregate_type, tables, ROWS_PER_TABLE, seed=back)
            made += len(wanted)
    odd_day = today - dt.timedelta(days=2)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS submission_date_nightly_cck_40_{odd_day:%Y%m%d} "
            "(dimensions jsonb, histogram bigint[])"
        )
    return f"{made} aggregate tables created over the last {days} days in {dsn.split('?')[0]}"


def demo_runs(today: dt.date) -> list[DemoRun]:
    """Yesterday's dump and Parquet of both types, as the morning schedule runs them, then each type's
    table from its Parquet (what the tables' eager automation would do)."""
    day = (today - dt.timedelta(days=1)).isoformat()
    runs = []
    for t in AGGREGATE_TYPES:
        partition = {"partition": f"{day}|{t}", "dimensions": {"day": day, "type": t}}
        runs.append(DemoRun(f"aggregates, yesterday ({t})", "aggregates", job="aggregates_daily", **partition))
        table = ["aggregates", f"{t}_aggregates"]
        runs.append(DemoRun(f"{t}_aggregates, yesterday", "aggregates", assets=[table], after=[PARQUET], **partition))
    return runs
