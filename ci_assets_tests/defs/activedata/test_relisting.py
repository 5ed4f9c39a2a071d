"""Keys that sort before the sensor's cursor are found by the day's re-listing, once, page by page."""

import datetime as dt
import gzip
import json
from pathlib import Path

import dagster as dg

from ci_assets.defs.activedata.automation import RELISTING, new_keys_sensor
from ci_assets_tests.defs.activedata.conftest import local_world

BUCKET = "active-data-perf"


def _tick(world: dict, cursor: str | None) -> dg.SensorResult:
    with dg.build_sensor_context(cursor=cursor, resources=world) as context:
        return new_keys_sensor()(context)


def _put(world: dict, batch: int) -> str:
    key = f"tc.{batch}:1.1.json.gz"
    world["object_store"].put(BUCKET, key, gzip.compress(json.dumps({"_id": f"tc.{batch}:1.1.0"}).encode()))
    return key


def _as_of_yesterday(cursor: str) -> str:
    """The cursor as the first tick of a new day finds it: its re-listing belongs to yesterday."""
    state = json.loads(cursor)
    state[RELISTING]["day"] = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    return json.dumps(state)


def test_a_key_sorting_before_the_cursor_is_found_by_the_next_days_relisting(
    fresh_postgres: str, tmp_path: Path
) -> None:
    world = local_world(tmp_path, fresh_postgres, BUCKET)
    _put(world, 999)
    first = _tick(world, None)
    assert [r.tags["activedata/found_by"] for r in first.run_requests] == ["listing"]
    assert json.loads(first.cursor)[BUCKET] == "tc.999:1.1.json.gz"

    late = _put(world, 1000)  # batch 1000 sorts before batch 999 as text: after the cursor it is not
    assert _tick(world, first.cursor).run_requests == []  # today's re-listing was not due (fresh bucket)

    found = _tick(world, _as_of_yesterday(first.cursor))
    [request] = found.run_requests
    assert request.tags["activedata/found_by"] == "relisting" and request.tags["activedata/new_keys"] == "1"
    with world["postgres"].connect() as conn:
        [(arrived,)] = conn.execute("SELECT count(*) FROM inventory.object_keys WHERE key = %s", (late,)).fetchall()
    assert arrived == 1
    assert _tick(world, found.cursor).run_requests == []  # listed once today: nothing runs twice


def test_the_relisting_pages_through_a_bucket_with_what_a_tick_leaves_over(fresh_postgres: str, tmp_path: Path) -> None:
    world = local_world(tmp_path, fresh_postgres, BUCKET)
    world["activedata_settings"] = world["activedata_settings"].model_copy(update={"max_keys_per_tick": 2})
    for batch in (50, 60):
        _put(world, batch)
    cursor = _tick(world, None).cursor
    late = [_put(world, batch) for batch in (10, 20, 30)]  # all sort before the cursor ("tc.60...")
    cursor, seen = _as_of_yesterday(cursor), 0
    for _ in range(4):
        result = _tick(world, cursor)
        seen += sum(int(r.tags["activedata/new_keys"]) for r in result.run_requests)
        cursor = result.cursor
    assert seen == len(late)
    assert json.loads(cursor)[RELISTING]["after"] == {}  # the bucket was listed to its end
