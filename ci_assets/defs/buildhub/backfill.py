"""The backfill job: walk the whole bucket, ingest whatever the key+ETag cache has not seen.

This is what catches keys the sensors missed (or that arrived before the platform
did); in a healthy deployment `backfill_inserted` stays near zero. Each upload day it
ingested keys of is recorded as a materialization of that `buildhub/builds` partition,
with the day's accounting, so the asset's partition status in the UI stays true.
"""

import datetime as dt
import itertools
from collections import defaultdict

import dagster as dg

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.assets import BUILDS, add_build_partitions
from ci_assets.defs.buildhub.automation import METRICS_NAMESPACE
from ci_assets.defs.buildhub.documents import is_buildhub_key
from ci_assets.defs.buildhub.ingest import IngestReport, ingest_keys
from ci_assets.defs.buildhub.partitions import UPLOAD_DAYS
from ci_assets.defs.buildhub.settings import BuildhubSettings
from ci_assets.lib import reconciliation
from ci_assets.lib.metrics import MetricsRecorder
from ci_assets.lib.retries import transient_retries
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource
from ci_assets.lib.storage.postgres import PostgresResource


class BackfillConfig(dg.Config):
    prefix: str = ""
    page_size: int = 1000


@dg.op(description="List every key under the prefix; download only keys whose ETag the cache has not seen.")
@transient_retries()
def backfill_bucket(
    context: dg.OpExecutionContext,
    config: BackfillConfig,
    object_store: ObjectStoreResource,
    postgres: PostgresResource,
    buildhub_settings: BuildhubSettings,
) -> dg.Output[None]:
    metrics = MetricsRecorder(METRICS_NAMESPACE)
    bucket = buildhub_settings.bucket
    total = IngestReport()
    by_day: dict[dt.date, IngestReport] = defaultdict(IngestReport)
    with metrics.timer("backfill"):
        with postgres.connect() as conn:
            store.ensure_schema(conn)
        cursor = None
        while True:
            page = object_store.list_page(bucket, config.prefix, cursor, config.page_size)
            matched = [o for o in page.objects if is_buildhub_key(o.key)]
            metrics.incr("backfill_listed", len(page.objects))
            metrics.incr("backfill_matched", len(matched))
            with postgres.connect() as conn:
                store.INVENTORY.record(conn, bucket, matched)
                rows = store.INVENTORY.keys_by_name(conn, bucket, [o.key for o in matched])
            for day, day_rows in itertools.groupby(sorted(rows, key=lambda r: r.arrival_day), lambda r: r.arrival_day):
                day_rows = list(day_rows)
                run_id = context.run.run_id
                adopt = reconciliation.unreported_runs(context.instance, {r.ingested_by for r in day_rows}, run_id)
                report = ingest_keys(
                    object_store, postgres, bucket, day_rows, metrics, "backfill", run_id=run_id, adopt=adopt
                )
                by_day[day].add(report)
                total.add(report)
            if page.next_start_after is None:
                break
            cursor = page.next_start_after
            context.log.info(f"backfill at {cursor!r}: {total.as_metadata()}")
    add_build_partitions(context.instance, total.build_ids)
    for day, report in sorted(by_day.items()):
        if report.cached < report.received and UPLOAD_DAYS.has_partition_key(day.isoformat()):
            context.log_event(
                dg.AssetMaterialization(
                    asset_key=BUILDS,
                    partition=day.isoformat(),
                    metadata={**report.as_metadata(), "materialized_by": "buildhub_backfill"},
                )
            )
    return dg.Output(None, metadata={**total.as_metadata(), **metrics.as_metadata()})


@dg.job(name="buildhub_backfill", description="Ingest every buildhub.json in the bucket that was never ingested.")
def backfill_job() -> None:
    backfill_bucket()
