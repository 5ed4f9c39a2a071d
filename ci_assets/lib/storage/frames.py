"""Frame-level rules shared by every IO manager: primary keys, upserts, metadata."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import yaml

# Above this many partitions a per-partition row count stops being readable in the UI.
_MAX_LISTED_PARTITIONS = 400


def primary_key(metadata: Mapping[str, Any]) -> list[str] | None:
    value = metadata.get("primary_key")
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def dedupe_by_key(df: pl.DataFrame, key: Sequence[str], label: str) -> tuple[pl.DataFrame, int]:
    """Keep the last row per key (the newest write wins, as in an upsert); count the rest."""
    missing = [c for c in key if c not in df.columns]
    if missing:
        raise ValueError(f"{label}: primary key column(s) {missing} are not in the frame")
    nulls = df.select(pl.any_horizontal(pl.col(list(key)).is_null()).sum()).item()
    if nulls:
        raise ValueError(f"{label}: {nulls} row(s) have a null in primary key {list(key)}")
    deduped = df.unique(subset=list(key), keep="last", maintain_order=True)
    return deduped, df.height - deduped.height


def upsert(existing: pl.DataFrame | None, new: pl.DataFrame, key: Sequence[str]) -> pl.DataFrame:
    """`existing` with every row whose key appears in `new` replaced by the new row."""
    if existing is None or existing.is_empty():
        return new
    kept = existing.join(new.select(key), on=list(key), how="anti")
    return pl.concat([kept, new], how="diagonal_relaxed")


def table_schema(schema: pl.Schema | Mapping[str, Any], declared: Any = None) -> dg.TableSchema:
    """The UI's column schema of a frame; each column the asset's declared schema (its
    `dagster/column_schema`, from the schema file) describes keeps that description and constraints,
    so a materialization never shows the columns barer than the definition does."""
    declared = getattr(declared, "schema", declared)  # a TableSchemaMetadataValue or a TableSchema
    known = {c.name: c for c in declared.columns} if isinstance(declared, dg.TableSchema) else {}
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=name,
                type=str(dtype),
                description=known[name].description if name in known else None,
                constraints=known[name].constraints if name in known else None,
            )
            for name, dtype in schema.items()
        ]
    )


# BigQuery's column types as polars types: the one mapping of the platform (contracts, frames, warehouse).
_POLARS_TYPES: dict[str, pl.DataType] = {
    "STRING": pl.String(),
    "INTEGER": pl.Int64(),
    "INT64": pl.Int64(),
    "FLOAT": pl.Float64(),
    "FLOAT64": pl.Float64(),
    "NUMERIC": pl.Float64(),
    "TIMESTAMP": pl.Datetime("us", "UTC"),
    "DATE": pl.Date(),
    "BOOLEAN": pl.Boolean(),
    "BOOL": pl.Boolean(),
}


def field_dtype(field: Mapping[str, Any]) -> pl.DataType:
    """A BigQuery field (name, type, mode, fields) as a polars type: RECORD a struct, REPEATED a list."""
    if field["type"] in ("RECORD", "STRUCT"):
        inner: pl.DataType = pl.Struct({f["name"]: field_dtype(f) for f in field["fields"]})
    else:
        inner = _POLARS_TYPES[field["type"]]
    return pl.List(inner) if field.get("mode") == "REPEATED" else inner


# Beside verbatim copies of production schemas (which carry no descriptions): {file name: {column: text}}.
DESCRIPTIONS = "descriptions.yaml"


def read_fields(path: Path) -> list[dict[str, Any]]:
    """A schema file's fields: BigQuery's JSON form (a list), or YAML with them under `fields`; a
    column without a description takes the one `descriptions.yaml` beside the file gives it."""
    loaded = json.loads(path.read_text()) if path.suffix == ".json" else yaml.safe_load(path.read_text())
    fields = list(loaded["fields"] if isinstance(loaded, dict) else loaded)
    overlay = path.with_name(DESCRIPTIONS)
    if overlay.is_file():
        fields = _described(fields, (yaml.safe_load(overlay.read_text()) or {}).get(path.name, {}), "")
    return fields


def _described(fields: list[dict[str, Any]], descriptions: Mapping[str, str], parent: str) -> list[dict[str, Any]]:
    out = []
    for field in fields:
        name = parent + field["name"]
        field = dict(field)
        if not field.get("description") and name in descriptions:
            field["description"] = descriptions[name]
        if field.get("fields"):
            field["fields"] = _described(field["fields"], descriptions, name + ".")
        out.append(field)
    return out


def fields_frame_schema(fields: Sequence[Mapping[str, Any]]) -> pl.Schema:
    return pl.Schema({f["name"]: field_dtype(f) for f in fields})


def fields_schema(fields: Sequence[Mapping[str, Any]]) -> dg.TableSchema:
    """The UI's column schema of a table from its BigQuery fields (REQUIRED shown as not nullable)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                f["name"],
                f["type"] if f.get("mode") != "REPEATED" else f"ARRAY<{f['type']}>",
                description=f.get("description", ""),
                constraints=dg.TableColumnConstraints(nullable=f.get("mode") != "REQUIRED"),
            )
            for f in fields
        ]
    )


def output_metadata(
    schema: pl.Schema,
    rows_by_partition: Mapping[str, int],
    duplicates_replaced: int,
    location: str,
    definition_metadata: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Metadata for one handled output; one partition gets the standard row count key."""
    rows = sum(rows_by_partition.values())
    declared = (definition_metadata or {}).get("dagster/column_schema")
    meta: dict[str, Any] = {
        "dagster/column_schema": table_schema(schema, declared),
        "location": dg.MetadataValue.text(location),
    }
    if len(rows_by_partition) <= 1:
        meta["dagster/row_count"] = dg.MetadataValue.int(rows)
    else:
        # One run, many partitions: Dagster copies this metadata onto each partition's
        # materialization, so a single row count would be wrong for all of them.
        meta["rows_written"] = dg.MetadataValue.int(rows)
        meta["partitions_written"] = dg.MetadataValue.int(len(rows_by_partition))
        listed = dict(list(rows_by_partition.items())[:_MAX_LISTED_PARTITIONS])
        meta["rows_by_partition"] = dg.MetadataValue.json(listed)
    if duplicates_replaced:
        meta["rows_deduplicated_by_primary_key"] = dg.MetadataValue.int(duplicates_replaced)
    return meta


def markdown_table(frame: pl.DataFrame, limit: int = 20) -> str:
    """The first rows as a Markdown table, for a metadata preview in the UI."""
    head = frame.head(limit)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * len(head.columns)]
    lines += [
        "| " + " | ".join("" if v is None else str(v).replace("|", "\\|") for v in row) + " |"
        for row in head.iter_rows()
    ]
    if frame.height > limit:
        lines.append(f"\n… {frame.height - limit} more rows")
    return "\n".join(lines)
