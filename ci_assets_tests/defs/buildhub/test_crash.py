"""A Buildhub day whose run is SIGKILLed with a batch of builds inserted but not committed, then run again."""

from pathlib import Path

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


AFTER_THE_BATCHES = FreezePoint("ci_assets.defs.buildhub.assets:add_build_partitions", after=False)


def ingest_day_in(endpoint: str, dsn: str, bucket: str, day: str, instance_dir: str) -> None:
    with dg.DagsterInstance.from_config(instance_dir) as instance:
        resources = {
            "object_store": S3ObjectStoreResource(endpoint_url=endpoint),
            "postgres": PostgresResource(dsn=dsn),
            "buildhub_settings": BuildhubSettings(bucket=bucket, sqs_endpoint_url=endpoint),
        }
        assert dg.materialize([builds], partition_key=day, resources=resources, instance=instance).success


def test_builds_a_killed_run_stored_are_accepted_by_the_run_that_finds_them(
    world: BuildhubWorld, moto_endpoint: str, tmp_path: Path
) -> None:
    """The run is killed after its batches committed (builds, cache entries, quarantine rows), before it
    added the build partitions or reported anything: run monitoring marks it failed, and the next run
    of the day downloads nothing again yet records the killed run's builds as accepted and its
    invalid document as rejected, adds their build partitions, and a third run counts them once."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    uploaded = world.upload(12)
    world.store.put(world.bucket, "pub/firefox/broken/buildhub.json", b'{"not": "a build"}')
    tick(world)
    crash_mid_write(ingest_day_in, (moto_endpoint, world.dsn, world.bucket, world.today, str(home)), AFTER_THE_BATCHES)
    with psycopg.connect(world.dsn) as conn:
        assert conn.execute("SELECT count(*) FROM buildhub.main_build").fetchone() == (12,)  # stored, unreported
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [killed] = instance.get_runs()
        instance.report_run_failed(killed)  # what run monitoring does for a run whose process died
        resources = world.resources
        rerun = dg.materialize([builds], partition_key=world.today, resources=resources, instance=instance)
        assert rerun.success
        meta = {k: v.value for k, v in rerun.asset_materializations_for_node("buildhub__builds")[0].metadata.items()}
        assert (meta["received"], meta["accepted"], meta["duplicate"], meta["rejected"]) == (13, 12, 0, 1)
        assert meta["cached"] == 13  # nothing downloaded again
        ids = {document["build"]["id"] for _, document in uploaded}
        assert ids <= set(instance.get_dynamic_partitions("buildhub_build_ids"))
        third = dg.materialize([builds], partition_key=world.today, resources=resources, instance=instance)
        meta = {k: v.value for k, v in third.asset_materializations_for_node("buildhub__builds")[0].metadata.items()}
        assert (meta["accepted"], meta["duplicate"], meta["rejected"]) == (0, 13, 0)  # counted once, by the rerun
