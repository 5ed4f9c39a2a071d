"""activedata/bugzilla_snapshots: one row per Bugzilla snapshot, identity `[bug_id, modified_ts]`.

Each record is the bug as it was at `modified_ts`. The same snapshot can be written again
with other values (history in the database was corrected): the later write wins (arrival
day, then key, then line). Snapshots of bugs made private disappear from the bucket; a
re-run of their arrival day reads the bucket as it is now, and the table follows.
"""

import dagster as dg
import polars as pl

from ci_assets.defs.activedata.assets import BUGZILLA_ASSET, GROUP, QUARANTINE_SOURCE
from ci_assets.defs.activedata.contracts import BUGZILLA, PROVENANCE, latest_by_identity, record_fields
from ci_assets.lib import contract_type, quarantine
from ci_assets.lib.conventions import OWNERS
from ci_assets.lib.lake import lake_source
from ci_assets.lib.retries import transient_retries
from ci_assets.lib.storage.frames import fields_schema
from ci_assets.lib.storage.postgres import PostgresResource

KEY = dg.AssetKey([GROUP, "bugzilla_snapshots"])
BUG = pl.Struct(record_fields(BUGZILLA))


@dg.asset(
    key=KEY,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"parquet", "polars"},
    ins={"records": dg.AssetIn(key=BUGZILLA_ASSET.key, metadata={"allow_missing_partitions": True})},
    io_manager_key="lake_io_manager",
    dagster_type=contract_type.dagster_type(BUGZILLA),
    metadata={
        "source": lake_source("activedata-bugzilla-snapshots", KEY.path, [], "Bugzilla bug snapshots"),
        "dagster/column_schema": fields_schema(BUGZILLA.fields),
    },
    check_specs=[
        dg.AssetCheckSpec("one_row_per_snapshot", asset=KEY, description="[bug_id, modified_ts] identifies a row."),
        dg.AssetCheckSpec(
            "records_have_their_identity",
            asset=KEY,
            description="Every record names bug_id and modified_ts (the others are quarantined).",
        ),
    ],
    description="Bugzilla snapshots by [bug_id, modified_ts]; a snapshot written again replaces the earlier write.",
)
@transient_retries()
def bugzilla_snapshots(context: dg.AssetExecutionContext, records: pl.LazyFrame, postgres: PostgresResource):
    frame = records.select(pl.col("record").str.json_decode(BUG).alias("bug"), *PROVENANCE).unnest("bug").collect()
    latest, rejected, metadata = latest_by_identity(BUGZILLA, frame, ["arrival_day", "key", "line"])
    with postgres.connect() as conn:
        quarantine.quarantine(conn, QUARANTINE_SOURCE, rejected)
    yield dg.Output(latest, metadata=metadata)
    yield dg.AssetCheckResult(
        check_name="one_row_per_snapshot", passed=latest.select(BUGZILLA.unique).is_unique().all()
    )
    yield dg.AssetCheckResult(
        check_name="records_have_their_identity",
        passed=not rejected,
        metadata={"records": len(rejected), "sample": dg.MetadataValue.json([r.locator for r in rejected[:20]])},
    )
