"""The builds as a warehouse table: BigQuery in the cloud (Buildhub2's BigQuery schema), Parquet locally."""

import datetime as dt
import functools
import json
from typing import Any

import dagster as dg
import polars as pl

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.assets import BUILDS, GROUP
from ci_assets.defs.buildhub.documents import SCHEMA_DIR
from ci_assets.lib.conventions import FRESH_DAILY, OWNERS
from ci_assets.lib.retries import transient_retries
from ci_assets.lib.storage.frames import fields_schema
from ci_assets.lib.storage.postgres import PostgresResource

_POLARS_TYPES: dict[str, pl.DataType] = {
    "STRING": pl.String(),
    "INT64": pl.Int64(),
    "INTEGER": pl.Int64(),
    "TIMESTAMP": pl.Datetime("us", "UTC"),
}


@functools.cache
def bigquery_schema() -> list[dict[str, Any]]:
    return list(json.loads((SCHEMA_DIR / "schema.bigquery.json").read_text()))


def _dtype(field: dict[str, Any]) -> pl.DataType:
    if field["type"] == "RECORD":
        return pl.Struct({f["name"]: _dtype(f) for f in field["fields"]})
    return _POLARS_TYPES[field["type"]]


def frame_schema() -> pl.Schema:
    return pl.Schema({f["name"]: _dtype(f) for f in bigquery_schema()})


def _timestamp(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _row(document: dict[str, Any], schema: list[dict[str, Any]]) -> dict[str, Any]:
    row = {}
    for field in schema:
        value = document.get(field["name"])
        if field["type"] == "RECORD":
            row[field["name"]] = _row(value or {}, field["fields"])
        elif field["type"] == "TIMESTAMP":
            row[field["name"]] = _timestamp(value)
        else:
            row[field["name"]] = value
    return row


def builds_frame(documents: list[dict[str, Any]]) -> pl.DataFrame:
    schema = bigquery_schema()
    return pl.DataFrame([_row(d, schema) for d in documents], schema=frame_schema())


@dg.asset(
    key=["buildhub", "builds_table"],
    group_name=GROUP,
    owners=OWNERS,
    freshness_policy=FRESH_DAILY,
    kinds={"postgres", "bigquery"},
    deps=[dg.AssetDep(BUILDS, partition_mapping=dg.AllPartitionMapping())],
    io_manager_key="warehouse_io_manager",
    metadata={"bigquery_schema": bigquery_schema(), "dagster/column_schema": fields_schema(bigquery_schema())},
    # Rebuilt whole, so once a day after new builds, not after every ingest run.
    automation_condition=dg.AutomationCondition.on_cron("0 8 * * *", cron_timezone="UTC"),
    description="Every stored build as one warehouse row (Buildhub2's BigQuery schema), rebuilt whole.",
)
@transient_retries()
def builds_table(context: dg.AssetExecutionContext, postgres: PostgresResource) -> pl.DataFrame:
    with postgres.connect() as conn:
        store.ensure_schema(conn)
        documents = [r[0] for r in conn.execute(f"SELECT build FROM {store.SCHEMA}.main_build ORDER BY id")]
    return builds_frame(documents)
