"""activedata/treeherder_jobs: the newest snapshot of each Treeherder job (identity `job.id`).

Treeherder's ETL snapshots jobs while they evolve, so one `job.id` has many records; the
newest by the job's own `last_modified` wins, whatever order the files arrived in (a late
file may carry an older snapshot). Ties fall to the later arrival, then key, then line.
"""

import dagster as dg
import polars as pl

from ci_assets.defs.activedata.assets import BUCKET_ASSETS, GROUP
from ci_assets.lib.conventions import OWNERS
from ci_assets.lib.lake import lake_source
from ci_assets.lib.storage.frames import table_schema

TREEHERDER_BUCKET = "active-data-treeherder-normalized"
KEY = dg.AssetKey([GROUP, "treeherder_jobs"])
JOB = pl.Struct(
    {
        "job": pl.Struct(
            {"id": pl.Int64, "state": pl.String, "result": pl.String, "last_modified": pl.Int64, "platform": pl.String}
        )
    }
)
ORDER = ["job_id", "last_modified", "arrival_day", "key", "line"]


@dg.asset(
    key=KEY,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"parquet", "polars"},
    ins={
        "snapshots": dg.AssetIn(key=BUCKET_ASSETS[TREEHERDER_BUCKET].key, metadata={"allow_missing_partitions": True})
    },
    io_manager_key="lake_io_manager",
    metadata={
        "primary_key": ["job_id"],
        "dagster/column_schema": table_schema(
            {"job_id": pl.Int64, **{k: v for k, v in JOB.to_schema()["job"].to_schema().items() if k != "id"}}
            | {"_id": pl.String, "key": pl.String, "line": pl.Int64, "arrival_day": pl.Date}
        ),
        "source": lake_source("activedata-treeherder-jobs", KEY.path, [], "The latest snapshot of each Treeherder job"),
    },
    check_specs=[
        dg.AssetCheckSpec("one_row_per_job_id", asset=KEY, description="`job.id` identifies a row."),
        dg.AssetCheckSpec(
            "snapshots_have_a_job_id", asset=KEY, description="Every Treeherder record names its job.id."
        ),
    ],
    description="The latest snapshot of every Treeherder job, by job.id (newest `job.last_modified` wins).",
)
def treeherder_jobs(snapshots: pl.LazyFrame):
    parsed = snapshots.select(
        pl.col("record").str.json_decode(JOB).struct.field("job").alias("job"), "_id", "key", "line", "arrival_day"
    ).select(
        pl.col("job").struct.field("id").alias("job_id"),
        pl.col("job").struct.field("state"),
        pl.col("job").struct.field("result"),
        pl.col("job").struct.field("last_modified"),
        pl.col("job").struct.field("platform"),
        "_id",
        "key",
        "line",
        "arrival_day",
    )
    frame = parsed.collect()
    without_id = frame.filter(pl.col("job_id").is_null())
    latest = frame.drop_nulls("job_id").sort(ORDER, nulls_last=False).unique("job_id", keep="last").sort("job_id")
    yield dg.Output(latest, metadata={"snapshots": frame.height, "jobs": latest.height})
    yield dg.AssetCheckResult(check_name="one_row_per_job_id", passed=bool(latest["job_id"].is_unique().all()))
    yield dg.AssetCheckResult(
        check_name="snapshots_have_a_job_id",
        passed=without_id.is_empty(),
        metadata={"records": without_id.height, "sample": dg.MetadataValue.json(without_id["_id"].head(20).to_list())},
    )
