"""Bucket-listing sensors, one way for every system: a tick, its cursor, the daily re-listing,
and run requests per day.

A system declares its listing sensor with `listing_sensor(...)` (an ordinary `dg.sensor`,
marked as a listing sensor); the code location then sets every such sensor's interval from
`CI_ASSETS_LISTING_INTERVAL_SECONDS` with `with_listing_interval`, so no system module reads
the environment when it is imported. In the sensor, `list_new_keys` does the tick and
`run_requests_by_day` asks for the days the key inventory (lib/inventory.py) says changed; the
system keeps only what is its own: which keys match, and what a day's run is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import warnings
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import dagster as dg
from dagster._core.definitions.sensor_definition import resolve_jobs_from_targets_for_with_attributes

from ci_assets.lib.storage.object_store import BucketNotFoundError, ListPage, ObjectInfo, ObjectStore

LISTING_MARK = "ci_assets/listing_sensor"
DEFAULT_INTERVAL_SECONDS = 60


def listing_sensor(**kwargs: Any) -> Any:
    """`dg.sensor(...)` for a sensor that lists a bucket after a cursor (interval set by the environment)."""
    metadata = {**kwargs.pop("metadata", {}), LISTING_MARK: True}
    return dg.sensor(minimum_interval_seconds=DEFAULT_INTERVAL_SECONDS, metadata=metadata, **kwargs)


def is_listing_sensor(sensor: dg.SensorDefinition) -> bool:
    value = (sensor.metadata or {}).get(LISTING_MARK)
    return bool(getattr(value, "value", value))


def _with_interval(sensor: dg.SensorDefinition, seconds: int) -> dg.SensorDefinition:
    # SensorDefinition.with_attributes cannot change the interval; this is its body with the interval replaced.
    job_name, job, jobs = resolve_jobs_from_targets_for_with_attributes(sensor, None)
    with warnings.catch_warnings():
        # The copy passes the sensor's own `owners` (None) on, which Dagster flags as a beta parameter.
        warnings.simplefilter("ignore", dg.BetaWarning)
        return _copy(sensor, seconds, job_name, job, jobs)


def _copy(sensor: dg.SensorDefinition, seconds: int, job_name: Any, job: Any, jobs: Any) -> dg.SensorDefinition:
    return dg.SensorDefinition.dagster_internal_init(
        name=sensor.name,
        evaluation_fn=sensor._raw_fn,
        minimum_interval_seconds=seconds,
        description=sensor.description,
        job_name=job_name,
        jobs=jobs,
        job=job,
        default_status=sensor.default_status,
        asset_selection=sensor.asset_selection,
        required_resource_keys=sensor._raw_required_resource_keys,
        tags=sensor._tags,
        metadata=sensor.metadata,
        target=None,
        owners=sensor.owners,
    )


def with_listing_interval(sensors: list[dg.SensorDefinition], seconds: int) -> list[dg.SensorDefinition]:
    return [_with_interval(s, seconds) if is_listing_sensor(s) else s for s in sensors]


# -- one tick of a listing sensor ------------------------------------------------------------
# The re-listing's state in the cursor: no bucket name holds "_", so no source's cursor collides with it.
RELISTING = "_relisting"


@dataclasses.dataclass(frozen=True)
class Source:
    """One place a sensor lists: a bucket, or a prefix of it."""

    bucket: str
    prefix: str = ""

    @property
    def cursor_key(self) -> str:
        return f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket


@dataclasses.dataclass
class Found:
    """Objects one listing pass found in a source; `found_by` is "listing" or "relisting"."""

    source: Source
    objects: list[ObjectInfo]
    found_by: str


@dataclasses.dataclass
class Tick:
    found: list[Found]
    missing: list[Source]  # sources whose bucket does not exist
    cursor: dict[str, Any]

    @property
    def listed(self) -> int:
        return sum(len(f.objects) for f in self.found)


def _pages(
    store: ObjectStore, source: Source, start_after: str | None, budget: int, page_size: int
) -> Iterator[ListPage]:
    while budget > 0:
        page = store.list_page(source.bucket, source.prefix, start_after, min(page_size, budget))
        yield page
        budget -= len(page.objects)
        if page.next_start_after is None or not page.objects:
            return
        start_after = page.objects[-1].key


def list_new_keys(
    store: ObjectStore,
    sources: Sequence[Source],
    cursor: dict[str, Any],
    budget: int,
    today: dt.date,
    page_size: int = 1000,
) -> Tick:
    """One tick: each source after its cursor (the seed's `?marker=`), so a tick costs the new keys;
    then, with what the budget leaves over, the day's re-listing of each source from its start,
    page by page across ticks, which finds keys that sort before the cursor (`tc.999` > `tc.1000`
    as text, or a batch written late). The inventory lets through only keys it has not seen."""
    cursor = dict(cursor)
    relisting = cursor.get(RELISTING) or {}
    if relisting.get("day") != today.isoformat():
        # A source without a cursor yet is being listed from its start anyway.
        relisting = {
            "day": today.isoformat(),
            "after": dict.fromkeys([s.cursor_key for s in sources if s.cursor_key in cursor], ""),
        }
    found, missing = [], []
    for source in sources:  # new keys first: after each source's cursor
        if budget <= 0:
            break
        objects: list[ObjectInfo] = []
        try:
            for page in _pages(store, source, cursor.get(source.cursor_key), budget, page_size):
                objects += page.objects
        except BucketNotFoundError:
            missing.append(source)
            continue
        budget -= len(objects)
        if objects:
            cursor[source.cursor_key] = objects[-1].key
            found.append(Found(source, objects, "listing"))
    by_key = {s.cursor_key: s for s in sources}
    for key, after in list(relisting["after"].items()):  # then the day's re-listing
        if budget <= 0:
            break
        source = by_key.get(key)
        if source is None or source in missing:
            relisting["after"].pop(key)
            continue
        objects, ended = [], True
        try:
            for page in _pages(store, source, after or None, budget, page_size):
                objects += page.objects
                ended = page.next_start_after is None
        except BucketNotFoundError:
            missing.append(source)
            relisting["after"].pop(key)
            continue
        budget -= len(objects)
        if objects:
            found.append(Found(source, objects, "relisting"))
        if ended:
            relisting["after"].pop(key)  # listed from start to end today
        else:
            relisting["after"][key] = objects[-1].key
    cursor[RELISTING] = relisting
    return Tick(found, missing, cursor)


def run_requests_by_day(
    changed: Iterable[tuple[str, dt.date, str]],
    partitions_def: dg.PartitionsDefinition,
    request: Callable[[str, list[str], str, str], dg.RunRequest],
) -> list[dg.RunRequest]:
    """One run request per day with new or changed keys ((key, day, found_by) each). Its run key
    is derived from the keys, so asking twice for the same discovery launches one run;
    `request(day, keys, found_by, digest)` builds it (found_by "both" when two passes found keys).
    A day outside the partitions is left in the inventory for a backfill."""
    keys: dict[str, list[str]] = defaultdict(list)
    origins: dict[str, set[str]] = defaultdict(set)
    for key, day, found_by in changed:
        keys[day.isoformat()].append(key)
        origins[day.isoformat()].add(found_by)
    requests = []
    for day, day_keys in sorted(keys.items()):
        if not partitions_def.has_partition_key(day):
            continue
        digest = hashlib.sha1("\n".join(sorted(day_keys)).encode(), usedforsecurity=False).hexdigest()[:16]
        found_by = next(iter(origins[day])) if len(origins[day]) == 1 else "both"
        requests.append(request(day, day_keys, found_by, digest))
    return requests
