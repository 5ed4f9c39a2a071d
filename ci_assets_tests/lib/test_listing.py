"""The platform's listing tick and key inventory, as both bucket-watching systems use them."""

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import psycopg

from ci_assets.lib.inventory import KeyInventory
from ci_assets.lib.listing import RELISTING, Source, list_new_keys, run_requests_by_day
from ci_assets.lib.storage.local_store import LocalObjectStore
from ci_assets.lib.storage.object_store import ObjectStore

TODAY = dt.date(2026, 11, 30)
DAYS = dg.DailyPartitionsDefinition(start_date="2026-01-01", end_offset=1)


class CountingStore(LocalObjectStore):
    """Counts the listing calls, to show what a tick costs."""

    listed = 0

    def list_page(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        page = super().list_page(*args, **kwargs)
        self.listed += len(page.objects)
        return page


def test_a_tick_costs_the_new_keys_and_the_relisting_finds_keys_before_the_cursor(
    tmp_path: Path, fresh_postgres: str
) -> None:
    store = CountingStore(tmp_path, fsync=False)
    store.create_bucket("bucket")
    for n in range(500):
        store.put("bucket", f"tc.{n + 1000}", b"x")
    inventory = KeyInventory("test")
    with psycopg.connect(fresh_postgres) as conn:
        inventory.ensure_schema(conn)
        first = list_new_keys(store, [Source("bucket")], {}, budget=10_000, today=TODAY)
        assert len(inventory.record(conn, "bucket", first.found[0].objects)) == 500

        store.listed = 0
        store.put("bucket", "tc.999", b"late")  # sorts after the cursor: found at once, for one key's listing
        store.put("bucket", "tc.1000a", b"x")  # sorts before it: not seen by the cursor
        second = list_new_keys(store, [Source("bucket")], first.cursor, budget=10_000, today=TODAY)
        assert [o.key for f in second.found for o in f.objects] == ["tc.999"] and store.listed == 1
        assert inventory.record(conn, "bucket", second.found[0].objects)[0][0] == "tc.999"

        # The next day's first tick re-lists from the start, within its budget, page by page.
        cursor = second.cursor
        found: list[str] = []
        for _ in range(5):
            tick = list_new_keys(store, [Source("bucket")], cursor, budget=200, today=TODAY + dt.timedelta(days=1))
            cursor = tick.cursor
            for f in tick.found:
                assert f.found_by == "relisting"
                found += [k for k, _ in inventory.record(conn, "bucket", f.objects)]
        assert found == ["tc.1000a"]  # the inventory lets through only what it had not seen
        assert json.loads(json.dumps(cursor))[RELISTING]["after"] == {}  # listed to the end that day


def test_an_object_written_again_with_new_content_runs_its_day_again(tmp_path: Path, fresh_postgres: str) -> None:
    store: ObjectStore = LocalObjectStore(tmp_path, fsync=False)
    store.create_bucket("bucket")
    store.put("bucket", "a", b"1")
    inventory = KeyInventory("test")
    with psycopg.connect(fresh_postgres) as conn:
        inventory.ensure_schema(conn)
        listed = list_new_keys(store, [Source("bucket")], {}, 100, TODAY).found[0].objects
        assert len(inventory.record(conn, "bucket", listed)) == 1
        assert inventory.record(conn, "bucket", listed) == []  # the same ETag: nothing new
        [row] = inventory.keys_by_name(conn, "bucket", ["a"])
        inventory.mark(conn, "bucket", [("a", row.etag, "ingested")])
        assert inventory.keys_by_name(conn, "bucket", ["a"])[0].cached
        store.put("bucket", "a", b"2")
        relisted = list_new_keys(store, [Source("bucket")], {}, 100, TODAY).found[0].objects
        assert [k for k, _ in inventory.record(conn, "bucket", relisted)] == ["a"]
        assert not inventory.keys_by_name(conn, "bucket", ["a"])[0].cached  # downloaded again
        assert inventory.keys_by_name(conn, "test-other", ["a"]) == []  # another bucket, another key


def test_run_requests_are_one_per_day_and_asking_twice_asks_for_the_same_run() -> None:
    def request(day: str, keys: list[str], found_by: str, digest: str) -> dg.RunRequest:
        return dg.RunRequest(partition_key=day, run_key=f"{day}:{digest}", tags={"found_by": found_by})

    changed = [
        ("a", dt.date(2026, 11, 1), "listing"),
        ("b", dt.date(2026, 11, 1), "relisting"),
        ("c", dt.date(2026, 11, 2), "listing"),
        ("old", dt.date(2025, 1, 1), "listing"),  # before the partitions: waits in the inventory
    ]
    first = run_requests_by_day(changed, DAYS, request)
    assert [(r.partition_key, r.tags["found_by"]) for r in first] == [("2026-11-01", "both"), ("2026-11-02", "listing")]
    again = run_requests_by_day(list(reversed(changed)), DAYS, request)
    assert [r.run_key for r in again] == [r.run_key for r in first]
