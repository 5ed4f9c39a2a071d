"""activedata/bugzilla_snapshots: one row per Bugzilla snapshot, identity `[bug_id, modified_ts]`.

Each record is the bug as it was at `modified_ts`. The same snapshot can be written again
with other values (history in the database was corrected): the later write wins (arrival
day, then key, then line). Snapshots of bugs made private disappear from the bucket; a
re-run of their arrival day reads the bucket as it is now, and the table follows.
"""

import dagster as dg
import polars as pl

from ci_assets.defs.activedata.assets import BUGZILLA_ASSET, GROUP
from ci_assets.lib.conventions import OWNERS
from ci_assets.lib.lake import lake_source
from ci_assets.lib.storage.frames import table_schema

KEY = dg.AssetKey([GROUP, "bugzilla_snapshots"])
IDENTITY = ["bug_id", "modified_ts"]
BUG = pl.Struct(
    {"bug_id": pl.Int64, "modified_ts": pl.Int64, "bug_status": pl.String, "product": pl.String, "priority": pl.String}
)


@dg.asset(
    key=KEY,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"parquet", "polars"},
    ins={"records": dg.AssetIn(key=BUGZILLA_ASSET.key, metadata={"allow_missing_partitions": True})},
    io_manager_key="lake_io_manager",
    metadata={
        "source": lake_source("activedata-bugzilla-snapshots", KEY.path, [], "Bugzilla bug snapshots"),
        "dagster/column_schema": table_schema(
            {**BUG.to_schema(), "_id": pl.String, "key": pl.String, "line": pl.Int64, "arrival_day": pl.Date}
        ),
    },
    check_specs=[
        dg.AssetCheckSpec("one_row_per_snapshot", asset=KEY, description="[bug_id, modified_ts] identifies a row."),
        dg.AssetCheckSpec(
            "records_have_their_identity", asset=KEY, description="Every record names bug_id and modified_ts."
        ),
    ],
    description="Bugzilla snapshots by [bug_id, modified_ts]; a snapshot written again replaces the earlier write.",
)
def bugzilla_snapshots(records: pl.LazyFrame):
    frame = (
        records.select(pl.col("record").str.json_decode(BUG).alias("bug"), "_id", "key", "line", "arrival_day")
        .unnest("bug")
        .collect()
    )
    unidentified = frame.filter(pl.any_horizontal(pl.col(IDENTITY).is_null()))
    latest = (
        frame.drop_nulls(IDENTITY)
        .sort([*IDENTITY, "arrival_day", "key", "line"])
        .unique(IDENTITY, keep="last", maintain_order=True)
    )
    yield dg.Output(latest, metadata={"records": frame.height, "snapshots": latest.height})
    yield dg.AssetCheckResult(check_name="one_row_per_snapshot", passed=latest.select(IDENTITY).is_unique().all())
    yield dg.AssetCheckResult(
        check_name="records_have_their_identity",
        passed=unidentified.is_empty(),
        metadata={
            "records": unidentified.height,
            "sample": dg.MetadataValue.json(unidentified["_id"].head(20).to_list()),
        },
    )
