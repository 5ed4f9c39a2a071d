"""The builds as a warehouse table: BigQuery in the cloud (Buildhub2's BigQuery schema), Parquet locally."""

from typing import Any

import dagster as dg
import polars as pl

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.assets import BUILDS, GROUP
from ci_assets.defs.buildhub.contracts import CONTRACT, FIELDS, staged, typed
from ci_assets.lib import contract_type, contracts, quarantine, reconciliation
from ci_assets.lib.conventions import FRESH_DAILY, OWNERS
from ci_assets.lib.retries import transient_retries
from ci_assets.lib.storage.frames import fields_schema
from ci_assets.lib.storage.postgres import PostgresResource

WAREHOUSE_SOURCE = "buildhub-warehouse"
TABLE_KEY = dg.AssetKey(["buildhub", "builds_table"])


def builds_frame(documents: list[dict[str, Any]]) -> tuple[pl.DataFrame, pl.DataFrame, list[contracts.Violation]]:
    """The documents as warehouse rows; the staged rows and what the contract set aside from them."""
    rows = staged(documents)
    kept, violations = contracts.enforce(CONTRACT, rows)
    return typed(kept), rows, violations


@dg.asset(
    key=TABLE_KEY,
    check_specs=[reconciliation.check_spec(TABLE_KEY)],
    group_name=GROUP,
    owners=OWNERS,
    freshness_policy=FRESH_DAILY,
    kinds={"postgres", "bigquery"},
    deps=[dg.AssetDep(BUILDS, partition_mapping=dg.AllPartitionMapping())],
    io_manager_key="warehouse_io_manager",
    metadata={"bigquery_schema": FIELDS, "dagster/column_schema": fields_schema(FIELDS)},
    # The contract is the asset's type: a row that breaks it fails the step before anything is stored.
    dagster_type=contract_type.dagster_type(CONTRACT),
    # Rebuilt whole, so once a day after new builds, not after every ingest run.
    automation_condition=dg.AutomationCondition.on_cron("0 8 * * *", cron_timezone="UTC"),
    description="Every stored build as one warehouse row (Buildhub2's BigQuery schema), rebuilt whole.",
)
@transient_retries()
def builds_table(context: dg.AssetExecutionContext, postgres: PostgresResource):
    with postgres.connect() as conn:
        store.ensure_schema(conn)
        stored = conn.execute(f"SELECT build_hash, build FROM {store.SCHEMA}.main_build ORDER BY id").fetchall()
    frame, rows, violations = builds_frame([document for _, document in stored])
    # Ingest checks the contract, so the store keeps it: a build stored before that is set aside here.
    hashes = pl.Series("build_hash", [h for h, _ in stored], dtype=pl.String)
    rejected = contracts.rejections(
        rows.with_columns(hashes), violations, locate=lambda row: f"{store.SCHEMA}.main_build#{row['build_hash']}"
    )
    with postgres.connect() as conn:
        quarantine.ensure_table(conn)
        quarantine.quarantine(conn, WAREHOUSE_SOURCE, rejected)
    tally = reconciliation.Tally(received=len(stored), accepted=frame.height, rejected=len(stored) - frame.height)
    detail = {"rejected_by_rule": dg.MetadataValue.json(contracts.rejected_by_rule(violations))}
    yield dg.Output(frame, metadata=reconciliation.metadata(tally, detail))
    yield reconciliation.check_result(TABLE_KEY, tally)
