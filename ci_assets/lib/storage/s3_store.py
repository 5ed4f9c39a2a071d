"""The object store of the cloud environment: S3, or anything speaking its API."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from typing import Any, BinaryIO

import boto3
from boto3.exceptions import S3UploadFailedError
from botocore.config import Config
from botocore.exceptions import ClientError

from ci_assets.lib.storage.object_store import (
    DEFAULT_PAGE_SIZE,
    BucketNotFoundError,
    InvalidKeyError,
    ListPage,
    ObjectInfo,
    ObjectNotFoundError,
    ObjectStore,
    StoredObject,
)
from ci_assets.lib.storage.s3_get import whole_object_gets

# Spool writes in memory up to this size, on disk beyond it; boto3 switches to a
# multipart upload for large bodies, which S3 also publishes atomically on completion.
_SPOOL_BYTES = 64 << 20


def _strip(etag: str) -> str:
    return etag.strip('"')


def _error_code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


class S3ObjectStore(ObjectStore):
    def __init__(
        self,
        endpoint_url: str | None = None,
        region_name: str | None = None,
        client: Any = None,
        max_attempts: int = 5,
        verify: bool | None = None,
    ):
        self.endpoint_url = endpoint_url
        # Standard retry mode backs off exponentially on throttling and 5xx, bounded.
        config = Config(retries={"max_attempts": max_attempts, "mode": "standard"})
        self.client = client or boto3.client("s3", endpoint_url=endpoint_url, region_name=region_name, config=config)
        self._gets = whole_object_gets(self.client, max_attempts, verify)
        self._boto3_buckets: set[str] = set()  # buckets whose presigned GETs S3 redirected or refused

    def uri(self, bucket: str, key: str = "") -> str:
        return f"s3://{bucket}/{key}"

    def _check_key(self, key: str) -> str:
        if not key:
            raise InvalidKeyError("empty object key: refused")
        return key

    def _raise(self, err: ClientError, bucket: str, key: str = "") -> None:
        code = _error_code(err)
        if code == "NoSuchBucket":
            raise BucketNotFoundError(bucket, self.endpoint_url or "AWS") from err
        if code in ("NoSuchKey", "404", "NotFound"):
            raise ObjectNotFoundError(bucket, key) from err
        raise err

    def create_bucket(self, bucket: str) -> None:
        try:
            self.client.create_bucket(Bucket=bucket)
        except ClientError as err:
            if _error_code(err) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        try:
            resp = self.client.head_object(Bucket=bucket, Key=self._check_key(key))
        except ClientError as err:
            if _error_code(err) in ("404", "NoSuchKey", "NotFound"):
                return None
            self._raise(err, bucket, key)
            raise
        return ObjectInfo(key, resp["ContentLength"], _strip(resp["ETag"]), resp["LastModified"])

    def get(self, bucket: str, key: str, if_none_match: str | None = None) -> StoredObject | None:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Key": self._check_key(key)}
        presigned = self._gets.usable and bucket not in self._boto3_buckets
        if if_none_match is None and presigned:  # half boto3's CPU a GET (s3_get.py)
            try:
                data, etag, modified = self._gets.get(bucket, key)
                return StoredObject(info=ObjectInfo(key, len(data), _strip(etag), modified), data=data)
            except ClientError as err:
                status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                if status in (404, 429) or status >= 500:
                    self._raise(err, bucket, key)
                    raise
                # Anything else (a redirect to the bucket's region, a refused signature) is boto3's
                # own GET's to answer, from now on for this bucket: it follows S3's redirects, which
                # a presigned URL cannot, and remembers the bucket's region.
                self._boto3_buckets.add(bucket)
        if if_none_match is not None:
            kwargs["IfNoneMatch"] = f'"{if_none_match}"'
        try:
            resp = self.client.get_object(**kwargs)
        except ClientError as err:
            if _error_code(err) == "304":
                return None
            self._raise(err, bucket, key)
            raise
        with contextlib.closing(resp["Body"]) as body:
            data = body.read()
        info = ObjectInfo(key, resp["ContentLength"], _strip(resp["ETag"]), resp["LastModified"])
        return StoredObject(info=info, data=data)

    @contextlib.contextmanager
    def open(self, bucket: str, key: str) -> Iterator[BinaryIO]:
        try:
            resp = self.client.get_object(Bucket=bucket, Key=self._check_key(key))
        except ClientError as err:
            self._raise(err, bucket, key)
            raise
        with contextlib.closing(resp["Body"]) as body:
            yield body

    @contextlib.contextmanager
    def writer(self, bucket: str, key: str) -> Iterator[BinaryIO]:
        self._check_key(key)
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            yield spool  # type: ignore[misc]
            spool.seek(0)
            self._upload(spool, bucket, key)

    def _upload(self, body: Any, bucket: str, key: str) -> None:
        try:
            self.client.upload_fileobj(body, bucket, key)
        except S3UploadFailedError as err:
            if "NoSuchBucket" in str(err):
                raise BucketNotFoundError(bucket, self.endpoint_url or "AWS") from err
            raise

    @contextlib.contextmanager
    def staged_file(self, bucket: str, key: str) -> Iterator[str]:
        self._check_key(key)
        with tempfile.TemporaryDirectory(prefix="ci-assets-") as tmp:
            path = f"{tmp}/object"
            yield path
            with open(path, "rb") as body:
                self._upload(body, bucket, key)

    def delete(self, bucket: str, key: str) -> None:
        try:
            self.client.delete_object(Bucket=bucket, Key=self._check_key(key))
        except ClientError as err:
            self._raise(err, bucket, key)

    def list_page(
        self,
        bucket: str,
        prefix: str = "",
        start_after: str | None = None,
        max_keys: int = DEFAULT_PAGE_SIZE,
    ) -> ListPage:
        kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": max_keys}
        if start_after:
            kwargs["StartAfter"] = start_after
        try:
            resp = self.client.list_objects_v2(**kwargs)
        except ClientError as err:
            self._raise(err, bucket)
            raise
        objects = [
            ObjectInfo(o["Key"], o["Size"], _strip(o["ETag"]), o["LastModified"]) for o in resp.get("Contents", [])
        ]
        more = resp.get("IsTruncated") and objects
        return ListPage(objects, next_start_after=objects[-1].key if more else None)
