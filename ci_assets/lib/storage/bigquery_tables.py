"""BigQuery clients, and how polars frames and asset metadata become BigQuery tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from ci_assets.lib.lazy import lazy

if TYPE_CHECKING:
    from google.cloud import bigquery
else:  # imported on first use (ci_assets.lib.lazy)
    bigquery = lazy("google.cloud.bigquery")

_SCALARS: dict[type[pl.DataType], str] = {
    pl.Boolean: "BOOL",
    pl.Int8: "INT64",
    pl.Int16: "INT64",
    pl.Int32: "INT64",
    pl.Int64: "INT64",
    pl.UInt8: "INT64",
    pl.UInt16: "INT64",
    pl.UInt32: "INT64",
    pl.UInt64: "INT64",
    pl.Float32: "FLOAT64",
    pl.Float64: "FLOAT64",
    pl.String: "STRING",
    pl.Categorical: "STRING",
    pl.Enum: "STRING",
    pl.Binary: "BYTES",
    pl.Date: "DATE",
    pl.Time: "TIME",
    pl.Decimal: "NUMERIC",
}


def make_client(project: str, endpoint: str | None = None, location: str | None = None) -> bigquery.Client:
    """A client for `project`; with `endpoint` (an emulator) it sends no credentials.

    Not dagster-gcp's `BigQueryResource`: it takes no API endpoint (no client options), so it cannot
    reach the local emulator the tests run against (ci_assets_tests/lib/storage/test_ecosystem.py)."""
    if endpoint:
        return bigquery.Client(
            project=project,
            location=location,
            credentials=lazy("google.auth.credentials").AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options=lazy("google.api_core.client_options").ClientOptions(api_endpoint=endpoint),
        )
    return bigquery.Client(project=project, location=location)


def field_for(name: str, dtype: pl.DataType) -> bigquery.SchemaField:
    if isinstance(dtype, pl.List | pl.Array):
        inner = field_for(name, dtype.inner)  # type: ignore[arg-type]
        return bigquery.SchemaField(name, inner.field_type, mode="REPEATED", fields=inner.fields)
    if isinstance(dtype, pl.Struct):
        fields = [field_for(f.name, f.dtype) for f in dtype.fields]  # type: ignore[arg-type]
        return bigquery.SchemaField(name, "RECORD", fields=fields)
    if isinstance(dtype, pl.Datetime):
        return bigquery.SchemaField(name, "TIMESTAMP" if dtype.time_zone else "DATETIME")
    for polars_type, bq_type in _SCALARS.items():
        if isinstance(dtype, polars_type):
            return bigquery.SchemaField(name, bq_type)
    raise TypeError(f"column {name!r}: no BigQuery type for polars {dtype}")


def schema_from_frame(schema: pl.Schema) -> list[bigquery.SchemaField]:
    return [field_for(name, dtype) for name, dtype in schema.items()]


def schema_from_metadata(value: Sequence[Any]) -> list[bigquery.SchemaField]:
    """`bigquery_schema` metadata: SchemaFields, or dicts in the BigQuery JSON schema form."""
    return [f if isinstance(f, bigquery.SchemaField) else bigquery.SchemaField.from_api_repr(_api(f)) for f in value]


def _api(field: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in field.items() if k != "fields"}
    out["type"] = field.get("type") or field.get("field_type")
    out.setdefault("mode", "NULLABLE")
    if field.get("fields"):
        out["fields"] = [_api(f) for f in field["fields"]]
    return out


def table_id(metadata: Mapping[str, Any], asset_path: Sequence[str], project: str, dataset: str) -> str:
    """`table` metadata when the asset names its production table, else project.dataset.<asset key>."""
    table = metadata.get("table")
    if table:
        parts = str(table).split(".")
        if len(parts) != 3:
            raise ValueError(f"table metadata {table!r} must be project.dataset.table")
        return str(table)
    return f"{project}.{dataset}.{'_'.join(asset_path)}"


def quoted(table: str) -> str:
    return f"`{table}`"
