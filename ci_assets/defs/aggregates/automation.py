"""When the aggregates run by themselves: yesterday's dumps and Parquet every morning, the tables
whenever their Parquet partition changes (their freshness policies are on the assets)."""

import datetime as dt

import dagster as dg

from ci_assets.defs.aggregates.dump_asset import DUMP_KEY
from ci_assets.defs.aggregates.names import AGGREGATE_TYPES
from ci_assets.defs.aggregates.parquet_asset import PARQUET_KEY
from ci_assets.defs.aggregates.partitions import partition_key

TAGS = {"system": "aggregates"}

aggregates_daily = dg.define_asset_job(
    "aggregates_daily",
    selection=dg.AssetSelection.assets(DUMP_KEY, PARQUET_KEY),
    tags=TAGS,
    description="Dump and convert one day of both aggregate types.",
)


@dg.schedule(
    name="aggregates_daily_schedule",
    cron_schedule="0 6 * * *",
    execution_timezone="UTC",
    job=aggregates_daily,
    description="Every morning, yesterday (UTC) of both aggregate types.",
)
def aggregates_daily_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    day = context.scheduled_execution_time.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    return [
        dg.RunRequest(run_key=f"{day}|{t}", partition_key=partition_key(day, t), tags=TAGS) for t in AGGREGATE_TYPES
    ]
