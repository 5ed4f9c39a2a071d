"""Environment -> resources. Systems ask for these keys and never build a client themselves.

`CI_ASSETS_ENV=local` (default) runs everything embedded under `$CI_ASSETS_HOME`;
`CI_ASSETS_ENV=cloud` reads its settings from the environment variables in the README.
"""

from __future__ import annotations

import os
from typing import Any

import dagster as dg

from ci_assets.lib import env
from ci_assets.lib.lake import lake_location
from ci_assets.lib.pulse import PulseResource, pulse_from_env
from ci_assets.lib.storage.bigquery_io import BigQueryIOManager
from ci_assets.lib.storage.object_store_resource import ObjectStoreResource
from ci_assets.lib.storage.parquet_io import LocalParquetIOManager, S3ParquetIOManager
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets.lib.storage.sql import BigQuerySqlRunner, DuckDBSqlRunner

# Where warehouse assets without a `table` of their own land (project.dataset).
LOCAL_WAREHOUSE_PROJECT = "local"
DEFAULT_DATASET = "ci_assets"


def local_resources() -> dict[str, Any]:
    home = env.home()
    namespace = f"{LOCAL_WAREHOUSE_PROJECT}.{DEFAULT_DATASET}"
    lake_bucket, lake_prefix = lake_location("local")
    return {
        "object_store": ObjectStoreResource(kind="local", root=str(env.objects_root())),
        "lake_io_manager": LocalParquetIOManager(root=str(env.objects_root()), bucket=lake_bucket, prefix=lake_prefix),
        "warehouse_io_manager": LocalParquetIOManager(
            root=str(home), bucket="lake", prefix="warehouse", table_namespace=namespace
        ),
        "postgres": PostgresResource(),
        "sql": DuckDBSqlRunner(warehouse_dir=str(home / "lake" / "warehouse"), default_project=LOCAL_WAREHOUSE_PROJECT),
        "pulse": PulseResource(url="filesystem://"),
    }


def cloud_resources() -> dict[str, Any]:
    # Endpoints and names are plain settings (shown in the UI); credentials never pass
    # through here: boto3 and google-auth find their own, and the DSN stays an EnvVar.
    s3_endpoint = os.environ.get("CI_ASSETS_S3_ENDPOINT_URL") or None
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
    bq_endpoint = os.environ.get("CI_ASSETS_BQ_ENDPOINT") or None
    bq_location = os.environ.get("CI_ASSETS_BQ_LOCATION") or None
    project = dg.EnvVar("CI_ASSETS_BQ_PROJECT")
    return {
        "object_store": ObjectStoreResource(kind="s3", endpoint_url=s3_endpoint, region_name=region),
        "lake_io_manager": S3ParquetIOManager(
            bucket=dg.EnvVar("CI_ASSETS_LAKE_BUCKET"),
            prefix=lake_location("cloud")[1],
            endpoint_url=s3_endpoint,
            region_name=region,
        ),
        "warehouse_io_manager": BigQueryIOManager(
            project=project,
            dataset=os.environ.get("CI_ASSETS_BQ_DATASET", DEFAULT_DATASET),
            location=bq_location,
            endpoint=bq_endpoint,
        ),
        "postgres": PostgresResource(dsn=dg.EnvVar("CI_ASSETS_POSTGRES_DSN")),
        "sql": BigQuerySqlRunner(project=project, location=bq_location, endpoint=bq_endpoint),
        "pulse": pulse_from_env(),
    }


def resources_for_env(environment: env.Environment | None = None) -> dict[str, Any]:
    return cloud_resources() if (environment or env.current_env()) == "cloud" else local_resources()
