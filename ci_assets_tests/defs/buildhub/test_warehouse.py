"""The builds as a warehouse table: Buildhub2's BigQuery schema on the emulator, Parquet locally."""

import json
import random
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg
import pytest
from google.cloud import bigquery

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.assets import builds
from ci_assets.defs.buildhub.documents import SCHEMA_DIR, build_hash
from ci_assets.defs.buildhub.samples import make_document
from ci_assets.defs.buildhub.warehouse import builds_table
from ci_assets.lib.storage.bigquery_tables import schema_from_metadata
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetIOManager
from ci_assets.lib.storage.postgres import PostgresResource

REFERENCE = SCHEMA_DIR / "schema.bigquery.json"


@pytest.fixture
def stored(fresh_postgres: str) -> str:
    rng = random.Random(8)
    documents = [make_document(rng) for _ in range(30)]
    with psycopg.connect(fresh_postgres) as conn:
        store.ensure_schema(conn)
        store.insert_builds(conn, [store.NewBuild(build_hash(d), d, None, None) for d in documents])
    return fresh_postgres


def materialize(dsn: str, warehouse: object) -> dg.ExecuteInProcessResult:
    resources = {"postgres": PostgresResource(dsn=dsn), "warehouse_io_manager": warehouse}
    return dg.materialize([builds.to_source_asset(), builds_table], resources=resources)


def test_the_bigquery_table_gets_the_reference_schema() -> None:
    """Checked without a server: bqemulator cannot create this table (its DuckDB parser chokes on
    the column named `as`), so this asserts the schema the BigQuery IO manager creates the table
    with; loading and merging are covered for BigQuery by ci_assets_tests/lib/storage."""
    fields = schema_from_metadata(builds_table.metadata_by_key[builds_table.key]["bigquery_schema"])
    reference = [bigquery.SchemaField.from_api_repr(f).to_api_repr() for f in json.loads(REFERENCE.read_text())]
    created = [f.to_api_repr() for f in fields]
    # The reference as it is, each top-level record with the description descriptions.yaml gives it.
    assert [{k: v for k, v in f.items() if k != "description"} for f in created] == [
        {k: v for k, v in f.items() if k != "description"} for f in reference
    ]
    assert all(f["description"] for f in created)
    assert [f["fields"] for f in created] == [f["fields"] for f in reference]
    assert [f.name for f in fields] == ["build", "download", "source", "target"]
    assert all(f.mode == "REQUIRED" and f.field_type == "RECORD" for f in fields)


def test_builds_table_locally_is_parquet(stored: str, tmp_path: Path) -> None:
    warehouse = ParquetIOManager(store=LocalObjectStoreResource(root=str(tmp_path)), bucket="lake", prefix="warehouse")
    assert materialize(stored, warehouse).success
    frame = pl.read_parquet(tmp_path / "lake" / "warehouse" / "buildhub" / "builds_table" / "data.parquet")
    download = {f.name: f.dtype for f in frame.schema["download"].fields}
    assert frame.height == 30 and download["date"] == pl.Datetime("us", "UTC") and download["size"] == pl.Int64
    assert frame.filter(pl.col("download").struct.field("date").is_null()).height == 0
