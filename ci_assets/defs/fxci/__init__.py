"""Firefox-CI ETL (seed 002): pulse messages and worker metrics become the fxci_derived tables."""

import dagster as dg

from ci_assets.defs.fxci.assets import pulse_tables
from ci_assets.defs.fxci.automation import (
    fxci_pulse,
    fxci_pulse_schedule,
    fxci_workers_daily,
    fxci_workers_daily_schedule,
)
from ci_assets.defs.fxci.worker_costs import billing_sources, worker_costs_v1
from ci_assets.defs.fxci.worker_metrics import worker_metrics_v1


def build_defs(listing_interval_seconds: int = 0) -> dg.Definitions:
    """(No listing sensor: the interval is not used.)"""
    return dg.Definitions(
        assets=[pulse_tables, worker_metrics_v1, worker_costs_v1, *billing_sources],
        jobs=[fxci_pulse, fxci_workers_daily],
        schedules=[fxci_pulse_schedule, fxci_workers_daily_schedule],
    )
