"""The production schemas of the four fxci_derived tables (copies of the shared reference), as data."""

import functools
from pathlib import Path
from typing import Any

import polars as pl
import yaml

DIR = Path(__file__).parent
TABLES = ("tasks_v2", "task_runs_v1", "worker_metrics_v1", "worker_costs_v1")

_POLARS = {
    "STRING": pl.String(),
    "INTEGER": pl.Int64(),
    "INT64": pl.Int64(),
    "FLOAT": pl.Float64(),
    "FLOAT64": pl.Float64(),
    "NUMERIC": pl.Float64(),
    "TIMESTAMP": pl.Datetime("us", "UTC"),
    "DATE": pl.Date(),
    "BOOLEAN": pl.Boolean(),
}


@functools.cache
def fields(table: str) -> list[dict[str, Any]]:
    """The table's fields in the BigQuery JSON schema form (name, type, mode, fields)."""
    if table not in TABLES:
        raise KeyError(f"unknown fxci table {table!r}; known: {', '.join(TABLES)}")
    return list(yaml.safe_load((DIR / f"{table}.schema.yaml").read_text())["fields"])


def _dtype(field: dict[str, Any]) -> pl.DataType:
    if field["type"] == "RECORD":
        inner: pl.DataType = pl.Struct({f["name"]: _dtype(f) for f in field["fields"]})
    else:
        inner = _POLARS[field["type"]]
    return pl.List(inner) if field.get("mode") == "REPEATED" else inner


def polars_schema(table: str) -> pl.Schema:
    return pl.Schema({f["name"]: _dtype(f) for f in fields(table)})


def known_tags() -> list[str]:
    """The tag names tasks_v2 keeps, in the schema's order."""
    tags = next(f for f in fields("tasks_v2") if f["name"] == "tags")
    return [f["name"] for f in tags["fields"]]
