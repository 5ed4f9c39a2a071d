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
