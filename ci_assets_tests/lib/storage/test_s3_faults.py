"""S3 answering 503 SlowDown or 500 InternalError (a loopback proxy in front of moto's real server):
the store retries within its bound and then fails with S3's own error; an asset reading a day whose
object keeps failing fails the run instead of skipping the object."""

import datetime as dt
import gzip
import uuid
from pathlib import Path

import botocore.exceptions
import dagster as dg
import pytest

from ci_assets.lib.storage.s3_store import S3ObjectStore
from ci_assets_tests.services.faulty_proxy import INTERNAL, SLOW_DOWN, Faults, faulty_proxy


def _bucket(moto_endpoint: str) -> tuple[S3ObjectStore, str]:
    direct = S3ObjectStore(endpoint_url=moto_endpoint, region_name="us-east-1")
    bucket = f"faults-{uuid.uuid4().hex[:8]}"
    direct.create_bucket(bucket)
    direct.put(bucket, "a/key", b"payload")
    return direct, bucket


def test_slow_down_is_retried_and_the_object_read(moto_endpoint: str) -> None:
    _, bucket = _bucket(moto_endpoint)
    faults = Faults(lambda method, path, n: SLOW_DOWN if method == "GET" and n <= 2 else None)
    with faulty_proxy(moto_endpoint, faults) as url:
        store = S3ObjectStore(endpoint_url=url, region_name="us-east-1")
        found = store.get(bucket, "a/key")
        assert found is not None and found.data == b"payload"
    assert faults.failed == 2


def test_an_error_that_persists_fails_after_the_bound_with_s3s_own_error(moto_endpoint: str) -> None:
    _, bucket = _bucket(moto_endpoint)
    faults = Faults(lambda method, path, n: INTERNAL if method == "GET" else None)
    with faulty_proxy(moto_endpoint, faults) as url:
        store = S3ObjectStore(endpoint_url=url, region_name="us-east-1", max_attempts=3)
        with pytest.raises(botocore.exceptions.ClientError, match="InternalError"):
            store.get(bucket, "a/key")
    assert 2 <= faults.failed <= 4  # retried, and bounded by the store's setting


def test_an_activedata_day_whose_file_keeps_failing_fails_the_run(
    moto_endpoint: str, fresh_postgres: str, tmp_path: Path
) -> None:
    """Never silent loss: the file is neither skipped nor counted gone; the run fails and the day
    can run again."""
    from ci_assets.defs.activedata.assets import BUCKET_ASSETS
    from ci_assets.defs.activedata.settings import ActiveDataSettings
    from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource, S3ObjectStoreResource
    from ci_assets.lib.storage.parquet_io import ParquetIOManager
    from ci_assets.lib.storage.postgres import PostgresResource
    from ci_assets_tests.defs.activedata.conftest import tick

    bucket = "active-data-perf"
    direct = S3ObjectStore(endpoint_url=moto_endpoint, region_name="us-east-1")
    direct.create_bucket(bucket)
    key = f"tc.{uuid.uuid4().int % 10**7}:162311556.34.json.gz"
    direct.put(bucket, key, gzip.compress(b'{"_id": "' + key.removesuffix(".json.gz").encode() + b'.0"}\n'))
    faults = Faults(lambda method, path, n: INTERNAL if method == "GET" and key.split(":")[0] in path else None)
    with faulty_proxy(moto_endpoint, faults) as url:
        resources = {
            "object_store": S3ObjectStoreResource(endpoint_url=url, region_name="us-east-1"),
            "postgres": PostgresResource(dsn=fresh_postgres),
            "lake_io_manager": ParquetIOManager(store=LocalObjectStoreResource(root=str(tmp_path)), bucket="lake"),
            "activedata_settings": ActiveDataSettings(buckets=[bucket]),
        }
        assert tick(resources)
        day = dt.datetime.now(dt.UTC).date().isoformat()
        result = dg.materialize([BUCKET_ASSETS[bucket]], partition_key=day, resources=resources, raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error.to_string()
    assert "InternalError" in failure, failure
    assert faults.failed >= 2  # retried before giving up
