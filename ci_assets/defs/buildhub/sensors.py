"""Discovery of new buildhub.json keys: by listing from a cursor, or from S3 -> SQS events.

Both write what they find to the key inventory and ask for the upload days that
changed; the runs download. A sensor never downloads a document itself.
"""

import datetime as dt
import hashlib
import json
from collections import defaultdict
from collections.abc import Sequence

import boto3
import dagster as dg

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.documents import is_buildhub_key
from ci_assets.defs.buildhub.partitions import UPLOAD_DAYS
from ci_assets.defs.buildhub.s3_events import parse_message
from ci_assets.defs.buildhub.settings import BuildhubSettings
from ci_assets.lib import quarantine
from ci_assets.lib.listing import listing_sensor
from ci_assets.lib.metrics import MetricsRecorder
from ci_assets.lib.storage.object_store import ObjectInfo
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource
from ci_assets.lib.storage.postgres import PostgresResource

INGEST_JOB = "buildhub_ingest"
METRICS_NAMESPACE = "buildhub2"


def run_requests(
    changed: Sequence[tuple[str, dt.date]], origin: str, tick: dict[str, int] | None = None
) -> list[dg.RunRequest]:
    """One run per upload day; the run key is derived from the keys, so asking twice for the
    same discovery launches one run. `tick` (the discovering tick's tallies) rides along as a tag."""
    by_day: dict[str, list[str]] = defaultdict(list)
    for key, day in changed:
        by_day[day.isoformat()].append(key)
    last = UPLOAD_DAYS.get_last_partition_key()
    requests = []
    for day, keys in sorted(by_day.items()):
        if day < UPLOAD_DAYS.start.strftime("%Y-%m-%d") or (last is not None and day > last):
            continue  # outside the partitions; the keys wait in the inventory for the backfill job
        digest = hashlib.sha1("\n".join(sorted(keys)).encode(), usedforsecurity=False).hexdigest()[:16]
        requests.append(
            dg.RunRequest(
                partition_key=day,
                run_key=f"{origin}:{day}:{digest}",
                tags={
                    "system": "buildhub",
                    "buildhub/discovered_by": origin,
                    "buildhub/new_keys": str(len(keys)),
                    **({"buildhub/tick": json.dumps(tick, sort_keys=True)} if tick else {}),
                },
            )
        )
    return requests


@listing_sensor(
    name="buildhub_new_keys",
    job_name=INGEST_JOB,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Lists the Buildhub bucket after the last key seen under each prefix; new buildhub.json keys start "
    "a run for their upload day.",
)
def new_keys_sensor(
    context: dg.SensorEvaluationContext,
    object_store: ObjectStoreResource,
    postgres: PostgresResource,
    buildhub_settings: BuildhubSettings,
) -> dg.SensorResult:
    cursor: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    metrics = MetricsRecorder(METRICS_NAMESPACE)
    matched: list[ObjectInfo] = []
    listed = 0
    budget = buildhub_settings.max_keys_per_tick
    for prefix in buildhub_settings.prefixes:
        start = cursor.get(prefix)
        while budget > 0:
            page = object_store.list_page(buildhub_settings.bucket, prefix, start, min(1000, budget))
            listed += len(page.objects)
            budget -= len(page.objects)
            matched += [o for o in page.objects if is_buildhub_key(o.key)]
            if page.objects:
                start = page.objects[-1].key
            if page.next_start_after is None:
                break
        if start:
            cursor[prefix] = start
    metrics.incr("listing_key_matched", len(matched))
    metrics.incr("listing_not_key_matched", listed - len(matched))
    with postgres.connect() as conn:
        store.ensure_schema(conn)
        changed = store.record_keys(conn, buildhub_settings.bucket, matched)
    context.log.info(f"listed {listed} keys: {len(matched)} buildhub.json, {len(changed)} new or changed")
    return dg.SensorResult(run_requests=run_requests(changed, "listing"), cursor=json.dumps(cursor, sort_keys=True))


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
            changed += store.record_keys(conn, buildhub_settings.bucket, matched)
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
    return dg.SensorResult(run_requests=run_requests(changed, "sqs", tick))
