"""Keys seen in each bucket, with the day they arrived: what a day's partition reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import psycopg

from ci_assets.lib import quarantine
from ci_assets.lib.storage.object_store import ObjectInfo

DDL = """
CREATE SCHEMA IF NOT EXISTS activedata;
CREATE TABLE IF NOT EXISTS activedata.keys (
    bucket        text        NOT NULL,
    key           text        NOT NULL,
    etag          text        NOT NULL,
    size          bigint      NOT NULL,
    last_modified timestamptz NOT NULL,
    arrival_day   date        NOT NULL,
    PRIMARY KEY (bucket, key)
);
CREATE INDEX IF NOT EXISTS keys_bucket_day ON activedata.keys (bucket, arrival_day);
"""


def ensure_schema(conn: psycopg.Connection) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('ci_assets.activedata.ddl'))")
    conn.execute(DDL)
    quarantine.ensure_table(conn)


def arrival_day(info: ObjectInfo) -> dt.date:
    return info.last_modified.astimezone(dt.UTC).date()


def record_keys(conn: psycopg.Connection, bucket: str, objects: Sequence[ObjectInfo]) -> list[tuple[str, dt.date]]:
    """(key, arrival day) of the keys that are new, or were replaced (a new ETag)."""
    if not objects:
        return []
    rows = conn.execute(
        """
        INSERT INTO activedata.keys (bucket, key, etag, size, last_modified, arrival_day)
        SELECT %s, * FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::timestamptz[], %s::date[])
        ON CONFLICT (bucket, key) DO UPDATE SET etag = EXCLUDED.etag, size = EXCLUDED.size,
            last_modified = EXCLUDED.last_modified, arrival_day = EXCLUDED.arrival_day
        WHERE activedata.keys.etag IS DISTINCT FROM EXCLUDED.etag
        RETURNING key, arrival_day
        """,
        (
            bucket,
            [o.key for o in objects],
            [o.etag for o in objects],
            [o.size for o in objects],
            [o.last_modified for o in objects],
            [arrival_day(o) for o in objects],
        ),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def keys_for_day(conn: psycopg.Connection, bucket: str, day: dt.date) -> list[str]:
    rows = conn.execute(
        "SELECT key FROM activedata.keys WHERE bucket = %s AND arrival_day = %s ORDER BY key", (bucket, day)
    ).fetchall()
    return [r[0] for r in rows]
