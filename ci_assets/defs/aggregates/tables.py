"""build_id_aggregates and submission_date_aggregates: the warehouse tables of seed 004.

Each is DAY-partitioned on `ingest_date` (the day the rows were produced: the table's
day) with the production clustering fields, loaded through the warehouse IO manager:
BigQuery in the cloud (re-running a day replaces that day's rows in one MERGE),
Parquet in the local lake otherwise, which DuckDB queries under the same table name.
"""

import dagster as dg
import polars as pl

from ci_assets.defs.aggregates.contracts import CONTRACT
from ci_assets.defs.aggregates.dump_asset import GROUP
from ci_assets.defs.aggregates.parquet_asset import PARQUET_KEY
from ci_assets.defs.aggregates.partitions import TABLE_MAPPING, TABLE_PARTITIONS, split_key
from ci_assets.defs.aggregates.rows import FIELDS
from ci_assets.lib import contract_type
from ci_assets.lib.conventions import FRESH_DAILY, OWNERS
from ci_assets.lib.storage.frames import fields_schema

DATASET = "moz-fx-data-shared-prod.dev_telemetry_derived"
CLUSTERING = {
    "build_id": ["metric", "channel", "os", "version"],
    "submission_date": ["ds_nodash", "version", "metric", "channel"],
}


def table_asset(aggregate_type: str) -> dg.AssetsDefinition:
    name = f"{aggregate_type}_aggregates"

    @dg.asset(
        key=["aggregates", name],
        group_name=GROUP,
        owners=OWNERS,
        freshness_policy=FRESH_DAILY,
        kinds={"bigquery"},
        partitions_def=TABLE_PARTITIONS[aggregate_type],
        backfill_policy=dg.BackfillPolicy.single_run(),
        # A table day follows its Parquet partition (declarative automation's sensor).
        automation_condition=dg.AutomationCondition.eager(),
        ins={"rows": dg.AssetIn(key=PARQUET_KEY, partition_mapping=TABLE_MAPPING)},
        io_manager_key="warehouse_io_manager",
        dagster_type=contract_type.dagster_type(CONTRACT),
        metadata={
            "table": f"{DATASET}.{name}",
            "partition_expr": {"day": "ingest_date", "type": "aggregate_type"},
            "bigquery_schema": FIELDS,
            "clustering_fields": CLUSTERING[aggregate_type],
            "dagster/column_schema": fields_schema(FIELDS),
        },
        description=f"Firefox Telemetry {aggregate_type} aggregates, one partition per day ({DATASET}.{name}).",
    )
    def table(context: dg.AssetExecutionContext, rows: pl.LazyFrame) -> dict[str, pl.LazyFrame]:
        # One lazy slice per partition: the IO manager streams each into place.
        out = {}
        for key in context.partition_keys:
            day, _ = split_key(key)
            out[key] = rows.filter(pl.col("ingest_date") == day, pl.col("aggregate_type") == aggregate_type)
        return out

    return table


build_id_aggregates = table_asset("build_id")
submission_date_aggregates = table_asset("submission_date")
