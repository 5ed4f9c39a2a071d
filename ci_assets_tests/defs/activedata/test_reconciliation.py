"""A day whose inputs are all rejected, all gone or all repeats still accounts for each of them."""

import datetime as dt
import gzip
from pathlib import Path

import dagster as dg
import pytest

from ci_assets.defs.activedata.assets import BUCKET_ASSETS
from ci_assets_tests.defs.activedata.conftest import local_world, tick

BUCKET = "active-data-perf"
KEY = "tc.1623116:162311556.34.json.gz"
RECORD = b'{"_id": "tc.1623116:162311556.34.0"}\n'


@pytest.mark.parametrize(
    ("case", "body", "expected"),
    [
        ("all rejected", b"not json\n[1, 2]\n{}\n", {"received": 3, "rejected": 3}),
        ("all gone", RECORD, {"received": 1, "ignored": 1}),
        ("all repeats", RECORD * 4, {"received": 4, "accepted": 1, "duplicate": 3}),
    ],
)
def test_the_day_reconciles(case: str, body: bytes, expected: dict, fresh_postgres: str, tmp_path: Path) -> None:
    resources = local_world(tmp_path, fresh_postgres, BUCKET)
    store = resources["object_store"]
    store.put(BUCKET, KEY, gzip.compress(body))
    assert len(tick(resources)) == 1
    if case == "all gone":
        store.delete(BUCKET, KEY)  # listed, then removed before its day ran
    asset = BUCKET_ASSETS[BUCKET]
    result = dg.materialize([asset], partition_key=dt.datetime.now(dt.UTC).date().isoformat(), resources=resources)
    assert result.success
    meta = result.asset_materializations_for_node(asset.node_def.name)[0].metadata
    counts = {k: meta[k].value for k in ("received", "accepted", "duplicate", "rejected", "ignored")}
    assert counts == {"accepted": 0, "duplicate": 0, "rejected": 0, "ignored": 0} | expected
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["reconciles"].passed


def test_a_file_written_again_on_a_later_day_stays_in_its_first_day(fresh_postgres: str, tmp_path: Path) -> None:
    """A key re-uploaded with new content a day later: its first day's partition is replaced with the
    new records and runs again; the later day holds none of them (no `_id` in two partitions)."""
    import psycopg

    from ci_assets.defs.activedata.assets import INVENTORY
    from ci_assets.lib.storage.object_store import ObjectInfo

    resources = local_world(tmp_path, fresh_postgres, BUCKET)
    store = resources["object_store"]
    today = dt.datetime.now(dt.UTC).date()
    yesterday = today - dt.timedelta(days=1)
    with psycopg.connect(fresh_postgres) as conn:  # the key as it was listed yesterday
        INVENTORY.ensure_schema(conn)
        old = ObjectInfo(KEY, 10, "old-etag", dt.datetime.combine(yesterday, dt.time(12), tzinfo=dt.UTC))
        INVENTORY.record(conn, BUCKET, [old])
    second = b'{"_id": "tc.1623116:162311556.34.1"}\n'
    store.put(BUCKET, KEY, gzip.compress(RECORD + second))  # written again today, with one more record
    requests = tick(resources)
    assert [r.partition_key for r in requests] == [yesterday.isoformat()]  # the first day runs again
    asset = BUCKET_ASSETS[BUCKET]
    first = dg.materialize([asset], partition_key=yesterday.isoformat(), resources=resources)
    assert first.asset_materializations_for_node(asset.node_def.name)[0].metadata["accepted"].value == 2
    later = dg.materialize([asset], partition_key=today.isoformat(), resources=resources)
    assert later.asset_materializations_for_node(asset.node_def.name)[0].metadata["received"].value == 0
