"""The aggregates' four assets, one module per family (the dump, its Parquet, the two tables), and
the system's Definitions.

Loaded on first use through the package's `__getattr__`, so the converter's modules import
without Dagster.
"""

import dagster as dg

from ci_assets.defs.aggregates.automation import aggregates_daily, aggregates_daily_schedule
from ci_assets.defs.aggregates.dump_asset import dump
from ci_assets.defs.aggregates.parquet_asset import parquet
from ci_assets.defs.aggregates.tables import build_id_aggregates, submission_date_aggregates


def build_defs(listing_interval_seconds: int = 0) -> dg.Definitions:
    """(No listing sensor: the interval is not used.)"""
    return dg.Definitions(
        assets=[dump, parquet, build_id_aggregates, submission_date_aggregates],
        jobs=[aggregates_daily],
        schedules=[aggregates_daily_schedule],
    )
