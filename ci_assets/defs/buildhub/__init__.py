"""Buildhub (seed 003): buildhub.json keys in S3 become validated, deduplicated builds in PostgreSQL."""

import dagster as dg

from ci_assets.defs.buildhub.assets import build, builds, ingest_job
from ci_assets.defs.buildhub.automation import new_keys_sensor, sqs_sensor
from ci_assets.defs.buildhub.backfill import backfill_job
from ci_assets.defs.buildhub.completeness import CHECKS
from ci_assets.defs.buildhub.kinto import kinto_migration_job
from ci_assets.defs.buildhub.warehouse import builds_table
from ci_assets.lib.listing import DEFAULT_INTERVAL_SECONDS


def build_defs(listing_interval_seconds: int = DEFAULT_INTERVAL_SECONDS) -> dg.Definitions:
    return dg.Definitions(
        assets=[builds, build, builds_table],
        asset_checks=CHECKS,
        jobs=[ingest_job, backfill_job, kinto_migration_job],
        sensors=[new_keys_sensor(listing_interval_seconds), sqs_sensor],
    )
