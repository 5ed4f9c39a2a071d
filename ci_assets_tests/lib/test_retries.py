"""Transient failures are retried a bounded number of times with backoff; others fail at once."""

import dagster as dg
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from ci_assets.lib.retries import is_transient, transient_retries

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
