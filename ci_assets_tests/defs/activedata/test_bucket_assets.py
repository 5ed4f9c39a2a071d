"""A bucket on moto's S3: the sensor finds new files by marker, a day's run reads them, checks report."""

import datetime as dt
import gzip
import json
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg
import pytest

from ci_assets.defs.activedata.assets import BUCKET_ASSETS
from ci_assets.defs.activedata.automation import new_keys_sensor
from ci_assets.defs.activedata.settings import ActiveDataSettings
from ci_assets.lib.storage.object_store import BucketNotFoundError
from ci_assets.lib.storage.object_store_resource import (
    LocalObjectStoreResource,
    S3ObjectStoreResource,
)
from ci_assets.lib.storage.parquet_io import ParquetIOManager
from ci_assets.lib.storage.postgres import PostgresResource

BUCKET = "active-data-test-result"


def _file(key: str, records: list[dict]) -> bytes:
    return gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in records))


@pytest.fixture
def world(moto_endpoint: str, fresh_postgres: str, tmp_path: Path) -> dict:
    store = S3ObjectStoreResource(endpoint_url=moto_endpoint)
    for bucket in (BUCKET, "active-data-perf"):
        try:
            for o in store.list(bucket):
                store.delete(bucket, o.key)
        except BucketNotFoundError:
            store.create_bucket(bucket)
    return {
        "object_store": store,
        "postgres": PostgresResource(dsn=fresh_postgres),
        "lake_io_manager": ParquetIOManager(store=LocalObjectStoreResource(root=str(tmp_path)), bucket="lake"),
        "activedata_settings": ActiveDataSettings(buckets=[BUCKET, "active-data-perf"]),
    }


def _tick(world: dict, cursor: str | None) -> dg.SensorResult:
    with dg.build_sensor_context(cursor=cursor, resources=world) as context:
        return new_keys_sensor()(context)


def test_new_files_run_by_arrival_day_and_the_checks_report_duplicates_and_foreign_ids(world: dict) -> None:
    store = world["object_store"]
    store.put(BUCKET, "tc.1623116:162311556.34.json.gz", _file("", [
        {"_id": "tc.1623116:162311556.34.0", "test": "a"},
        {"_id": "tc.1623116:162311556.34.1", "test": "b"},
    ]))  # fmt: skip
    store.put(
        BUCKET,
        "tc.1623116:162311557.1.json.gz",
        b"".join(
            [
                gzip.compress(
                    b'{"_id": "tc.1623116:162311557.1.0"}\nnot json\n{"_id": "tc.1623116:162311556.34.1"}\n'
                    b'{"_id": "tc.999.1"}\n'
                ),
            ]
        ),
    )  # fmt: skip  (line 3 repeats another file's _id: stored once, and the check says so; line 4 is
    # another file's: the contract quarantines it)
    store.put(BUCKET, "tc..bad.json.gz", b"")  # breaks the convention: quarantined by the sensor
    first = _tick(world, None)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert [(r.partition_key, r.asset_selection) for r in first.run_requests] == [(today, [BUCKET_ASSETS[BUCKET].key])]
    assert json.loads(first.cursor)[BUCKET] == "tc.1623116:162311557.1.json.gz"
    assert _tick(world, first.cursor).run_requests == []  # nothing new after the marker

    asset = BUCKET_ASSETS[BUCKET]
    result = dg.materialize([asset], partition_key=today, resources=world)
    assert result.success
    meta = result.asset_materializations_for_node(asset.node_def.name)[0].metadata
    assert {k: meta[k].value for k in ("files", "received", "accepted", "duplicate", "rejected", "ignored")} == {
        "files": 2, "received": 6, "accepted": 3, "duplicate": 1, "rejected": 2, "ignored": 0,
    }  # fmt: skip
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert checks["reconciles"].passed
    assert not checks["id_unique_in_partition"].passed
    assert checks["id_unique_in_partition"].metadata["records"].value == 2  # both copies named
    assert not checks["id_starts_with_file_key"].passed
    assert checks["id_starts_with_file_key"].metadata["records"].value == 1
    assert meta["rejected_by_rule"].value == {"_id: prefixed_by_file_key": 1}

    stored = pl.read_parquet(
        Path(world["lake_io_manager"].store.root) / "lake/activedata/test_result" / f"arrival_day={today}"
    )
    assert stored.height == 3 and stored["line"].to_list() == [1, 2, 1]
    again = dg.materialize([asset], partition_key=today, resources=world)  # a re-run replaces the day
    assert again.success
    assert pl.read_parquet(Path(world["lake_io_manager"].store.root) / "lake/activedata/test_result").height == 3

    with psycopg.connect(world["postgres"].uri()) as conn:
        rows = conn.execute("SELECT source, locator, reason FROM quarantine ORDER BY locator").fetchall()
    assert [(s, loc) for s, loc, _ in rows] == [
        ("activedata-keys", f"s3://{BUCKET}/tc..bad.json.gz"),
        ("activedata", f"s3://{BUCKET}/tc.1623116:162311557.1.json.gz#L2"),
        ("activedata", f"s3://{BUCKET}/tc.1623116:162311557.1.json.gz#L4"),
    ]


def test_a_missing_bucket_is_named_and_the_others_still_listed(world: dict) -> None:
    world["activedata_settings"] = ActiveDataSettings(buckets=["active-data-jobs-gone", BUCKET])
    world["object_store"].put(BUCKET, "tc.1.json.gz", _file("", [{"_id": "tc.1.0"}]))
    result = _tick(world, None)
    assert len(result.run_requests) == 1
    world["activedata_settings"] = ActiveDataSettings(buckets=["active-data-jobs-gone"])
    with pytest.raises(BucketNotFoundError, match="active-data-jobs-gone"):
        _tick(world, None)
