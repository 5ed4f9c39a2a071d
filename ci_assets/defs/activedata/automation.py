"""New keys in the ActiveData buckets: listed after a cursor per bucket, recorded, run by arrival day.

The tick, its cursor and the daily re-listing that finds keys sorting before the cursor are the
platform's (lib/listing.py); the key inventory is too (lib/inventory.py). What is ActiveData's
own: keys must follow the ETL's convention (others are quarantined), and a day's run is the
bucket's asset for that arrival day.
"""

import datetime as dt
import json

import dagster as dg

from ci_assets.defs.activedata.assets import BUCKET_ASSETS, BUGZILLA_ASSET, INVENTORY, asset_for_bucket
from ci_assets.defs.activedata.keys import KeyConventionError, parse_key
from ci_assets.defs.activedata.partitions import ARRIVAL_DAYS
from ci_assets.defs.activedata.settings import ActiveDataSettings
from ci_assets.lib import quarantine
from ci_assets.lib.listing import (
    DEFAULT_INTERVAL_SECONDS,
    RELISTING,
    Source,
    list_new_keys,
    listing_sensor,
    run_requests_by_day,
)
from ci_assets.lib.storage.object_store import BucketNotFoundError
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource
from ci_assets.lib.storage.postgres import PostgresResource

KEYS_QUARANTINE = "activedata-keys"
__all__ = ["RELISTING", "new_keys_sensor"]


def new_keys(
    context: dg.SensorEvaluationContext,
    object_store: ObjectStoreResource,
    postgres: PostgresResource,
    activedata_settings: ActiveDataSettings,
) -> dg.SensorResult:
    watched = activedata_settings.watched()
    tick = list_new_keys(
        object_store,
        [Source(bucket) for bucket in watched],
        json.loads(context.cursor) if context.cursor else {},
        activedata_settings.max_keys_per_tick,
        dt.datetime.now(dt.UTC).date(),
    )
    changed: dict[str, list[tuple[str, dt.date, str]]] = {}
    with postgres.connect() as conn:
        INVENTORY.ensure_schema(conn)
        for found in tick.found:
            good, bad = [], []
            for info in found.objects:
                try:
                    parse_key(info.key)
                    good.append(info)
                except KeyConventionError as e:
                    bad.append(quarantine.Rejected(f"s3://{found.source.bucket}/{info.key}", str(e), None, {}, None))
            quarantine.quarantine(conn, KEYS_QUARANTINE, bad)
            recorded = INVENTORY.record(conn, found.source.bucket, good)
            changed.setdefault(found.source.bucket, []).extend((k, d, found.found_by) for k, d in recorded)
    requests = [
        request
        for bucket, keys in changed.items()
        for request in run_requests_by_day(keys, ARRIVAL_DAYS, _request_for(bucket, activedata_settings))
    ]
    missing = [s.bucket for s in tick.missing]
    if missing and not requests:
        raise BucketNotFoundError(", ".join(missing), "the activedata_new_keys sensor's listing")
    for bucket in missing:
        context.log.error(f"bucket {bucket} does not exist (or is not readable); its listing was skipped")
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(tick.cursor, sort_keys=True))


def new_keys_sensor(minimum_interval_seconds: int = DEFAULT_INTERVAL_SECONDS) -> dg.SensorDefinition:
    """The listing sensor, ticking every `minimum_interval_seconds` (set when the definitions are built)."""
    return listing_sensor(
        name="activedata_new_keys",
        asset_selection=[a.key for a in [*BUCKET_ASSETS.values(), BUGZILLA_ASSET]],
        description="Lists each ActiveData bucket after the last key seen; new files start a run for their "
        "arrival day.",
        minimum_interval_seconds=minimum_interval_seconds,
    )(new_keys)


def _request_for(bucket: str, settings: ActiveDataSettings):
    asset = asset_for_bucket(bucket, settings)
    if asset is None:
        raise ValueError(f"bucket {bucket} is watched (CI_ASSETS_ACTIVEDATA_BUCKETS) but no ActiveData asset reads it")

    def request(day: str, keys: list[str], found_by: str, digest: str) -> dg.RunRequest:
        return dg.RunRequest(
            asset_selection=[asset.key],
            partition_key=day,
            run_key=f"{bucket}:{day}:{digest}",
            tags={"system": "activedata", "activedata/new_keys": str(len(keys)), "activedata/found_by": found_by},
        )

    return request
