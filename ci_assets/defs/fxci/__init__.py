"""Firefox-CI ETL (seed 002): pulse messages and worker metrics become the fxci_derived tables."""

import dagster as dg

from ci_assets.defs.fxci.assets import pulse_tables
from ci_assets.defs.fxci.worker_costs import billing_sources, worker_costs_v1
from ci_assets.defs.fxci.worker_metrics import UptimeSource, worker_metrics_v1
from ci_assets.lib import env

defs = dg.Definitions(
    assets=[pulse_tables, worker_metrics_v1, worker_costs_v1, *billing_sources],
    resources={"uptime_source": UptimeSource(kind=env.current_env())},
)
