"""New keys in the ActiveData buckets: listed after a cursor per bucket, recorded, run by arrival day.

The cursor is the last key listed (S3's StartAfter, the seed's `?marker=`); keys that
sort before it (a lower batch number written late) are found by the backfill of their
day, which reads the inventory, not by this sensor.
"""

import hashlib
import json
from collections import defaultdict

import dagster as dg

from ci_assets.defs.activedata import inventory
from ci_assets.defs.activedata.assets import ARRIVAL_DAYS, SOURCE_ASSETS
from ci_assets.defs.activedata.keys import KeyConventionError, parse_key
from ci_assets.defs.activedata.settings import ActiveDataSettings
from ci_assets.lib import env, quarantine
from ci_assets.lib.storage.object_store import BucketNotFoundError
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource
from ci_assets.lib.storage.postgres import PostgresResource

KEYS_QUARANTINE = "activedata-keys"


@dg.sensor(
    name="activedata_new_keys",
    asset_selection=[a.key for a in SOURCE_ASSETS.values()],
    minimum_interval_seconds=env.listing_interval_seconds(60),
    description="Lists each ActiveData bucket after the last key seen; new files start a run for their arrival day.",
)
def new_keys_sensor(
    context: dg.SensorEvaluationContext,
    object_store: ObjectStoreResource,
    postgres: PostgresResource,
    activedata_settings: ActiveDataSettings,
) -> dg.SensorResult:
    cursor: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    budget = activedata_settings.max_keys_per_tick
    requests, missing = [], []
    with postgres.connect() as conn:
        inventory.ensure_schema(conn)
        for bucket in activedata_settings.watched():
            if budget <= 0:
                break
            try:
                page = object_store.list_page(bucket, start_after=cursor.get(bucket), max_keys=budget)
            except BucketNotFoundError:
                missing.append(bucket)
                continue
            budget -= len(page.objects)
            good, bad = [], []
            for info in page.objects:
                try:
                    parse_key(info.key)
                    good.append(info)
                except KeyConventionError as e:
                    bad.append(quarantine.Rejected(f"s3://{bucket}/{info.key}", str(e), None, {}, None))
            quarantine.quarantine(conn, KEYS_QUARANTINE, bad)
            by_day: dict[str, list[str]] = defaultdict(list)
            for key, day in inventory.record_keys(conn, bucket, good):
                by_day[day.isoformat()].append(key)
            for day, keys in sorted(by_day.items()):
                if not ARRIVAL_DAYS.has_partition_key(day):
                    continue  # outside the partitions; the inventory keeps them for a backfill
                digest = hashlib.sha1("\n".join(sorted(keys)).encode(), usedforsecurity=False).hexdigest()[:16]
                requests.append(
                    dg.RunRequest(
                        asset_selection=[SOURCE_ASSETS[bucket].key],
                        partition_key=day,
                        run_key=f"{bucket}:{day}:{digest}",
                        tags={"system": "activedata", "activedata/new_keys": str(len(keys))},
                    )
                )
            if page.objects:
                cursor[bucket] = page.objects[-1].key
    if missing and not requests:
        raise BucketNotFoundError(", ".join(missing), "the activedata_new_keys sensor's listing")
    for bucket in missing:
        context.log.error(f"bucket {bucket} does not exist (or is not readable); its listing was skipped")
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(cursor, sort_keys=True))
