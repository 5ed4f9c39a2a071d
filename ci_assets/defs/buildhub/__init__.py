"""Buildhub (seed 003): buildhub.json keys in S3 become validated, deduplicated builds in PostgreSQL."""

import dagster as dg

from ci_assets.defs.buildhub.assets import build, builds, ingest_job
from ci_assets.defs.buildhub.automation import new_keys_sensor, sqs_sensor
from ci_assets.defs.buildhub.backfill import backfill_job
from ci_assets.defs.buildhub.completeness import CHECKS
from ci_assets.defs.buildhub.kinto import kinto_migration_job
from ci_assets.defs.buildhub.warehouse import builds_table

defs = dg.Definitions(
    assets=[builds, build, builds_table],
    asset_checks=CHECKS,
    jobs=[ingest_job, backfill_job, kinto_migration_job],
    sensors=[
        new_keys_sensor,
        sqs_sensor,
    ],
)
