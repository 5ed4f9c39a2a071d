"""The production schemas of the four fxci_derived tables (copies of the shared reference), as data."""

import functools
from pathlib import Path
from typing import Any

import polars as pl

from ci_assets.lib.storage.frames import fields_frame_schema, read_fields

DIR = Path(__file__).parent
TABLES = ("tasks_v2", "task_runs_v1", "worker_metrics_v1", "worker_costs_v1")


def path(table: str) -> Path:
    if table not in TABLES:
        raise KeyError(f"unknown fxci table {table!r}; known: {', '.join(TABLES)}")
    return DIR / f"{table}.schema.yaml"


@functools.cache
def fields(table: str) -> list[dict[str, Any]]:
    """The table's fields in the BigQuery JSON schema form (name, type, mode, fields)."""
    return read_fields(path(table))


def polars_schema(table: str) -> pl.Schema:
    return fields_frame_schema(fields(table))


def known_tags() -> list[str]:
    """The tag names tasks_v2 keeps, in the schema's order."""
    tags = next(f for f in fields("tasks_v2") if f["name"] == "tags")
    return [f["name"] for f in tags["fields"]]
