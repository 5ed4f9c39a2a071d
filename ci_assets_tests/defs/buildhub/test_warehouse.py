"""The builds as a warehouse table: Buildhub2's BigQuery schema on the emulator, Parquet locally."""

import json
import random
import uuid
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg
import pytest
from google.api_core.exceptions import GoogleAPICallError
from google.cloud import bigquery

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.assets import builds
from ci_assets.defs.buildhub.documents import SCHEMA_DIR, build_hash
from ci_assets.defs.buildhub.samples import make_document
from ci_assets.defs.buildhub.warehouse import builds_frame, builds_table
from ci_assets.lib.storage.bigquery_io import BigQueryWriter
from ci_assets.lib.storage.bigquery_tables import make_client, schema_from_metadata
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetIOManager
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets.lib.storage.target import Target

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
    """The schema the BigQuery IO manager creates the table with is the reference's (the emulator
    cannot create it whole: see the load test below)."""
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


def _without_as(fields: list[dict]) -> list[dict]:
    """The schema without `build.as`, the one column the emulator cannot create."""
    out = []
    for f in fields:
        if f["name"] == "build":
            f = {**f, "fields": [g for g in f["fields"] if g["name"] != "as"]}
        out.append(f)
    return out


def _rows(frame: pl.DataFrame) -> list[str]:
    return sorted(json.dumps(row, default=str, sort_keys=True) for row in frame.to_dicts())


def test_the_builds_table_loads_into_bigquery_and_reads_back_equal(stored: str, bigquery_endpoint: str) -> None:
    """bqemulator refuses the real schema: its DuckDB parser cannot create the column named `as`
    (shown here with retries off: the API answers 500 and the client would retry for minutes). With
    that one column left out, everything else loads through the BigQuery IO manager's writer, and
    what it reads back equals the rows it was given."""
    dataset = f"buildhub_{uuid.uuid4().hex[:8]}"
    writer = BigQueryWriter(project="test-project", dataset=dataset, endpoint=bigquery_endpoint)
    spec = builds_table.specs_by_key[builds_table.key]
    client = make_client("test-project", bigquery_endpoint)
    client.create_dataset(f"test-project.{dataset}", exists_ok=True)
    schema = schema_from_metadata(spec.metadata["bigquery_schema"])
    full = bigquery.Table(f"test-project.{dataset}.refused", schema=schema)
    with pytest.raises(GoogleAPICallError) as refused:
        client.create_table(full, retry=None, timeout=60)
    assert refused.value.code == 500

    with psycopg.connect(stored) as conn:
        documents = [d for (d,) in conn.execute(f"SELECT build FROM {store.SCHEMA}.main_build ORDER BY id")]
    frame, _, _ = builds_frame(documents)
    kept = [f.name for f in frame.schema["build"].fields if f.name != "as"]
    frame = frame.with_columns(pl.struct([pl.col("build").struct.field(n) for n in kept]).alias("build"))
    rest = Target(spec.key, {**spec.metadata, "bigquery_schema": _without_as(spec.metadata["bigquery_schema"])})
    writer.write(rest, frame)
    back = writer.read(rest)
    assert back.height == frame.height == 30
    assert _rows(back.select(frame.columns)) == _rows(frame)
