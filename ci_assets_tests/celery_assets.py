"""The platform's scale-out jobs as reconstructable targets: the celery workers import this module
(PYTHONPATH) and rebuild the job from the same code location and environment as the run. Also the
ActiveData week the celery tests run: files in every bucket, one arrival day each."""

import dataclasses
import datetime as dt
import random
import sys

import dagster as dg

# Late acknowledgement: a task whose worker dies is given to a worker again instead of failing.
CELERY_CONFIG = """
broker_url = {broker!r}
result_backend = "rpc://"
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
"""
# One worker process (`-c 1`) on the dagster queue; give it a name with `-n`.
WORKER = [sys.executable, "-m", "celery", "-A", "dagster_celery.app", "worker", "-Q", "dagster", "-c", "1",
          "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip


def aggregates_on_celery() -> dg.JobDefinition:
    from ci_assets.definitions import build_definitions

    return build_definitions().resolve_job_def("aggregates_on_celery")


def activedata_on_celery() -> dg.JobDefinition:
    from ci_assets.definitions import build_definitions

    return build_definitions().resolve_job_def("activedata_on_celery")


def seed_activedata_week(days: list[str], files_per_day: int = 3) -> str:
    """Files in all ActiveData buckets (and Bugzilla's) for each of `days`, recorded in the
    inventory as having arrived on their day, as the sensor records what the listing says."""
    from ci_assets.defs.activedata.assets import INVENTORY
    from ci_assets.defs.activedata.buckets import bucket_names
    from ci_assets.defs.activedata.samples import bucket_file
    from ci_assets.defs.resources import resources_for

    resources = resources_for()
    store, rng = resources["object_store"], random.Random(7)
    buckets = [*bucket_names(), resources["activedata_settings"].bugzilla_bucket]
    with resources["postgres"].connect() as conn:
        INVENTORY.ensure_schema(conn)
        for bucket in buckets:
            store.create_bucket(bucket)
            for n, day in enumerate(days):
                arrived = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(12), tzinfo=dt.UTC)
                for i in range(files_per_day):
                    key, body = bucket_file(bucket, rng, 1700000 + n, 170000000 + i, rng.randint(0, 60), 200)
                    store.put(bucket, key, body)
                    info = store.head(bucket, key)
                    INVENTORY.record(conn, bucket, [dataclasses.replace(info, last_modified=arrived)])
    return f"{len(days) * files_per_day} files in each of {len(buckets)} buckets"
