"""Transient failures are retried a bounded number of times with backoff; others fail at once."""

from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from ci_assets.definitions import build_definitions
from ci_assets.lib import env
from ci_assets.lib.retries import MARK, is_transient, transient_retries
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource
from ci_assets.lib.storage.parquet_io import ParquetIOManager

# Resources that reach a storage service from an asset's or op's body.
STORAGE = {"object_store", "postgres", "pulse", "sql", "aggregates_source", "uptime_source", "warehouse_writer"}

ATTEMPTS: list[int] = []


def _throttled() -> ClientError:
    return ClientError({"Error": {"Code": "SlowDown"}, "ResponseMetadata": {"HTTPStatusCode": 503}}, "GetObject")


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (EndpointConnectionError(endpoint_url="http://s3"), True),
        (_throttled(), True),
        (
            ClientError({"Error": {"Code": "NoSuchKey"}, "ResponseMetadata": {"HTTPStatusCode": 404}}, "GetObject"),
            False,
        ),
        (ConnectionResetError(), True),
        (ValueError("a corrupt file"), False),
    ],
)
def test_what_counts_as_transient(exc: Exception, transient: bool) -> None:
    assert is_transient(exc) is transient
    try:
        raise RuntimeError("wrapped") from exc
    except RuntimeError as wrapped:
        assert is_transient(wrapped) is transient  # found through the cause


def _asset(failures: int, error: type[Exception] | Exception):
    @dg.asset(name=f"flaky_{failures}_{type(error).__name__}")
    @transient_retries(max_retries=2, base_seconds=0.01)
    def flaky(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        ATTEMPTS.append(context.retry_number)
        if len(ATTEMPTS) <= failures:
            raise error if isinstance(error, Exception) else error()
        return dg.MaterializeResult(metadata={"attempt": context.retry_number})

    return flaky


def test_a_throttled_store_is_retried_until_it_answers() -> None:
    ATTEMPTS.clear()
    result = dg.materialize([_asset(2, _throttled())])
    assert result.success and ATTEMPTS == [0, 1, 2]


def test_retries_are_bounded() -> None:
    ATTEMPTS.clear()
    result = dg.materialize([_asset(10, _throttled())], raise_on_error=False)
    assert not result.success and ATTEMPTS == [0, 1, 2]  # the first attempt and two retries


def test_bad_data_is_not_retried() -> None:
    ATTEMPTS.clear()
    result = dg.materialize([_asset(10, ValueError("truncated .dat.gz"))], raise_on_error=False)
    assert not result.success and ATTEMPTS == [0]


class FlakyStore(LocalObjectStoreResource):
    """A local store whose first writes fail the way a dropped connection does."""

    failures: int = 1

    def staged_file(self, bucket: str, key: str):  # type: ignore[override]
        ATTEMPTS.append(len(ATTEMPTS))
        if len(ATTEMPTS) <= self.failures:
            raise EndpointConnectionError(endpoint_url="http://s3")
        return super().staged_file(bucket, key)


def test_an_io_manager_write_that_fails_transiently_retries_the_step(tmp_path: Path) -> None:
    ATTEMPTS.clear()

    @dg.asset
    def table() -> pl.DataFrame:
        return pl.DataFrame({"a": [1, 2]})

    io = ParquetIOManager(store=FlakyStore(root=str(tmp_path)), bucket="lake", retry_wait_seconds=0.01)
    result = dg.materialize([table], resources={"io_manager": io})
    assert result.success and len(ATTEMPTS) == 2  # failed once, stored on the retry
    assert pl.read_parquet(tmp_path / "lake" / "table" / "data.parquet")["a"].to_list() == [1, 2]


def test_every_step_that_touches_storage_follows_the_policy() -> None:
    """Each asset and op whose body uses a storage resource (S3, SQS, PostgreSQL, BigQuery, pulse,
    Cloud Monitoring) is wrapped; IO managers retry their own reads and writes (above)."""
    defs = build_definitions(env.read({}))
    ops = {op.name: op for job in defs.resolve_all_job_defs() for op in job.graph.iterate_op_defs()}
    touching = {name: op for name, op in ops.items() if op.required_resource_keys & STORAGE}
    assert {"pulse_tables", "buildhub__builds", "migrate_from_kinto", "backfill_bucket", "reserve_prefix"} <= set(
        touching
    )
    unwrapped = sorted(name for name, op in touching.items() if not getattr(op.compute_fn.decorated_fn, MARK, False))
    assert not unwrapped, unwrapped
