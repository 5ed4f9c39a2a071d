"""Whole-object GETs through presigned URLs (s3_get.py), against moto's real server: what each
request carries, what the store hands back, and how S3's other answers surface."""

import datetime as dt
import uuid

import boto3
import pytest
from botocore.exceptions import ClientError, HTTPClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_assets.lib.retries import is_transient
from ci_assets.lib.storage.object_store import ObjectNotFoundError
from ci_assets.lib.storage.object_store_resource import S3ObjectStoreResource
from ci_assets.lib.storage.s3_get import last_modified, s3_error
from ci_assets.lib.storage.s3_store import S3ObjectStore
from ci_assets_tests.services.faulty_proxy import Faults, faulty_proxy
from ci_assets_tests.services.network import free_port


def _bucket(moto_endpoint: str) -> str:
    bucket = f"gets-{uuid.uuid4().hex[:8]}"
    store = S3ObjectStore(endpoint_url=moto_endpoint, region_name="us-east-1")
    store.create_bucket(bucket)
    store.put(bucket, "a/b c+d.json.gz", b"payload")
    return bucket


def _seen(moto_endpoint: str, read) -> list[str]:
    """The paths (with their query) of the GETs `read(endpoint)` sent."""
    paths: list[str] = []
    faults = Faults(lambda method, path, n: paths.append(path) if method == "GET" else None)
    with faulty_proxy(moto_endpoint, faults) as url:
        read(url)
    return paths


def test_a_get_is_signed_with_version_4_and_answers_as_boto3_does(moto_endpoint: str) -> None:
    """botocore presigns with version 2 in us-east-1 by default; S3 refuses that for new buckets."""
    bucket = _bucket(moto_endpoint)
    got = []
    paths = _seen(
        moto_endpoint,
        lambda url: got.append(S3ObjectStore(url, region_name="us-east-1").get(bucket, "a/b c+d.json.gz")),
    )
    assert len(paths) == 1 and "X-Amz-Algorithm=AWS4-HMAC-SHA256" in paths[0] and "X-Amz-Signature=" in paths[0]
    assert "Signature=" not in paths[0].replace("X-Amz-Signature=", "")
    theirs = boto3.client("s3", endpoint_url=moto_endpoint).get_object(Bucket=bucket, Key="a/b c+d.json.gz")
    (found,) = got
    assert found is not None and found.data == b"payload"
    assert (found.info.etag, found.info.size) == (theirs["ETag"].strip('"'), theirs["ContentLength"])
    assert found.info.last_modified == theirs["LastModified"] and found.info.last_modified.tzinfo is not None


def test_an_unsigned_session_sends_no_signature(moto_endpoint: str) -> None:
    """A public object, as an unsigned session reads (moto, as S3, refuses a private one: 403)."""
    bucket = _bucket(moto_endpoint)
    client = boto3.client("s3", endpoint_url=moto_endpoint)
    client.put_object(Bucket=bucket, Key="a/b c+d.json.gz", Body=b"payload", ACL="public-read")
    got = []

    def read(url: str) -> None:
        store = S3ObjectStoreResource(endpoint_url=url, region_name="us-east-1", use_unsigned_session=True)
        got.append(store.get_bytes(bucket, "a/b c+d.json.gz"))

    (path,) = _seen(moto_endpoint, read)
    assert got == [b"payload"] and "?" not in path


def test_a_conditional_get_stays_with_boto3_and_says_unchanged(moto_endpoint: str) -> None:
    bucket = _bucket(moto_endpoint)
    store = S3ObjectStore(moto_endpoint, region_name="us-east-1")
    etag = store.head(bucket, "a/b c+d.json.gz").etag
    assert store.get(bucket, "a/b c+d.json.gz", if_none_match=etag) is None
    assert store.get(bucket, "a/b c+d.json.gz", if_none_match="other").data == b"payload"


def test_a_missing_key_is_not_found_and_a_closed_port_is_transient(moto_endpoint: str) -> None:
    bucket = _bucket(moto_endpoint)
    with pytest.raises(ObjectNotFoundError):
        S3ObjectStore(moto_endpoint, region_name="us-east-1").get(bucket, "nothing/here")
    closed = S3ObjectStore(f"http://127.0.0.1:{free_port()}", region_name="us-east-1", max_attempts=2)
    with pytest.raises(HTTPClientError) as failed:
        closed.get(bucket, "a/b c+d.json.gz")
    assert is_transient(failed.value)


def test_a_redirect_or_refusal_of_the_presigned_get_is_left_to_boto3s_get(moto_endpoint: str) -> None:
    """S3 sends a client of the wrong region a 301 (boto3 follows it to the bucket's region, a
    presigned URL cannot); the store then asks boto3, which reads the object, and keeps asking
    boto3 for that bucket rather than paying the refused GET each time."""
    bucket = _bucket(moto_endpoint)
    moved = (301, b"<Error><Code>PermanentRedirect</Code><Message>Use the bucket's region.</Message></Error>")
    faults = Faults(lambda method, path, n: moved if "X-Amz-Signature=" in path else None)
    with faulty_proxy(moto_endpoint, faults) as url:
        store = S3ObjectStore(url, region_name="us-east-1")
        found = [store.get(bucket, "a/b c+d.json.gz") for _ in range(3)]
    assert [f.data for f in found if f is not None] == [b"payload"] * 3 and faults.failed == 1


def test_behind_a_proxy_the_store_keeps_boto3s_get(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore sends through the environment's proxy; the presigned path would not."""
    bucket = _bucket(moto_endpoint)
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    store = S3ObjectStore(moto_endpoint, region_name="us-east-1")
    assert not store._gets.usable
    assert store.get_bytes(bucket, "a/b c+d.json.gz") == b"payload"


@settings(max_examples=300, deadline=None)
@given(
    st.integers(min_value=100, max_value=599), st.one_of(st.binary(max_size=300), st.text(max_size=200).map(str.encode))
)
def test_any_error_answer_is_a_client_error_with_a_code(status: int, document: bytes) -> None:
    error = s3_error(status, b"<Error><Code>" + document + b"</Code></Error>" if status % 2 else document)
    assert isinstance(error, ClientError) and error.response["Error"]["Code"]
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_s3s_error_document_names_the_code() -> None:
    error = s3_error(503, b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>")
    assert error.response["Error"] == {"Code": "SlowDown", "Message": "Please reduce your request rate."}
    assert is_transient(error) and s3_error(404, b"<html>not here</html>").response["Error"]["Code"] == "404"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.text(max_size=60)))
def test_any_last_modified_is_a_utc_time_or_a_clear_error(value: str | None) -> None:
    try:
        when = last_modified(value)
    except HTTPClientError:
        return
    assert when.tzinfo is not None


def test_last_modified_reads_http_dates() -> None:
    assert last_modified("Fri, 04 Dec 2026 23:20:05 GMT") == dt.datetime(2026, 12, 4, 23, 20, 5, tzinfo=dt.UTC)
