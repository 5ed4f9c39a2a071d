"""Discovery of new buildhub.json keys: by listing from a cursor, or from S3 -> SQS events.

Both write what they find to the key inventory and ask for the upload days that
changed; the runs download. A sensor never downloads a document itself.
"""

import datetime as dt
import json

import dagster as dg

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.documents import is_buildhub_key
from ci_assets.defs.buildhub.partitions import UPLOAD_DAYS
from ci_assets.defs.buildhub.s3_events import parse_message
from ci_assets.defs.buildhub.settings import BuildhubSettings
from ci_assets.lib import quarantine
from ci_assets.lib.listing import DEFAULT_INTERVAL_SECONDS, Source, list_new_keys, listing_sensor, run_requests_by_day
from ci_assets.lib.metrics import MetricsRecorder
from ci_assets.lib.storage.object_store import BucketNotFoundError, ObjectInfo
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource
from ci_assets.lib.storage.postgres import PostgresResource

INGEST_JOB = "buildhub_ingest"
METRICS_NAMESPACE = "buildhub2"


def new_keys(
    context: dg.SensorEvaluationContext,
    object_store: ObjectStoreResource,
    postgres: PostgresResource,
    buildhub_settings: BuildhubSettings,
) -> dg.SensorResult:
    metrics = MetricsRecorder(METRICS_NAMESPACE)
    bucket = buildhub_settings.bucket
    tick = list_new_keys(
        object_store,
        [Source(bucket, prefix) for prefix in buildhub_settings.prefixes],
        json.loads(context.cursor) if context.cursor else {},
        buildhub_settings.max_keys_per_tick,
        dt.datetime.now(dt.UTC).date(),
    )
    if tick.missing:
        raise BucketNotFoundError(bucket, "the buildhub_new_keys sensor's listing")
    changed: list[tuple[str, dt.date, str]] = []
    with postgres.connect() as conn:
        store.ensure_schema(conn)
        for found in tick.found:
            matched = [o for o in found.objects if is_buildhub_key(o.key)]
            metrics.incr("listing_key_matched", len(matched))
            metrics.incr("listing_not_key_matched", len(found.objects) - len(matched))
            changed += [(k, d, found.found_by) for k, d in store.INVENTORY.record(conn, bucket, matched)]
    context.log.info(f"listed {tick.listed} keys: {len(changed)} new or changed buildhub.json")
    requests = run_requests_by_day(changed, UPLOAD_DAYS, _listing_request)
    return dg.SensorResult(run_requests=requests, cursor=json.dumps(tick.cursor, sort_keys=True))


def new_keys_sensor(minimum_interval_seconds: int = DEFAULT_INTERVAL_SECONDS) -> dg.SensorDefinition:
    """The listing sensor, ticking every `minimum_interval_seconds` (set when the definitions are built)."""
    return listing_sensor(
        name="buildhub_new_keys",
        job_name=INGEST_JOB,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Lists the Buildhub bucket after the last key seen under each prefix; new buildhub.json keys start "
        "a run for their upload day.",
        minimum_interval_seconds=minimum_interval_seconds,
    )(new_keys)


def _listing_request(day: str, keys: list[str], found_by: str, digest: str) -> dg.RunRequest:
    return dg.RunRequest(
        partition_key=day,
        run_key=f"listing:{day}:{digest}",
        tags={"system": "buildhub", "buildhub/discovered_by": found_by, "buildhub/new_keys": str(len(keys))},
    )


def _sqs_requests(changed: list[tuple[str, dt.date]], tick: dict[str, int]) -> list[dg.RunRequest]:
    """The tick's tallies ride along as a tag, so a run shows how its keys were discovered."""

    def request(day: str, keys: list[str], found_by: str, digest: str) -> dg.RunRequest:
        tags = {"buildhub/discovered_by": "sqs", "buildhub/tick": json.dumps(tick, sort_keys=True)}
        return dg.RunRequest(
            partition_key=day,
            run_key=f"sqs:{day}:{digest}",
            tags={"system": "buildhub", "buildhub/new_keys": str(len(keys)), **tags},
        )

    return run_requests_by_day(((k, d, "sqs") for k, d in changed), UPLOAD_DAYS, request)


@dg.sensor(
    name="buildhub_sqs_events",
    job_name=INGEST_JOB,
    minimum_interval_seconds=30,
    description="Drains the bucket's S3 -> SQS event notifications, so a bucket of millions of keys is never "
    "listed; new buildhub.json keys start a run for their upload day.",
)
def sqs_sensor(
    context: dg.SensorEvaluationContext,
    postgres: PostgresResource,
    buildhub_settings: BuildhubSettings,
) -> dg.SensorResult | dg.SkipReason:
    if not buildhub_settings.sqs_queue_url:
        return dg.SkipReason("no SQS queue configured (CI_ASSETS_BUILDHUB_SQS_QUEUE_URL)")
    # boto3 itself: dagster-aws has no SQS resource (tested in ci_assets_tests/lib/storage/test_ecosystem.py).
    import boto3  # only where the SQS sensor ticks: every run loads this module

    sqs = boto3.client("sqs", endpoint_url=buildhub_settings.sqs_endpoint_url)
    queue = buildhub_settings.sqs_queue_url
    metrics = MetricsRecorder(METRICS_NAMESPACE)
    changed: list[tuple[str, dt.date]] = []
    received = 0
    while received < buildhub_settings.max_messages_per_tick:
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not messages:
            break
        received += len(messages)
        matched: list[ObjectInfo] = []
        rejected: list[quarantine.Rejected] = []
        for message in messages:
            metrics.incr("sqs_messages")
            parsed = parse_message(message["Body"])
            if parsed.test_event:
                metrics.incr("sqs_test_events")
                continue
            if parsed.error:
                metrics.incr("sqs_quarantined")
                rejected.append(quarantine.Rejected(f"sqs:{message['MessageId']}", parsed.error, raw=message["Body"]))
                continue
            metrics.incr("sqs_not_key_matched", parsed.not_s3_records)
            for bucket, info in parsed.objects:
                if bucket == buildhub_settings.bucket and is_buildhub_key(info.key):
                    metrics.incr("sqs_key_matched")
                    matched.append(info)
                else:
                    metrics.incr("sqs_not_key_matched")
        with postgres.connect() as conn:
            store.ensure_schema(conn)
            changed += store.INVENTORY.record(conn, buildhub_settings.bucket, matched)
            quarantine.quarantine(conn, "buildhub-sqs", rejected)
        # Deleted only once the inventory has committed: a crash before this line means
        # redelivery, which the inventory's upsert absorbs.
        sqs.delete_message_batch(
            QueueUrl=queue,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
    # Every message is accounted for: its records were key-matched or not, or the message
    # was quarantined (not an S3 event) or was S3's test event.
    tick = {k: int(v) for k, v in metrics.counts.items()}
    tick["messages_received"] = received
    context.log.info(f"{received} SQS messages: {tick}")
    return dg.SensorResult(run_requests=_sqs_requests(changed, tick))
