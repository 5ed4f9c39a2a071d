"""New keys in the ActiveData buckets: listed after a cursor per bucket, recorded, run by arrival day.

The cursor is the last key listed (S3's StartAfter, the seed's `?marker=`). Keys that sort
before it (batch numbers do not sort as text: `tc.999` > `tc.1000`, or a batch written late)
are caught by a second, slower pass: once a day each bucket is listed again from its start,
page by page with what a tick's budget leaves over, and the inventory keeps only the keys it
has not seen (so nothing runs twice).
"""

import datetime as dt
import hashlib
import json
from collections import defaultdict

import dagster as dg
import psycopg

from ci_assets.defs.activedata import inventory
from ci_assets.defs.activedata.assets import ARRIVAL_DAYS, BUCKET_ASSETS, BUGZILLA_ASSET, asset_for_bucket
from ci_assets.defs.activedata.keys import KeyConventionError, parse_key
from ci_assets.defs.activedata.settings import ActiveDataSettings
from ci_assets.lib import quarantine
from ci_assets.lib.listing import listing_sensor
from ci_assets.lib.storage.object_store import BucketNotFoundError, ObjectInfo
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource
from ci_assets.lib.storage.postgres import PostgresResource

KEYS_QUARANTINE = "activedata-keys"
# The re-listing's state in the cursor: bucket names cannot hold "_", so no bucket's cursor collides with it.
RELISTING = "_relisting"


@listing_sensor(
    name="activedata_new_keys",
    asset_selection=[a.key for a in [*BUCKET_ASSETS.values(), BUGZILLA_ASSET]],
    description="Lists each ActiveData bucket after the last key seen; new files start a run for their arrival day.",
)
def new_keys_sensor(
    context: dg.SensorEvaluationContext,
    object_store: ObjectStoreResource,
    postgres: PostgresResource,
    activedata_settings: ActiveDataSettings,
) -> dg.SensorResult:
    cursor: dict = json.loads(context.cursor) if context.cursor else {}
    watched = activedata_settings.watched()
    today = dt.datetime.now(dt.UTC).date().isoformat()
    relisting = cursor.get(RELISTING) or {}
    if relisting.get("day") != today:
        # A bucket without a cursor yet is being listed from its start anyway.
        relisting = {"day": today, "after": dict.fromkeys([b for b in watched if b in cursor], "")}
    budget = activedata_settings.max_keys_per_tick
    requests, missing = [], []
    with postgres.connect() as conn:
        inventory.ensure_schema(conn)
        for bucket in watched:  # new keys first: after each bucket's cursor
            if budget <= 0:
                break
            try:
                page = object_store.list_page(bucket, start_after=cursor.get(bucket), max_keys=budget)
            except BucketNotFoundError:
                missing.append(bucket)
                continue
            budget -= len(page.objects)
            requests += _take_in(conn, bucket, page.objects, "listing", activedata_settings)
            if page.objects:
                cursor[bucket] = page.objects[-1].key
        for bucket, after in list(relisting["after"].items()):  # then the day's re-listing, with what is left
            if budget <= 0:
                break
            if bucket not in watched or bucket in missing:
                relisting["after"].pop(bucket)
                continue
            page = object_store.list_page(bucket, start_after=after or None, max_keys=budget)
            budget -= len(page.objects)
            requests += _take_in(conn, bucket, page.objects, "relisting", activedata_settings)
            if page.next_start_after is None:
                relisting["after"].pop(bucket)  # listed from start to end today
            else:
                relisting["after"][bucket] = page.next_start_after
    cursor[RELISTING] = relisting
    if missing and not requests:
        raise BucketNotFoundError(", ".join(missing), "the activedata_new_keys sensor's listing")
    for bucket in missing:
        context.log.error(f"bucket {bucket} does not exist (or is not readable); its listing was skipped")
    return dg.SensorResult(run_requests=_merged(requests), cursor=json.dumps(cursor, sort_keys=True))


def _take_in(
    conn: psycopg.Connection, bucket: str, objects: list[ObjectInfo], found_by: str, settings: ActiveDataSettings
) -> list[dg.RunRequest]:
    """Records the objects' keys; a run request per arrival day with keys the inventory had not seen."""
    asset = asset_for_bucket(bucket, settings)
    if asset is None:
        raise ValueError(f"bucket {bucket} is watched (CI_ASSETS_ACTIVEDATA_BUCKETS) but no ActiveData asset reads it")
    good, bad = [], []
    for info in objects:
        try:
            parse_key(info.key)
            good.append(info)
        except KeyConventionError as e:
            bad.append(quarantine.Rejected(f"s3://{bucket}/{info.key}", str(e), None, {}, None))
    quarantine.quarantine(conn, KEYS_QUARANTINE, bad)
    by_day: dict[str, list[str]] = defaultdict(list)
    for key, day in inventory.record_keys(conn, bucket, good):
        by_day[day.isoformat()].append(key)
    requests = []
    for day, keys in sorted(by_day.items()):
        if not ARRIVAL_DAYS.has_partition_key(day):
            continue  # outside the partitions; the inventory keeps them for a backfill
        digest = hashlib.sha1("\n".join(sorted(keys)).encode(), usedforsecurity=False).hexdigest()[:16]
        requests.append(
            dg.RunRequest(
                asset_selection=[asset.key],
                partition_key=day,
                run_key=f"{bucket}:{day}:{digest}",
                tags={"system": "activedata", "activedata/new_keys": str(len(keys)), "activedata/found_by": found_by},
            )
        )
    return requests


def _merged(requests: list[dg.RunRequest]) -> list[dg.RunRequest]:
    """One run per bucket and day even when both passes found keys of that day in one tick."""
    merged: dict[tuple, dg.RunRequest] = {}
    for request in requests:
        key = (tuple(request.asset_selection or ()), request.partition_key)
        if key in merged:
            earlier = merged[key]
            count = int(earlier.tags["activedata/new_keys"]) + int(request.tags["activedata/new_keys"])
            request = earlier.with_replaced_attrs(
                run_key=f"{earlier.run_key}+{request.run_key.rsplit(':', 1)[-1]}",
                tags={**earlier.tags, "activedata/new_keys": str(count), "activedata/found_by": "both"},
            )
        merged[key] = request
    return list(merged.values())
