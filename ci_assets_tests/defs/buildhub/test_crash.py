"""A Buildhub day whose run is SIGKILLed with a batch of builds inserted but not committed, then run again."""

import dagster as dg
import psycopg

from ci_assets.defs.buildhub.assets import builds
from ci_assets.defs.buildhub.settings import BuildhubSettings
from ci_assets.lib.storage.object_store_resource import S3ObjectStoreResource
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets_tests.crash import FreezePoint, crash_mid_write
from ci_assets_tests.defs.buildhub.conftest import BuildhubWorld
from ci_assets_tests.defs.buildhub.test_ingest import tick

BEFORE_COMMIT = FreezePoint("ci_assets.lib.inventory:KeyInventory.mark")  # builds inserted, cache entries written


def ingest_day(endpoint: str, dsn: str, bucket: str, day: str) -> dg.ExecuteInProcessResult:
    resources = {
        "object_store": S3ObjectStoreResource(endpoint_url=endpoint),
        "postgres": PostgresResource(dsn=dsn),
        "buildhub_settings": BuildhubSettings(bucket=bucket, sqs_endpoint_url=endpoint),
    }
    result = dg.materialize([builds], partition_key=day, resources=resources)
    assert result.success
    return result


def test_a_day_killed_before_its_batch_commits_shows_no_part_of_it_and_a_rerun_stores_each_build_once(
    world: BuildhubWorld, moto_endpoint: str
) -> None:
    def stored() -> list[tuple[str, str]]:
        with psycopg.connect(world.dsn) as conn:
            return conn.execute("SELECT build_hash, s3_object_key FROM buildhub.main_build ORDER BY 1").fetchall()

    args = (moto_endpoint, world.dsn, world.bucket, world.today)
    first = world.upload(20)
    tick(world)
    ingest_day(*args)
    old = stored()
    assert len(old) == 20
    second = world.upload(30)  # more keys arrive the same day
    tick(world)

    def reader() -> None:  # the batch's 30 builds are inserted in the open transaction: none is visible
        assert stored() == old

    crash_mid_write(ingest_day, args, BEFORE_COMMIT, reader)
    assert stored() == old
    with psycopg.connect(world.dsn) as conn:  # nor did a key of the killed batch count as ingested
        states = dict(conn.execute("SELECT key, state FROM inventory.object_keys").fetchall())
    assert {states[key] for key, _ in second} == {None}

    rerun = ingest_day(*args)
    assert sorted(key for _, key in stored()) == sorted(key for key, _ in first + second)  # each build once
    meta = rerun.asset_materializations_for_node("buildhub__builds")[0].metadata
    assert (meta["accepted"].value, meta["cached"].value) == (30, 20)  # the first 20 spared by the key+ETag cache
    assert all(c.passed for c in rerun.get_asset_check_evaluations())
