"""Whole-object GETs from S3 through a URL the client presigns, fetched with urllib3.

boto3's `get_object` costs about 1.1 ms of CPU a GET, held under the GIL (its request pipeline:
events, endpoint rules, signing, the response's parsing), and a day of ActiveData is a thousand
GETs whose downloading threads queue on that GIL. Presigning the same request costs ~0.15 ms and
fetching it with urllib3 ~0.55 ms: about half (measured in `docs/scale.md`, 2026-12-05).

The URL comes from the store's own client: its credentials, region, endpoint, addressing style, and
no signature at all for an unsigned session. It is signed with Signature Version 4: botocore
presigns with version 2 by default in us-east-1, which S3 refuses for buckets made since 2020.
Answers are read as boto3 reads them: 500, 502, 503, 504 and 429 are retried with backoff within
the store's `max_attempts`, S3's error document gives the code of a `ClientError`, and a failed
connection is botocore's `HTTPClientError`, so callers (and `retries.is_transient`) see what they
saw from boto3. Conditional GETs, and clients behind a proxy, stay with boto3, and the store asks
boto3 again after any other answer (a redirect to the bucket's region, which boto3 follows and a
presigned URL cannot; a refused signature).
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import urllib.request
from typing import Any
from xml.etree import ElementTree

import urllib3
from botocore.exceptions import ClientError, HTTPClientError
from botocore.httpsession import get_cert_path

from ci_assets.lib import retries as retries_module

RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
URL_SECONDS = 900  # a presigned URL is used at once; a short life limits a leaked one
CONNECTIONS = 64  # kept alive per host: more than any pool of downloading threads here
_SIGNER_ID = "ci_assets-presign-sigv4"


def _signature_v4(signature_version: Any = None, **_: Any) -> str | None:
    """choose-signer for a presigned GetObject: version 4 (botocore's default there is version 2's
    `s3-query`), except where botocore needs a signer of its own (v4a, S3 Express)."""
    if not isinstance(signature_version, str) or signature_version.startswith(("v4a", "v4-s3express")):
        return None
    return "s3v4" if signature_version.endswith("-query") else None


@functools.lru_cache(maxsize=16)
def whole_object_gets(client: Any, max_attempts: int, verify: bool | None = None) -> WholeObjectGets:
    """One per client and process, like the client itself: each run builds its store anew, and its
    GETs then reuse the connections the last run's left open instead of opening sixteen more."""
    return WholeObjectGets(client, max_attempts, verify)


class WholeObjectGets:
    def __init__(self, client: Any, max_attempts: int, verify: bool | None = None):
        self.client = client
        # Ahead of botocore's own choice of version 2; an unsigned session's choice still wins (tested).
        client.meta.events.register_first("choose-signer.s3.GetObject", _signature_v4, unique_id=_SIGNER_ID)
        config = client.meta.config
        retries = urllib3.Retry(
            total=max(0, max_attempts - 1),
            status_forcelist=RETRIED_STATUSES,
            allowed_methods={"GET"},
            # The platform's pause (lib/retries.py, 10 s) scaled down: 0.5 s, 1 s, 2 s … at most 20 s.
            backoff_factor=retries_module.BASE_SECONDS / 20,
            backoff_max=2 * retries_module.BASE_SECONDS,
            backoff_jitter=0.5,
            raise_on_status=False,  # the last answer is S3's error, raised below with its code
            respect_retry_after_header=True,
        )
        tls = {"cert_reqs": "CERT_NONE"} if verify is False else {"ca_certs": get_cert_path(True)}
        self._http = urllib3.PoolManager(
            maxsize=CONNECTIONS,
            retries=retries,
            timeout=urllib3.Timeout(connect=config.connect_timeout, read=config.read_timeout),
            **tls,
        )
        # botocore sends through the environment's proxy; this path does not, so such a client stays with boto3.
        self.usable = not urllib.request.getproxies()

    def get(self, bucket: str, key: str) -> tuple[bytes, str, dt.datetime]:
        """The object's bytes, ETag (quoted, as S3 sends it) and Last-Modified."""
        url = self.client.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=URL_SECONDS
        )
        try:
            answer = self._http.request("GET", url)
        except urllib3.exceptions.HTTPError as e:
            raise HTTPClientError(error=e) from e
        if answer.status != 200:
            raise s3_error(answer.status, answer.data)
        headers = answer.headers
        return answer.data, headers.get("ETag", ""), last_modified(headers.get("Last-Modified"))


def s3_error(status: int, document: bytes) -> ClientError:
    """S3's answer other than 200 as boto3 raises it: the code and message of its error document,
    or the HTTP status as the code when there is none (a 404 to a HEAD-like answer, a proxy's page)."""
    code, message = str(status), ""
    try:
        root = ElementTree.fromstring(document)
    except ElementTree.ParseError:
        root = None
    if root is not None:
        code = (root.findtext("Code") or "").strip() or code
        message = (root.findtext("Message") or "").strip()
    response = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "GetObject")  # type: ignore[arg-type]


def last_modified(value: str | None) -> dt.datetime:
    """Last-Modified as a UTC datetime; S3 always sends one, so one that is missing or unreadable
    is an answer not to trust."""
    try:
        when = email.utils.parsedate_to_datetime(value or "")
    except (TypeError, ValueError) as e:
        raise HTTPClientError(error=ValueError(f"Last-Modified {value!r} is not an HTTP date")) from e
    return when if when.tzinfo else when.replace(tzinfo=dt.UTC)
