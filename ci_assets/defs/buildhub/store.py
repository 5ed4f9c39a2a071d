"""Buildhub's PostgreSQL tables: the builds (Buildhub2's `main_build`) and the S3 key inventory.

`s3_keys` is both the inventory of discovered keys (what a day's partition holds) and
the key+ETag cache: `ingested_etag` equal to `etag` means the object was already
downloaded and considered, so nothing downloads it again until its ETag changes.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from ci_assets.lib import quarantine
from ci_assets.lib.storage.object_store import ObjectInfo

SCHEMA = "buildhub"

# buildhub.json path -> a stored generated column holding it, for the search's hot fields.
SEARCH_COLUMNS: dict[tuple[str, ...], str] = {
    ("source", "product"): "search_product",
    ("target", "channel"): "search_channel",
    ("target", "version"): "search_version",
    ("target", "platform"): "search_platform",
    ("target", "locale"): "search_locale",
    ("download", "date"): "search_download_date",
}


def _search_columns_ddl() -> str:
    return "\n".join(
        f"ALTER TABLE {SCHEMA}.main_build ADD COLUMN IF NOT EXISTS {column} text "
        f"GENERATED ALWAYS AS (build #>> '{{{','.join(path)}}}') STORED;"
        for path, column in SEARCH_COLUMNS.items()
    )


DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {SCHEMA}.main_build (
    id             bigserial PRIMARY KEY,
    build_hash     varchar(45) NOT NULL UNIQUE,
    build          jsonb       NOT NULL,
    metadata       jsonb       NOT NULL DEFAULT '{{}}'::jsonb,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    s3_object_key  varchar(400),
    s3_object_etag varchar(400),
    build_id       text GENERATED ALWAYS AS (build -> 'build' ->> 'id') STORED
);
CREATE INDEX IF NOT EXISTS main_build_build_id ON {SCHEMA}.main_build (build_id);
CREATE INDEX IF NOT EXISTS main_build_s3_object_key ON {SCHEMA}.main_build (s3_object_key);
-- What /api/search needs in place of Elasticsearch: containment for any field (GIN), and
-- plain columns with B-tree indexes for the fields the UI filters, facets and sorts on.
CREATE INDEX IF NOT EXISTS main_build_build_paths ON {SCHEMA}.main_build USING gin (build jsonb_path_ops);
{_search_columns_ddl()}
CREATE INDEX IF NOT EXISTS main_build_facets ON {SCHEMA}.main_build
    (search_product, search_channel, search_version text_pattern_ops)
    INCLUDE (search_platform, search_locale, search_download_date);
CREATE INDEX IF NOT EXISTS main_build_download_date ON {SCHEMA}.main_build (search_download_date);
CREATE INDEX IF NOT EXISTS main_build_platform ON {SCHEMA}.main_build (search_platform);
CREATE TABLE IF NOT EXISTS {SCHEMA}.s3_keys (
    bucket         text        NOT NULL,
    key            text        NOT NULL,
    etag           text        NOT NULL,
    size           bigint      NOT NULL,
    last_modified  timestamptz NOT NULL,
    upload_day     date        NOT NULL,
    discovered_at  timestamptz NOT NULL DEFAULT now(),
    ingested_etag  text,
    ingested_at    timestamptz,
    outcome        text,
    PRIMARY KEY (bucket, key)
) WITH (fillfactor = 70);  -- room for the cache update to stay on the page (HOT, no index churn)
CREATE INDEX IF NOT EXISTS s3_keys_day ON {SCHEMA}.s3_keys (bucket, upload_day);
"""


def ensure_schema(conn: psycopg.Connection) -> None:
    # Two runs may start at once on a fresh database; serialise the DDL.
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('ci_assets.buildhub.ddl'))")
    conn.execute(DDL)
    quarantine.ensure_table(conn)


def upload_day(info: ObjectInfo) -> dt.date:
    return info.last_modified.astimezone(dt.UTC).date()


def record_keys(conn: psycopg.Connection, bucket: str, objects: Sequence[ObjectInfo]) -> list[tuple[str, dt.date]]:
    """Upsert discovered keys and return (key, upload day) of those that are new or carry a
    new ETag: a changed object no longer matches its cache entry, so it is ingested again."""
    if not objects:
        return []
    latest = {o.key: o for o in objects}  # one row per key, the last event wins
    rows = conn.execute(
        f"""
        INSERT INTO {SCHEMA}.s3_keys (bucket, key, etag, size, last_modified, upload_day)
        SELECT %s, * FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::timestamptz[], %s::date[])
        ON CONFLICT (bucket, key) DO UPDATE SET
            etag = EXCLUDED.etag, size = EXCLUDED.size,
            last_modified = EXCLUDED.last_modified, upload_day = EXCLUDED.upload_day
        WHERE {SCHEMA}.s3_keys.etag IS DISTINCT FROM EXCLUDED.etag
        RETURNING key, upload_day
        """,
        (
            bucket,
            list(latest),
            [o.etag for o in latest.values()],
            [o.size for o in latest.values()],
            [o.last_modified for o in latest.values()],
            [upload_day(o) for o in latest.values()],
        ),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


@dataclasses.dataclass(frozen=True)
class KeyRow:
    key: str
    etag: str
    size: int
    upload_day: dt.date
    cached: bool  # ingested already at this ETag


def _key_rows(conn: psycopg.Connection, bucket: str, column: str, values: Sequence[Any]) -> list[KeyRow]:
    rows = conn.execute(
        f"SELECT key, etag, size, upload_day, ingested_etag IS NOT DISTINCT FROM etag "
        f"FROM {SCHEMA}.s3_keys WHERE bucket = %s AND {column} = ANY(%s) ORDER BY key",
        (bucket, list(values)),
    ).fetchall()
    return [KeyRow(*r) for r in rows]


def keys_for_days(conn: psycopg.Connection, bucket: str, days: Sequence[dt.date]) -> list[KeyRow]:
    return _key_rows(conn, bucket, "upload_day", days)


def keys_by_name(conn: psycopg.Connection, bucket: str, keys: Sequence[str]) -> list[KeyRow]:
    return _key_rows(conn, bucket, "key", keys)


@dataclasses.dataclass(frozen=True)
class NewBuild:
    build_hash: str
    build: dict[str, Any]
    s3_object_key: str | None
    s3_object_etag: str | None
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    # The document's JSON text as downloaded, when there is one: PostgreSQL parses it,
    # which spares re-serialising every document in Python.
    raw_json: str | None = None

    def json_text(self) -> str:
        return self.raw_json if self.raw_json is not None else json.dumps(self.build)


def insert_builds(conn: psycopg.Connection, builds: Iterable[NewBuild]) -> set[str]:
    """Insert what is new by hash in one statement; returns the hashes actually inserted.

    `ON CONFLICT DO NOTHING` makes concurrent ingests and re-runs safe: a hash is
    inserted once, whoever gets there first.
    """
    batch = list(builds)
    if not batch:
        return set()
    rows = conn.execute(
        f"""
        INSERT INTO {SCHEMA}.main_build (build_hash, build, metadata, s3_object_key, s3_object_etag)
        SELECT h, b::jsonb, m, k, e FROM unnest(%s::varchar[], %s::text[], %s::jsonb[], %s::varchar[], %s::varchar[])
            AS u(h, b, m, k, e)
        ON CONFLICT (build_hash) DO NOTHING
        RETURNING build_hash
        """,
        (
            [b.build_hash for b in batch],
            [b.json_text() for b in batch],
            [Jsonb(b.metadata) for b in batch],
            [b.s3_object_key for b in batch],
            [b.s3_object_etag for b in batch],
        ),
    ).fetchall()
    return {r[0] for r in rows}


def mark_ingested(conn: psycopg.Connection, bucket: str, outcomes: Sequence[tuple[str, str, str]]) -> None:
    """(key, etag, outcome) per considered key: the cache entry that spares the next download."""
    if not outcomes:
        return
    conn.execute(
        f"""
        UPDATE {SCHEMA}.s3_keys AS k SET ingested_etag = o.etag, ingested_at = now(), outcome = o.outcome
        FROM unnest(%s::text[], %s::text[], %s::text[]) AS o(key, etag, outcome)
        WHERE k.bucket = %s AND k.key = o.key
        """,
        ([o[0] for o in outcomes], [o[1] for o in outcomes], [o[2] for o in outcomes], bucket),
    )


def builds_with_id(conn: psycopg.Connection, build_id: str) -> list[tuple[str, dict[str, Any], str | None]]:
    return conn.execute(
        f"SELECT build_hash, build, s3_object_key FROM {SCHEMA}.main_build WHERE build_id = %s ORDER BY id",
        (build_id,),
    ).fetchall()


def count_builds(conn: psycopg.Connection) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {SCHEMA}.main_build").fetchone()[0])
