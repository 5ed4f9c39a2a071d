"""Where Buildhub's inputs are: the bucket, the prefixes the listing sensor walks, the SQS queue."""

from __future__ import annotations

import dagster as dg

PRODUCTION_BUCKET = "net-mozaws-prod-delivery-firefox"


class BuildhubSettings(dg.ConfigurableResource):
    bucket: str = PRODUCTION_BUCKET
    # The listing sensor keeps one start-after cursor per prefix. It finds keys that sort
    # after the last one it saw, which holds for date-named paths (nightlies); keys that
    # land elsewhere arrive through the SQS sensor or the backfill job.
    prefixes: list[str] = [""]
    max_keys_per_tick: int = 10_000
    sqs_queue_url: str | None = None
    sqs_endpoint_url: str | None = None
    max_messages_per_tick: int = 1_000
