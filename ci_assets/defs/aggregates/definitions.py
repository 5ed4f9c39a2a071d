"""The aggregates system's Definitions: its four assets, their checks and automation."""

import dagster as dg

from ci_assets.defs.aggregates.automation import (
    aggregates_daily,
    aggregates_daily_schedule,
)
from ci_assets.defs.aggregates.dump_asset import dump
from ci_assets.defs.aggregates.parquet_asset import parquet
from ci_assets.defs.aggregates.tables import build_id_aggregates, submission_date_aggregates

defs = dg.Definitions(
    assets=[dump, parquet, build_id_aggregates, submission_date_aggregates],
    jobs=[aggregates_daily],
    schedules=[aggregates_daily_schedule],
)
