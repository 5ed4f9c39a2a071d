"""worker_metrics_v1: each worker instance's uptime on the day, from Cloud Monitoring.

The window is the partition's day (not "since the last run"), so any day can be
re-run. In the cloud the official client asks for `compute.googleapis.com/instance/uptime`
summed per instance over the day; locally the same time series are JSON files in the
object store (`fxci-monitoring/uptime/<project>/<day>.json`).
"""

import datetime as dt

import dagster as dg
import polars as pl

from ci_assets.defs.fxci import schemas
from ci_assets.defs.fxci.assets import accepted_rows, daily_table, uniqueness_result
from ci_assets.defs.fxci.settings import WORKER_PROJECTS, UptimeSource
from ci_assets.lib import reconciliation
from ci_assets.lib.retries import transient_retries
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource
from ci_assets.lib.storage.postgres import PostgresResource

KEY = dg.AssetKey(["fxci", "worker_metrics_v1"])


@daily_table(
    KEY,
    "submission_date",
    {"bigquery", "gcp"},
    "Each worker instance's uptime on the day (Cloud Monitoring), for the two worker projects.",
)
@transient_retries()
def worker_metrics_v1(
    context: dg.AssetExecutionContext,
    uptime_source: UptimeSource,
    object_store: ObjectStoreResource,
    postgres: PostgresResource,
):
    rows, by_day, received = [], {}, 0
    for key in context.partition_keys:
        day = dt.date.fromisoformat(key)
        count = 0
        for project in WORKER_PROJECTS:
            series, returned = uptime_source.series(project, day, object_store)
            rows.extend(r | {"submission_date": day} for r in series)
            count += len(series)
            received += returned
        by_day[key] = count
    read = pl.DataFrame(rows, schema=schemas.polars_schema("worker_metrics_v1"))
    frame, tally, broken = accepted_rows(KEY, read, received, postgres)
    empty = [key for key, count in by_day.items() if count == 0]
    if empty:
        context.log.warning(f"no uptime series for {', '.join(empty)}: stored as empty partitions")
    detail = {
        "instances": frame.height,
        "instances_by_day": by_day,
        "days_without_series": empty,
        "projects": sorted(set(frame["project"].to_list())),
        **broken,
    }
    yield dg.Output(frame, metadata=reconciliation.metadata(tally, detail))
    yield uniqueness_result(KEY, frame, "submission_date")
    yield reconciliation.check_result(KEY, tally)
