"""sources_migration: move a source to a new prefix without readers ever seeing a gap or a duplicate."""

import dataclasses
import time

import dagster as dg

from ci_assets.defs.sources import migration, routing
from ci_assets.defs.sources.settings import RegistrySettings
from ci_assets.lib.retries import transient_retries
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource


class MigrationConfig(dg.Config):
    source: str
    new_prefix: str
    # How long a write or a read may take: writers that resolved their targets before the
    # cut-over finish within it, and readers that resolved sources.json before the repoint.
    grace_seconds: float = 5.0


def _plan(data: dict) -> migration.Plan:
    return migration.Plan(data["source"], tuple(data["old"]), tuple(data["new"]), tuple(data["dimensions"]))


@dg.op(description="1. Reserve the new prefix; refused if it holds data or another source reserved it.")
@transient_retries()
def reserve_prefix(
    context: dg.OpExecutionContext,
    config: MigrationConfig,
    object_store: ObjectStoreResource,
    registry_settings: RegistrySettings,
) -> dict:
    plan = migration.reserve(object_store, registry_settings.metadata_bucket, config.source, config.new_prefix)
    return {**dataclasses.asdict(plan), "grace_seconds": config.grace_seconds}


@dg.op(description="2. Copy the history, partition folder by partition folder, to the new prefix.")
@transient_retries()
def backfill_history(context: dg.OpExecutionContext, plan: dict, object_store: ObjectStoreResource) -> dict:
    copied = migration.copy_missing(object_store, _plan(plan))
    context.add_output_metadata(_copy_metadata(copied))
    return plan


def _copy_metadata(copied: dict[str, int]) -> dict:
    listed = dict(list(copied.items())[:400])
    return {"objects_copied": sum(copied.values()), "partitions": len(copied), "by_partition": listed}


@dg.op(description="3. Cut the live writer over: from now on it writes the new prefix (and the old, until step 5).")
@transient_retries()
def cut_over(
    context: dg.OpExecutionContext, plan: dict, object_store: ObjectStoreResource, registry_settings: RegistrySettings
) -> dict:
    p = _plan(plan)
    routing.set_writer_targets(object_store, registry_settings.metadata_bucket, p.source, [p.old, p.new])
    return plan


@dg.op(description="4. Fill the gap: what was written between the backfill and the cut-over.")
@transient_retries()
def fill_gap(context: dg.OpExecutionContext, plan: dict, object_store: ObjectStoreResource) -> dict:
    # A writer that read its targets just before the cut-over may still be writing the old
    # location only: let such writes land before the gap is listed.
    time.sleep(plan["grace_seconds"])
    copied = migration.copy_missing(object_store, _plan(plan))
    context.add_output_metadata(_copy_metadata(copied))
    return plan


@dg.op(description="Verify: same partitions, record counts and _id sets; a failure stops before the repoint.")
@transient_retries()
def verify_complete(context: dg.OpExecutionContext, plan: dict, object_store: ObjectStoreResource) -> dict:
    context.add_output_metadata(migration.verify(object_store, _plan(plan)))
    return plan


@dg.op(description="5. Repoint sources.json at the new location; readers follow on their next resolution.")
@transient_retries()
def repoint_registry(
    context: dg.OpExecutionContext, plan: dict, object_store: ObjectStoreResource, registry_settings: RegistrySettings
) -> dict:
    migration.repoint(object_store, registry_settings.metadata_bucket, _plan(plan))
    return plan


@dg.op(description="After a grace period, the writer stops writing the old location.")
@transient_retries()
def finish_cut_over(
    context: dg.OpExecutionContext, plan: dict, object_store: ObjectStoreResource, registry_settings: RegistrySettings
) -> None:
    time.sleep(plan["grace_seconds"])
    p = _plan(plan)
    routing.set_writer_targets(object_store, registry_settings.metadata_bucket, p.source, [p.new])


@dg.job(
    name="sources_migration",
    description="Seed 001's server-side change: reserve, backfill, cut over, fill the gap, verify, repoint.",
    tags={"system": "sources"},
)
def sources_migration() -> None:
    plan = reserve_prefix()
    finish_cut_over(repoint_registry(verify_complete(fill_gap(cut_over(backfill_history(plan))))))
