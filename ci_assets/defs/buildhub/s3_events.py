"""S3 event notifications as they reach SQS: direct, or wrapped in an SNS envelope."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any
from urllib.parse import unquote_plus

from ci_assets.lib.storage.object_store import ObjectInfo


@dataclasses.dataclass
class ParsedMessage:
    objects: list[tuple[str, ObjectInfo]] = dataclasses.field(default_factory=list)  # (bucket, object)
    test_event: bool = False
    not_s3_records: int = 0
    error: str | None = None  # set when the body is not an S3 event at all


def _records(body: Any) -> list[Any] | None:
    if isinstance(body, dict) and isinstance(body.get("Message"), str):  # SNS envelope
        try:
            body = json.loads(body["Message"])
        except json.JSONDecodeError:
            return None
    if isinstance(body, dict) and isinstance(body.get("Records"), list):
        return body["Records"]
    return None


def parse_message(raw: str) -> ParsedMessage:
    try:
        body = json.loads(raw)
    except json.JSONDecodeError as err:
        return ParsedMessage(error=f"not JSON: {err}")
    if isinstance(body, dict) and body.get("Event") == "s3:TestEvent":
        return ParsedMessage(test_event=True)
    records = _records(body)
    if records is None:
        return ParsedMessage(error="not an S3 event notification (no Records)")
    parsed = ParsedMessage()
    for record in records:
        s3 = record.get("s3") if isinstance(record, dict) else None
        obj = (s3 or {}).get("object") or {}
        if not s3 or "key" not in obj or "name" not in (s3.get("bucket") or {}):
            parsed.not_s3_records += 1
            continue
        try:
            when = dt.datetime.fromisoformat(str(record.get("eventTime")).replace("Z", "+00:00"))
        except ValueError:
            when = dt.datetime.now(dt.UTC)  # the upload day is then the day we heard of it
        info = ObjectInfo(
            key=unquote_plus(obj["key"]),  # S3 sends keys form-encoded ("a+b%2Fc" is "a b/c")
            size=int(obj.get("size", 0)),
            etag=str(obj.get("eTag", "")).strip('"'),
            last_modified=when if when.tzinfo else when.replace(tzinfo=dt.UTC),
        )
        parsed.objects.append((s3["bucket"]["name"], info))
    return parsed
