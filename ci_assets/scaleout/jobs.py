"""The platform's heavy backfills on the dagster-celery executor: each step goes to a celery worker (the
`dagster` queue of the broker in the run's config), so a month of aggregates, or a week of every
ActiveData bucket, spreads over as many worker processes as there are, on this machine or others.

The run config names the broker (`execution: config: broker: amqp://...`); the workers need the
code, the same environment and the same instance (README, "Scale-out on celery").
"""

import dagster as dg
from dagster_celery import celery_executor

from ci_assets.defs.activedata.assets import BUCKET_ASSETS, BUGZILLA_ASSET

AGGREGATES = dg.AssetSelection.assets(["aggregates", "dump"], ["aggregates", "parquet"])

aggregates_on_celery = dg.define_asset_job(
    "aggregates_on_celery",
    selection=AGGREGATES,
    executor_def=celery_executor,
    tags={"system": "aggregates"},
    description="Dumps and Parquet of aggregates, each step on a celery worker (a month's backfill).",
)

activedata_on_celery = dg.define_asset_job(
    "activedata_on_celery",
    selection=dg.AssetSelection.assets(*BUCKET_ASSETS.values(), BUGZILLA_ASSET),
    executor_def=celery_executor,
    tags={"system": "activedata"},
    description="Every ActiveData bucket's records, each bucket's days a step on a celery worker (a week's backfill).",
)

JOBS = [aggregates_on_celery, activedata_on_celery]
