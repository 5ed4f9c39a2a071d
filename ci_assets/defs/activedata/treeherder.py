"""activedata/treeherder_jobs: the newest snapshot of each Treeherder job (identity `job.id`).

Treeherder's ETL snapshots jobs while they evolve, so one `job.id` has many records; the
newest by the job's own `last_modified` wins, whatever order the files arrived in (a late
file may carry an older snapshot). Ties fall to the later arrival, then key, then line.
"""

import dagster as dg
import polars as pl

from ci_assets.defs.activedata.assets import BUCKET_ASSETS, GROUP, QUARANTINE_SOURCE
from ci_assets.defs.activedata.contracts import PROVENANCE, TREEHERDER, latest_by_identity, record_fields
from ci_assets.lib import contract_type, quarantine
from ci_assets.lib.conventions import OWNERS
from ci_assets.lib.lake import lake_source
from ci_assets.lib.retries import transient_retries
from ci_assets.lib.storage.frames import fields_schema
from ci_assets.lib.storage.postgres import PostgresResource

TREEHERDER_BUCKET = "active-data-treeherder-normalized"
KEY = dg.AssetKey([GROUP, "treeherder_jobs"])
# A record's `job`: the table's columns but the provenance, `job_id` being its `id`.
JOB = pl.Struct({"id" if name == "job_id" else name: dtype for name, dtype in record_fields(TREEHERDER).items()})
ORDER = ["last_modified", "arrival_day", "key", "line"]


@dg.asset(
    key=KEY,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"parquet", "polars"},
    ins={
        "snapshots": dg.AssetIn(key=BUCKET_ASSETS[TREEHERDER_BUCKET].key, metadata={"allow_missing_partitions": True})
    },
    io_manager_key="lake_io_manager",
    dagster_type=contract_type.dagster_type(TREEHERDER),
    metadata={
        "primary_key": TREEHERDER.unique,
        "dagster/column_schema": fields_schema(TREEHERDER.fields),
        "source": lake_source("activedata-treeherder-jobs", KEY.path, [], "The latest snapshot of each Treeherder job"),
    },
    check_specs=[
        dg.AssetCheckSpec("one_row_per_job_id", asset=KEY, description="`job.id` identifies a row."),
        dg.AssetCheckSpec(
            "snapshots_have_a_job_id",
            asset=KEY,
            description="Every Treeherder record names its job.id (the others are quarantined).",
        ),
    ],
    description="The latest snapshot of every Treeherder job, by job.id (newest `job.last_modified` wins).",
)
@transient_retries()
def treeherder_jobs(context: dg.AssetExecutionContext, snapshots: pl.LazyFrame, postgres: PostgresResource):
    job = pl.col("record").str.json_decode(pl.Struct({"job": JOB})).struct.field("job")
    columns = [
        job.struct.field(name).alias(column)
        for name, column in zip(JOB.to_schema(), record_fields(TREEHERDER), strict=True)
    ]
    frame = snapshots.select(*columns, *PROVENANCE).collect()
    latest, rejected, metadata = latest_by_identity(TREEHERDER, frame, ORDER)
    with postgres.connect() as conn:
        quarantine.quarantine(conn, QUARANTINE_SOURCE, rejected)
    yield dg.Output(latest, metadata=metadata)
    yield dg.AssetCheckResult(check_name="one_row_per_job_id", passed=bool(latest["job_id"].is_unique().all()))
    yield dg.AssetCheckResult(
        check_name="snapshots_have_a_job_id",
        passed=not rejected,
        metadata={"records": len(rejected), "sample": dg.MetadataValue.json([r.locator for r in rejected[:20]])},
    )
