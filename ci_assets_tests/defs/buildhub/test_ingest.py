"""Discovery by listing, ingestion by upload day, quarantine, build partitions: S3 on moto, real PostgreSQL."""

import json
from pathlib import Path
from typing import Any

import dagster as dg
import psycopg

from ci_assets.defs.buildhub.assets import build, builds
from ci_assets.defs.buildhub.automation import new_keys_sensor
from ci_assets.defs.buildhub.partitions import BUILD_IDS
from ci_assets.defs.buildhub.samples import INVALID_DOCUMENTS, encode
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetIOManager
from ci_assets_tests.defs.buildhub.conftest import BuildhubWorld


def tick(world: BuildhubWorld, cursor: str | None = None) -> dg.SensorResult:
    context = dg.build_sensor_context(cursor=cursor, resources=world.resources, instance=world.instance)
    result = new_keys_sensor()(context)
    assert isinstance(result, dg.SensorResult)
    return result


def ingest(world: BuildhubWorld, **config: Any) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [builds],
        partition_key=world.today,
        resources=world.resources,
        instance=world.instance,
        run_config={"ops": {"buildhub__builds": {"config": config}}} if config else None,
        raise_on_error=False,
    )


def metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    return {k: v.value for k, v in result.asset_materializations_for_node("buildhub__builds")[0].metadata.items()}


def sql(world: BuildhubWorld, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(world.dsn) as conn:
        return conn.execute(query).fetchall()


def test_listing_sensor_asks_once_per_day_and_resumes_after_its_cursor(world: BuildhubWorld) -> None:
    world.upload(30)
    world.store.put(world.bucket, "pub/firefox/x/Firefox Setup.exe", b"binary")  # not a buildhub.json: ignored
    first = tick(world)
    assert [r.partition_key for r in first.run_requests] == [world.today]
    assert first.run_requests[0].tags["buildhub/new_keys"] == "30"
    assert sql(world, "SELECT count(*) FROM inventory.object_keys WHERE system = 'buildhub'") == [(30,)]

    again = tick(world, first.cursor)
    assert again.run_requests == []  # nothing new after the cursor
    replay = tick(world, None)  # a lost cursor re-lists, but nothing changed: no run
    assert replay.run_requests == []

    world.store.put(world.bucket, "pub/zz-later/buildhub.json", encode(world.upload(1)[0][1]))
    later = tick(world, first.cursor)
    assert later.run_requests[0].tags["buildhub/new_keys"] == "1"
    assert json.loads(later.cursor or "{}")[world.bucket] == "pub/zz-later/buildhub.json"


def test_ingest_validates_deduplicates_and_quarantines(world: BuildhubWorld) -> None:
    uploaded = world.upload(40)
    twin_key, twin = uploaded[0][0].replace("buildhub.json", "copy/buildhub.json"), uploaded[0][1]
    world.store.put(world.bucket, twin_key, encode(twin))  # the same document under a second key
    for name, body in INVALID_DOCUMENTS.items():
        world.store.put(world.bucket, f"pub/broken/{name} (odd+chars)/buildhub.json", body)
    tick(world)

    result = ingest(world)
    assert result.success
    meta = metadata(result)
    assert (meta["received"], meta["accepted"], meta["duplicate"], meta["rejected"]) == (46, 40, 1, 5)
    assert meta["manual_inserted"] == 40 and meta["manual_not_inserted"] == 1  # started by hand: not SQS's
    assert "sqs_inserted" not in meta
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["reconciles"].passed
    check = checks["no_invalid_buildhub_json"]
    assert not check.passed and check.metadata["invalid_documents"].value == 5

    rows = sql(world, "SELECT locator, reason, detail FROM quarantine ORDER BY locator")
    assert len(rows) == 5
    locator, reason, detail = next(r for r in rows if "missing-version" in r[0])
    assert locator == f"s3://{world.bucket}/pub/broken/missing-version (odd+chars)/buildhub.json"
    assert detail["paths"][0] == "$.target" and "'version' is a required property" in reason
    assert detail["etag"] == world.store.head(world.bucket, detail["key"]).etag
    assert sql(world, "SELECT count(*) FROM buildhub.main_build") == [(40,)]

    # Re-running the day downloads nothing (key+ETag cache) and inserts nothing.
    rerun = metadata(ingest(world))
    assert (rerun["accepted"], rerun["cached"], rerun["rejected"]) == (0, 46, 0)
    # Forcing a re-download still inserts nothing twice, and the quarantine keeps one row per problem.
    forced_run = ingest(world, use_cache=False)
    forced = metadata(forced_run)
    assert (forced["accepted"], forced["duplicate"], forced["rejected"]) == (0, 41, 5)  # all stored already
    assert [c.passed for c in forced_run.get_asset_check_evaluations() if c.check_name == "reconciles"] == [True]
    assert sql(world, "SELECT count(*) FROM buildhub.main_build") == [(40,)]
    assert sql(world, "SELECT count(*) FROM quarantine") == [(5,)]


def test_a_reuploaded_key_with_new_content_is_ingested_again(world: BuildhubWorld) -> None:
    (key, document), *_ = world.upload(3)
    cursor = tick(world).cursor
    assert metadata(ingest(world))["accepted"] == 3
    document["download"]["size"] += 1
    world.store.put(world.bucket, key, encode(document))  # same key, new ETag
    result = tick(world, None)  # found by a re-listing (or an SQS event)
    assert len(result.run_requests) == 1 and cursor
    changed = metadata(ingest(world))
    assert (changed["accepted"], changed["cached"]) == (1, 2)  # only the changed key is downloaded
    unchanged = metadata(ingest(world))
    assert (unchanged["accepted"], unchanged["cached"]) == (0, 3)
    assert sql(world, "SELECT count(*) FROM buildhub.main_build") == [(4,)]


def test_every_build_id_becomes_a_partition_holding_its_platforms(world: BuildhubWorld, tmp_path: Path) -> None:
    uploaded = world.upload(5)
    sibling = json.loads(json.dumps(uploaded[0][1]))
    sibling["target"]["locale"], sibling["target"]["platform"] = "zz-TEST", "linux-x86_64"
    world.store.put(world.bucket, "pub/sibling/buildhub.json", encode(sibling))
    tick(world)
    assert ingest(world).success
    build_id = uploaded[0][1]["build"]["id"]
    assert build_id in world.instance.get_dynamic_partitions(BUILD_IDS.name)

    lake = {"lake_io_manager": ParquetIOManager(store=LocalObjectStoreResource(root=str(tmp_path)), bucket="lake")}
    result = dg.materialize(
        [builds.to_source_asset(), build],
        partition_key=build_id,
        resources={**world.resources, **lake},
        instance=world.instance,
    )
    frame = result.output_for_node("buildhub__build")
    assert frame.height == 2 and "zz-TEST" in frame["locale"].to_list()
    meta = result.asset_materializations_for_node("buildhub__build")[0].metadata
    assert meta["locales"].value == 2
    assert (tmp_path / "lake" / "buildhub" / "build" / f"partition={build_id}" / "data.parquet").exists()


def test_a_huge_object_is_rejected_without_being_downloaded(world: BuildhubWorld) -> None:
    world.upload(2)
    world.store.put(world.bucket, "pub/huge/buildhub.json", b"{" + b" " * (50 << 20) + b"}")  # 50 MB
    tick(world)
    meta = metadata(ingest(world))
    assert (meta["accepted"], meta["rejected"]) == (2, 1)
    assert sql(world, "SELECT reason FROM quarantine")[0][0].startswith("document too large: 52428802 bytes")
