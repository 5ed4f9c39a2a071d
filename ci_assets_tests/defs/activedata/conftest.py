"""One local ActiveData world for a test: a local object store, the machine's PostgreSQL, a lake."""

from pathlib import Path
from typing import Any

import dagster as dg

from ci_assets.defs.activedata.automation import new_keys_sensor
from ci_assets.defs.activedata.settings import ActiveDataSettings
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetIOManager
from ci_assets.lib.storage.postgres import PostgresResource


def local_world(tmp_path: Path, dsn: str, bucket: str) -> dict[str, Any]:
    store = LocalObjectStoreResource(root=str(tmp_path / "objects"))
    store.create_bucket(bucket)
    return {
        "object_store": store,
        "postgres": PostgresResource(dsn=dsn),
        "lake_io_manager": ParquetIOManager(store=LocalObjectStoreResource(root=str(tmp_path)), bucket="lake"),
        "activedata_settings": ActiveDataSettings(buckets=[bucket]),
    }


def tick(resources: dict[str, Any]) -> list[dg.RunRequest]:
    with dg.build_sensor_context(resources=resources) as context:
        return new_keys_sensor()(context).run_requests
