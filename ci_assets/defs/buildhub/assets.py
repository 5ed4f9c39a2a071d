"""Buildhub's assets: builds by upload day (PostgreSQL), and one build across platforms and locales."""

import datetime as dt

import dagster as dg
import polars as pl

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.automation import INGEST_JOB, METRICS_NAMESPACE
from ci_assets.defs.buildhub.contracts import BUILD
from ci_assets.defs.buildhub.ingest import SOURCE, ingest_keys
from ci_assets.defs.buildhub.partitions import BUILD_IDS, UPLOAD_DAYS
from ci_assets.defs.buildhub.settings import BuildhubSettings
from ci_assets.lib import contract_type, quarantine, reconciliation
from ci_assets.lib.conventions import OWNERS
from ci_assets.lib.lake import lake_source
from ci_assets.lib.metrics import MetricsRecorder
from ci_assets.lib.retries import transient_retries
from ci_assets.lib.storage.frames import fields_frame_schema, fields_schema, markdown_table, table_schema
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource
from ci_assets.lib.storage.postgres import PostgresResource

GROUP = "buildhub"
BUILDS = dg.AssetKey(["buildhub", "builds"])
VALID_CHECK = "no_invalid_buildhub_json"


class IngestConfig(dg.Config):
    use_cache: bool = True  # False: download and validate every key of the day again


@dg.asset(
    key=BUILDS,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"s3", "postgres"},
    partitions_def=UPLOAD_DAYS,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[
        dg.AssetCheckSpec(
            VALID_CHECK,
            asset=BUILDS,
            description="No buildhub.json of the day was invalid. `make dev`'s demo fails it on purpose: it seeds "
            "invalid documents under pub/firefox/broken/, which the check lists and the quarantine holds.",
        ),
        reconciliation.check_spec(BUILDS),
    ],
    metadata={
        "postgres_table": f"{store.SCHEMA}.main_build",
        "bucket": "net-mozaws-prod-delivery-firefox",
        "dagster/column_schema": table_schema(store.MAIN_BUILD_COLUMNS),
    },
    description="Validated, deduplicated builds from the buildhub.json keys uploaded on the day.",
)
@transient_retries()
def builds(
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    object_store: ObjectStoreResource,
    postgres: PostgresResource,
    buildhub_settings: BuildhubSettings,
) -> dg.MaterializeResult:
    days = [dt.date.fromisoformat(k) for k in context.partition_keys]
    metrics = MetricsRecorder(METRICS_NAMESPACE)
    with postgres.connect() as conn:
        store.ensure_schema(conn)
        rows = store.INVENTORY.keys_for_days(conn, buildhub_settings.bucket, days)
    run_id = context.run.run_id
    adopt = reconciliation.unreported_runs(context.instance, {r.ingested_by for r in rows if r.cached}, run_id)
    # Buildhub2's `sqs_` keys count what SQS delivered: a run the listing (or anyone) started
    # reports under its own context (`listing_inserted`), so the SQS dashboards stay true.
    source = context.run.tags.get("buildhub/discovered_by") or "manual"
    with metrics.timer(f"{source}_process_buildhub_json_key"):
        report = ingest_keys(
            object_store,
            postgres,
            buildhub_settings.bucket,
            rows,
            metrics,
            source,
            config.use_cache,
            log=context.log.info,
            run_id=run_id,
            adopt=adopt,
        )
    add_build_partitions(context.instance, report.build_ids)
    with postgres.connect() as conn:
        bad = quarantine.rows(conn, SOURCE, [d.isoformat() for d in days])
    return dg.MaterializeResult(
        metadata={**report.as_metadata(), **metrics.as_metadata(), "new_build_ids": len(report.build_ids)},
        check_results=[
            dg.AssetCheckResult(
                check_name=VALID_CHECK,
                passed=not bad,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "invalid_documents": len(bad),
                    "examples": dg.MetadataValue.md(
                        "\n".join(f"- `{r.detail.get('key')}` ({r.detail.get('etag')}): {r.reason}" for r in bad[:20])
                        or "none"
                    ),
                },
            ),
            reconciliation.check_result(BUILDS, report.tally()),
        ],
    )


def add_build_partitions(instance: dg.DagsterInstance, build_ids: set[str]) -> None:
    new = sorted(b for b in build_ids if not instance.has_dynamic_partition(BUILD_IDS.name, b))
    if new:
        instance.add_dynamic_partitions(BUILD_IDS.name, new)


BUILD_COLUMNS = fields_frame_schema(BUILD.fields)


@dg.asset(
    key=["buildhub", "build"],
    group_name=GROUP,
    owners=OWNERS,
    kinds={"postgres", "parquet"},
    partitions_def=BUILD_IDS,
    deps=[dg.AssetDep(BUILDS, partition_mapping=dg.AllPartitionMapping())],
    io_manager_key="lake_io_manager",
    metadata={
        "source": lake_source(
            "buildhub-build", ["buildhub", "build"], ["partition"], "Each build id across its platforms and locales"
        ),
        "dagster/column_schema": fields_schema(BUILD.fields),
    },
    dagster_type=contract_type.dagster_type(BUILD),
    description="One build id across its platforms and locales, for inspecting or recomputing a single build.",
)
@transient_retries()
def build(context: dg.AssetExecutionContext, postgres: PostgresResource) -> dg.Output[pl.DataFrame]:
    with postgres.connect() as conn:
        found = store.builds_with_id(conn, context.partition_key)
    if not found:
        raise dg.Failure(f"no stored build has build.id {context.partition_key!r}")
    frame = pl.DataFrame(
        [
            {
                "build_hash": h,
                "product": b["source"]["product"],
                "channel": b["target"]["channel"],
                "version": b["target"]["version"],
                "platform": b["target"]["platform"],
                "locale": b["target"]["locale"],
                "download_url": b["download"]["url"],
                "download_size": b["download"]["size"],
                "s3_object_key": key,
            }
            for h, b, key in found
        ],
        schema=BUILD_COLUMNS,
    )
    return dg.Output(
        frame,
        metadata={
            "platforms": sorted(frame["platform"].unique().to_list()),
            "locales": frame["locale"].n_unique(),
            "products": sorted(frame["product"].unique().to_list()),
            "preview": dg.MetadataValue.md(markdown_table(frame)),
        },
    )


ingest_job = dg.define_asset_job(INGEST_JOB, selection=[BUILDS])
