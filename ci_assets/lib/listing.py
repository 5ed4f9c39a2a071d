"""Bucket-listing sensors, one way for every system: a tick, its cursor, the daily re-listing,
and run requests per day.

A system declares its listing sensor with `listing_sensor(...)` (an ordinary `dg.sensor`) inside
a factory that takes the interval, and builds it when the code location's definitions are built
(`build_defs(listing_interval_seconds)` in each system): the interval comes from
`CI_ASSETS_LISTING_INTERVAL_SECONDS` then, so no system module reads the environment when it is
imported. In the sensor, `list_new_keys` does the tick and
`run_requests_by_day` asks for the days the key inventory (lib/inventory.py) says changed; the
system keeps only what is its own: which keys match, and what a day's run is.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import dagster as dg

from ci_assets.lib.storage.object_store import BucketNotFoundError, ListPage, ObjectInfo, ObjectStore

DEFAULT_INTERVAL_SECONDS = 60


def listing_sensor(*, minimum_interval_seconds: int = DEFAULT_INTERVAL_SECONDS, **kwargs: Any) -> Any:
    """`dg.sensor(...)` for a sensor that lists a bucket after a cursor, every `minimum_interval_seconds`."""
    return dg.sensor(minimum_interval_seconds=minimum_interval_seconds, **kwargs)


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
