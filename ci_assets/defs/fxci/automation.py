"""When the fxci tables run by themselves: the pulse drain every 15 minutes into today's
partition, yesterday's worker metrics and costs every morning (their freshness policies are on the assets)."""

import datetime as dt

import dagster as dg

from ci_assets.defs.fxci.assets import TASK_RUNS, TASKS
from ci_assets.defs.fxci.worker_costs import KEY as WORKER_COSTS
from ci_assets.defs.fxci.worker_metrics import KEY as WORKER_METRICS

TAGS = {"system": "fxci"}

fxci_pulse = dg.define_asset_job("fxci_pulse", selection=dg.AssetSelection.assets(TASKS.key, TASK_RUNS.key), tags=TAGS)
fxci_workers_daily = dg.define_asset_job(
    "fxci_workers_daily",
    selection=dg.AssetSelection.assets(WORKER_METRICS, WORKER_COSTS),
    tags=TAGS,
)


@dg.schedule(name="fxci_pulse_schedule", cron_schedule="*/15 * * * *", execution_timezone="UTC", job=fxci_pulse)
def fxci_pulse_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Drain the queues into today's (UTC) partition."""
    day = context.scheduled_execution_time.astimezone(dt.UTC).date()
    return dg.RunRequest(run_key=None, partition_key=day.isoformat(), tags=TAGS)


@dg.schedule(
    name="fxci_workers_daily_schedule", cron_schedule="0 7 * * *", execution_timezone="UTC", job=fxci_workers_daily
)
def fxci_workers_daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Yesterday's (UTC) uptime and costs, once the billing export has caught up."""
    day = context.scheduled_execution_time.astimezone(dt.UTC).date() - dt.timedelta(days=1)
    return dg.RunRequest(run_key=day.isoformat(), partition_key=day.isoformat(), tags=TAGS)
