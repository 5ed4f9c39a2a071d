"""The SQS sensor (moto's S3 -> SQS notifications), the backfill job, and the Kinto migration (a real Kinto)."""

import datetime as dt
import json
import random
from collections import Counter
from typing import Any

import boto3
import dagster as dg
import psycopg
import requests

from ci_assets.defs.buildhub.assets import BUILDS, builds
from ci_assets.defs.buildhub.automation import sqs_sensor
from ci_assets.defs.buildhub.backfill import backfill_job
from ci_assets.defs.buildhub.kinto import kinto_migration_job
from ci_assets.defs.buildhub.samples import INVALID_DOCUMENTS, encode, make_document
from ci_assets.defs.buildhub.settings import BuildhubSettings
from ci_assets_tests.defs.buildhub.conftest import BuildhubWorld, Kinto


def sql(world: BuildhubWorld, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(world.dsn) as conn:
        return conn.execute(query).fetchall()


def op_metadata(result: dg.ExecuteInProcessResult, op: str) -> dict[str, Any]:
    event = next(e for e in result.events_for_node(op) if e.event_type_value == "STEP_OUTPUT")
    return {k: v.value for k, v in event.step_output_data.metadata.items()}


def connect_queue(world: BuildhubWorld, endpoint: str) -> str:
    sqs = boto3.client("sqs", endpoint_url=endpoint)
    queue_url = sqs.create_queue(QueueName=world.bucket)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("s3", endpoint_url=endpoint).put_bucket_notification_configuration(
        Bucket=world.bucket,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    return queue_url


def test_sqs_sensor_reads_events_and_never_chokes_on_odd_messages(world: BuildhubWorld, moto_endpoint: str) -> None:
    queue_url = connect_queue(world, moto_endpoint)
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint)
    world.upload(12)
    odd_key = "pub/firefox/odd key+plus&amp/ünï/buildhub.json"
    world.store.put(world.bucket, odd_key, encode(make_document(random.Random(9))))
    world.store.put(world.bucket, "pub/firefox/readme.txt", b"not a build")
    # An SNS-wrapped event holding several records, one of them not an S3 record at all.
    records = [{"eventSource": "aws:sns"}] + [
        {
            "eventTime": "2024-02-03T04:05:06.000Z",
            "s3": {
                "bucket": {"name": world.bucket},
                "object": {"key": f"pub/sns/{i}/buildhub.json", "size": 10, "eTag": f"e{i}"},
            },
        }
        for i in range(3)
    ]
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps({"Type": "Notification", "Message": json.dumps({"Records": records})}),
    )
    sqs.send_message(QueueUrl=queue_url, MessageBody="this is not JSON")
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"hello": "world"}))

    settings = BuildhubSettings(bucket=world.bucket, sqs_queue_url=queue_url, sqs_endpoint_url=moto_endpoint)
    resources = {**world.resources, "buildhub_settings": settings}
    result = sqs_sensor(dg.build_sensor_context(resources=resources, instance=world.instance))
    assert isinstance(result, dg.SensorResult)
    days = sorted(r.partition_key for r in result.run_requests)
    assert days == sorted({world.today, "2024-02-03"})
    keys = {k for (k,) in sql(world, "SELECT key FROM inventory.object_keys WHERE system = 'buildhub'")}
    assert odd_key in keys and "pub/sns/2/buildhub.json" in keys and len(keys) == 13 + 3
    assert {r[0] for r in sql(world, "SELECT reason FROM quarantine WHERE source = 'buildhub-sqs'")} == {
        "not JSON: Expecting value: line 1 column 1 (char 0)",
        "not an S3 event notification (no Records)",
    }
    again = sqs_sensor(dg.build_sensor_context(resources=resources, instance=world.instance))
    assert isinstance(again, dg.SensorResult) and again.run_requests == []  # the queue was drained

    # Reconciliation, end to end: every record is key-matched or not, and every matched key
    # ends up inserted, not inserted (a duplicate) or rejected, or is missing from the bucket.
    tick = json.loads(result.run_requests[0].tags["buildhub/tick"])
    records = 14 + 3 + 1  # the uploads' events, the SNS envelope's S3 records, one non-S3 record
    assert tick["sqs_key_matched"] + tick["sqs_not_key_matched"] == records
    assert (tick["sqs_key_matched"], tick["sqs_quarantined"], tick["sqs_test_events"]) == (16, 2, 1)
    outcomes = Counter()
    for request in result.run_requests:
        run = dg.materialize(
            [builds], partition_key=request.partition_key, resources=resources, instance=world.instance
        )
        meta = run.asset_materializations_for_node("buildhub__builds")[0].metadata
        outcomes.update({k: meta[k].value for k in ("accepted", "duplicate", "rejected", "ignored")})
    assert sum(outcomes.values()) == tick["sqs_key_matched"]
    assert outcomes["accepted"] == 13 and outcomes["ignored"] == 3  # the SNS records name keys never uploaded


def test_backfill_walks_the_bucket_and_never_downloads_a_key_twice(world: BuildhubWorld) -> None:
    world.upload(25)
    world.store.put(world.bucket, "pub/broken/buildhub.json", INVALID_DOCUMENTS["size-not-integer"])
    world.store.put(world.bucket, "pub/firefox/notes.txt", b"x")
    run_config = {"ops": {"backfill_bucket": {"config": {"page_size": 7}}}}
    first = backfill_job.execute_in_process(resources=world.resources, instance=world.instance, run_config=run_config)
    meta = op_metadata(first, "backfill_bucket")
    assert (meta["received"], meta["accepted"], meta["rejected"], meta["cached"]) == (26, 25, 1, 0)
    assert meta["backfill_listed"] == 27 and meta["backfill_matched"] == 26 and meta["backfill_inserted"] == 25
    # The days it ingested are materialized partitions of buildhub/builds, each with its own accounting.
    days = world.instance.get_materialized_partitions(BUILDS)
    uploaded = {dt.datetime.now(dt.UTC).date().isoformat()}
    assert days == uploaded
    event = world.instance.get_latest_materialization_event(BUILDS)
    assert event is not None and event.asset_materialization.metadata["received"].value == 26
    second = backfill_job.execute_in_process(resources=world.resources, instance=world.instance, run_config=run_config)
    again = op_metadata(second, "backfill_bucket")
    assert (again["accepted"], again["cached"], again["backfill_not_inserted"]) == (0, 26, 26)
    assert sql(world, "SELECT count(*) FROM buildhub.main_build") == [(25,)]


def test_kinto_migration_inserts_what_is_new_until_nothing_is(world: BuildhubWorld, kinto: Kinto) -> None:
    rng = random.Random(21)
    records = [make_document(rng) for _ in range(23)] + [{"build": {"id": 5}, "target": {}}]
    collection = f"{kinto.url}/buckets/build-hub/collections/releases/records"
    for record in records:
        requests.post(collection, json={"data": record}, auth=kinto.auth, timeout=30).raise_for_status()
    run_config = {"ops": {"migrate_from_kinto": {"config": {"kinto_url": kinto.url, "page_size": 5}}}}

    def migrate() -> dict[str, Any]:
        result = kinto_migration_job.execute_in_process(
            resources=world.resources, instance=world.instance, run_config=run_config
        )
        return op_metadata(result, "migrate_from_kinto")

    first = migrate()
    assert first["kinto_migrated"] >= 24 and first["kinto_inserted"] == 23 and first["rejected"] == 1
    assert migrate()["kinto_inserted"] == 0
    assert sql(world, "SELECT count(*) FROM buildhub.main_build WHERE metadata ? 'kinto-migration'") == [(23,)]
