"""The platform's heavy backfill on the dagster-celery executor: each step goes to a celery worker (the
`dagster` queue of the broker in the run's config), so a month of aggregates spreads over as many
worker processes as there are, on this machine or others.

The run config names the broker (`execution: config: broker: amqp://...`); the workers need the
code, the same environment and the same instance (README, "Scale-out on celery").
"""

import dagster as dg
from dagster_celery import celery_executor

AGGREGATES = dg.AssetSelection.assets(["aggregates", "dump"], ["aggregates", "parquet"])

aggregates_on_celery = dg.define_asset_job(
    "aggregates_on_celery",
    selection=AGGREGATES,
    executor_def=celery_executor,
    tags={"system": "aggregates"},
    description="Dumps and Parquet of aggregates, each step on a celery worker (a month's backfill).",
)

JOBS = [aggregates_on_celery]
