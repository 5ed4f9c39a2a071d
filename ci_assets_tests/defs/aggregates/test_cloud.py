"""The cloud path: dumps and Parquet on S3 (moto's server), the tables in BigQuery (the emulator)."""

import uuid

import dagster as dg

from ci_assets.defs import aggregates
from ci_assets.defs.aggregates.rows import FIELDS
from ci_assets.defs.aggregates.settings import AggregatesSource
from ci_assets.defs.aggregates.tables import CLUSTERING, DATASET
from ci_assets.lib.storage.bigquery_io import BigQueryIOManager
from ci_assets.lib.storage.bigquery_tables import make_client
from ci_assets.lib.storage.object_store_resource import S3ObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetIOManager
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets_tests.defs.aggregates.conftest import DAY, EMPTY_DAY, Source

ASSETS = [aggregates.dump, aggregates.parquet, aggregates.build_id_aggregates, aggregates.submission_date_aggregates]
PROJECT = DATASET.split(".")[0]


def _range(start: str, end: str) -> dict[str, str]:
    return {"dagster/asset_partition_range_start": start, "dagster/asset_partition_range_end": end}


def test_s3_and_bigquery_hold_the_same_rows_and_a_rerun_replaces_the_day(
    source: Source, moto_endpoint: str, bigquery_endpoint: str, fresh_postgres: str, ci_home
) -> None:
    bucket = f"aggregates-{uuid.uuid4().hex[:8]}"
    resources = {
        "object_store": S3ObjectStoreResource(endpoint_url=moto_endpoint),
        "lake_io_manager": ParquetIOManager(
            store=S3ObjectStoreResource(endpoint_url=moto_endpoint), bucket=bucket, prefix="lake"
        ),
        "warehouse_io_manager": BigQueryIOManager(project=PROJECT, endpoint=bigquery_endpoint),
        "postgres": PostgresResource(dsn=fresh_postgres),
        "aggregates_source": AggregatesSource(dsn=source.dsn, bucket=bucket),
    }
    S3ObjectStoreResource(endpoint_url=moto_endpoint).create_bucket(bucket)
    both = _range(f"{DAY}|submission_date", f"{EMPTY_DAY}|submission_date")
    assert dg.materialize(ASSETS, resources=resources, selection=ASSETS[:2], tags=both).success
    table_run = dg.materialize(
        ASSETS, resources=resources, selection=[aggregates.submission_date_aggregates], tags=both
    )
    assert table_run.success

    client = make_client(PROJECT, bigquery_endpoint)
    table = client.get_table(f"{DATASET}.submission_date_aggregates")
    assert [(f.name, f.field_type, f.mode) for f in table.schema] == [(f["name"], f["type"], f["mode"]) for f in FIELDS]
    assert table.time_partitioning.field == "ingest_date" and table.time_partitioning.type_ == "DAY"
    assert table.clustering_fields == CLUSTERING["submission_date"]

    def per_day() -> list[tuple]:
        sql = f"SELECT ingest_date, ds_nodash, count(*) AS n FROM `{DATASET}.submission_date_aggregates` GROUP BY 1, 2"
        rows = client.query(sql).result().to_arrow(create_bqstorage_client=False).to_pylist()
        return sorted((r["ingest_date"], r["ds_nodash"], r["n"]) for r in rows)

    assert per_day() == [(DAY, "20191201", source.good_rows("submission_date"))]
    one = _range(f"{DAY}|submission_date", f"{DAY}|submission_date")
    assert dg.materialize(
        ASSETS, resources=resources, selection=[aggregates.submission_date_aggregates], tags=one
    ).success
    assert per_day() == [(DAY, "20191201", source.good_rows("submission_date"))]  # replaced, not added

    listed = [o.key for o in resources["object_store"].list(bucket, prefix="lake/aggregates/parquet/")]
    assert listed == [
        f"lake/aggregates/parquet/ingest_date={DAY}/aggregate_type=submission_date/data.parquet",
        f"lake/aggregates/parquet/ingest_date={EMPTY_DAY}/aggregate_type=submission_date/data.parquet",
    ]
