"""A build's contract: the document as its warehouse row (Buildhub2's schema.bigquery.json).

One contract for the builds store and the warehouse table, so nothing the table would refuse is
ever stored: the schema's REQUIRED records and fields, and each TIMESTAMP a date-time, as
schema.yaml's `format: date-time` says (Buildhub2 validated without a format checker, so a
document with `"date": "yesterday"` was stored and broke its BigQuery export).

A document becomes a row in two steps: `staged` keeps each TIMESTAMP as the document's text, so
a value that is not a date-time is shown as it came; `typed` parses the rows that keep the
contract.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from ci_assets.defs.buildhub.documents import SCHEMA_DIR
from ci_assets.lib import contracts
from ci_assets.lib.storage.frames import field_dtype, read_fields

SCHEMA_FILE = SCHEMA_DIR / "schema.bigquery.json"
FIELDS = read_fields(SCHEMA_FILE)


def timestamp(value: Any) -> dt.datetime | None:
    """An RFC 3339 date-time (a missing offset read as UTC), or None."""
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _timestamps(fields: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(record, field) of each TIMESTAMP inside a record."""
    return [
        (f["name"], sub["name"])
        for f in fields
        if f["type"] == "RECORD"
        for sub in f["fields"]
        if sub["type"] == "TIMESTAMP"
    ]


def _date_time(record: str, name: str) -> contracts.Rule:
    def holds(column: pl.Expr) -> pl.Expr:
        value = column.struct.field(name)
        parsed = value.map_elements(lambda v: timestamp(v) is not None, return_dtype=pl.Boolean)
        return value.is_null() | parsed

    return contracts.Rule(record, f"date_time({name})", holds, field=name)


CONTRACT = contracts.Contract.from_file(
    "buildhub_builds", SCHEMA_FILE, rules=[_date_time(record, name) for record, name in _timestamps(FIELDS)]
)


# buildhub/build: a build id's stored builds, flattened (schema/build.schema.yaml).
BUILD = contracts.Contract.from_file("buildhub_build", SCHEMA_DIR / "build.schema.yaml", unique=["build_hash"])


def _staged_dtype(field: Mapping[str, Any]) -> pl.DataType:
    if field["type"] == "RECORD":
        return pl.Struct({f["name"]: _staged_dtype(f) for f in field["fields"]})
    return pl.String() if field["type"] == "TIMESTAMP" else field_dtype(field)


def _cell(value: Any, field: Mapping[str, Any]) -> Any:
    if field["type"] == "RECORD":
        value = value if isinstance(value, dict) else {}
        return {f["name"]: _cell(value.get(f["name"]), f) for f in field["fields"]}
    if field["type"] == "TIMESTAMP" and value is not None and not isinstance(value, str):
        return str(value)  # shown as it came; the rule refuses it
    return value


def staged(documents: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """The documents as rows of the warehouse schema, each TIMESTAMP still the document's text."""
    schema = pl.Schema({f["name"]: _staged_dtype(f) for f in FIELDS})
    rows = [{f["name"]: _cell(d.get(f["name"]), f) for f in FIELDS} for d in documents]
    return pl.DataFrame(rows, schema=schema, strict=False)


def typed(rows: pl.DataFrame) -> pl.DataFrame:
    """Staged rows that keep the contract, with their TIMESTAMPs parsed: the warehouse's row."""
    parse = pl.Datetime("us", "UTC")
    by_record: dict[str, list[pl.Expr]] = {}
    for record, name in _timestamps(FIELDS):
        by_record.setdefault(record, []).append(pl.field(name).map_elements(timestamp, return_dtype=parse))
    return rows.with_columns(pl.col(r).struct.with_fields(parsed) for r, parsed in by_record.items())
