"""Buildhub's PostgreSQL table: the builds (Buildhub2's `main_build`).

The keys of discovered buildhub.json files live in the platform's key inventory
(lib/inventory.py, system "buildhub"): what a day's partition holds, and the key+ETag cache
that spares downloading an unchanged object again.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from ci_assets.defs.buildhub import facet_counts
from ci_assets.defs.buildhub.versions import KEY_SCHEME, sortable
from ci_assets.lib.inventory import KeyInventory

SCHEMA = "buildhub"

# buildhub.json path -> a stored generated column holding it, for the search's hot fields.
SEARCH_COLUMNS: dict[tuple[str, ...], str] = {
    ("source", "product"): "search_product",
    ("target", "channel"): "search_channel",
    ("target", "version"): "search_version",
    ("target", "platform"): "search_platform",
    ("target", "locale"): "search_locale",
    ("download", "date"): "search_download_date",
    ("build", "date"): "search_build_date",
    ("build", "id"): "build_id",  # the table's own column (below), the same value
}


# buildhub.json path -> a column that sorts it as its users expect (written on insert, from
# mozilla-version's order: 100.0 after 99.0, 60.0b3 before 60.0).
ORDER_COLUMNS: dict[tuple[str, ...], str] = {("target", "version"): "search_version_key"}


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
-- Equality and prefix (the search box's words) on build ids, whatever the database's collation.
DROP INDEX IF EXISTS {SCHEMA}.main_build_build_id;
CREATE INDEX IF NOT EXISTS main_build_build_id_prefix ON {SCHEMA}.main_build (build_id text_pattern_ops);
CREATE INDEX IF NOT EXISTS main_build_s3_object_key ON {SCHEMA}.main_build (s3_object_key);
-- What /api/search needs in place of Elasticsearch: containment for any field (GIN), and
-- plain columns with B-tree indexes for the fields the UI filters, facets and sorts on.
CREATE INDEX IF NOT EXISTS main_build_build_paths ON {SCHEMA}.main_build USING gin (build jsonb_path_ops);
{_search_columns_ddl()}
ALTER TABLE {SCHEMA}.main_build ADD COLUMN IF NOT EXISTS search_version_key text COLLATE "C";
-- The key is compared bytewise (versions.py), whatever the database's collation.
DO $$ BEGIN
    IF (SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation
        WHERE a.attrelid = '{SCHEMA}.main_build'::regclass AND a.attname = 'search_version_key') <> 'C' THEN
        ALTER TABLE {SCHEMA}.main_build ALTER COLUMN search_version_key TYPE text COLLATE "C";
    END IF;
END $$;
-- Every column the search box, the facets and their counts read, in one index: a search counts
-- its matches and facets by an index-only scan (a tenth of the table's size), never the documents.
DROP INDEX IF EXISTS {SCHEMA}.main_build_facets;
CREATE INDEX IF NOT EXISTS main_build_search ON {SCHEMA}.main_build
    (search_product, search_channel, search_version text_pattern_ops)
    INCLUDE (search_platform, search_locale, build_id, search_version_key);
-- The page's orders, newest first, so its first page is the first rows of an index.
DROP INDEX IF EXISTS {SCHEMA}.main_build_download_date;
DROP INDEX IF EXISTS {SCHEMA}.main_build_version_key;
CREATE INDEX IF NOT EXISTS main_build_newest_published ON {SCHEMA}.main_build
    (search_download_date DESC NULLS LAST, id DESC);
CREATE INDEX IF NOT EXISTS main_build_newest_built ON {SCHEMA}.main_build
    (search_build_date DESC NULLS LAST, id DESC);
CREATE INDEX IF NOT EXISTS main_build_newest_version ON {SCHEMA}.main_build
    (search_version_key DESC NULLS LAST, id DESC);
CREATE INDEX IF NOT EXISTS main_build_platform ON {SCHEMA}.main_build (search_platform);
"""


INVENTORY = KeyInventory("buildhub")
# main_build's columns as the UI shows them (the DDL above is the table).
MAIN_BUILD_COLUMNS = {
    "id": "bigserial",
    "build_hash": "varchar(45)",
    "build": "jsonb (a buildhub.json document)",
    "metadata": "jsonb",
    "created_at": "timestamptz",
    "s3_object_key": "varchar(400)",
    "s3_object_etag": "varchar(400)",
    "build_id": "text (build.id)",
}


def ensure_schema(conn: psycopg.Connection) -> None:
    # Two runs may start at once on a fresh database; serialise the DDL.
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('ci_assets.buildhub.ddl'))")
    conn.execute(DDL)
    conn.execute(facet_counts.ddl(SCHEMA))
    INVENTORY.ensure_schema(conn)
    _fill_version_keys(conn)


def _fill_version_keys(conn: psycopg.Connection) -> None:
    """Rows stored before the column existed, or under another key layout, get their key (once:
    afterwards none is missing or stale)."""
    prefix = f"{KEY_SCHEME}."
    stale = sql.SQL("(search_version_key IS NULL OR left(search_version_key, {}) <> {})").format(
        sql.Literal(len(prefix)), sql.Literal(prefix)
    )
    missing = conn.execute(
        sql.SQL("SELECT DISTINCT search_version FROM {}.main_build WHERE search_version IS NOT NULL AND {}").format(
            sql.Identifier(SCHEMA), stale
        )
    ).fetchall()
    if missing:
        versions = [v for (v,) in missing]
        conn.execute(
            sql.SQL(
                "UPDATE {}.main_build AS b SET search_version_key = k.key "
                "FROM unnest(%s::text[], %s::text[]) AS k(version, key) WHERE b.search_version = k.version AND {}"
            ).format(sql.Identifier(SCHEMA), stale),
            (versions, [sortable(v) for v in versions]),
        )


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
        INSERT INTO {SCHEMA}.main_build
            (build_hash, build, metadata, s3_object_key, s3_object_etag, search_version_key)
        SELECT h, b::jsonb, m, k, e, v
        FROM unnest(%s::varchar[], %s::text[], %s::jsonb[], %s::varchar[], %s::varchar[], %s::text[])
            AS u(h, b, m, k, e, v)
        ON CONFLICT (build_hash) DO NOTHING
        RETURNING build_hash
        """,
        (
            [b.build_hash for b in batch],
            [b.json_text() for b in batch],
            [Jsonb(b.metadata) for b in batch],
            [b.s3_object_key for b in batch],
            [b.s3_object_etag for b in batch],
            [_version_key(b.build) for b in batch],
        ),
    ).fetchall()
    return {r[0] for r in rows}


def _version_key(build: dict[str, Any]) -> str | None:
    target = build.get("target")
    version = target.get("version") if isinstance(target, dict) else None
    return sortable(version) if isinstance(version, str) else None


def build_ids_of_keys(conn: psycopg.Connection, keys: Sequence[str]) -> set[str]:
    """The build ids of the builds stored from `keys`."""
    if not keys:
        return set()
    rows = conn.execute(
        f"SELECT DISTINCT build_id FROM {SCHEMA}.main_build WHERE s3_object_key = ANY(%s) AND build_id IS NOT NULL",
        (list(keys),),
    ).fetchall()
    return {r[0] for r in rows}


def builds_with_id(conn: psycopg.Connection, build_id: str) -> list[tuple[str, dict[str, Any], str | None]]:
    return conn.execute(
        f"SELECT build_hash, build, s3_object_key FROM {SCHEMA}.main_build WHERE build_id = %s ORDER BY id",
        (build_id,),
    ).fetchall()


def count_builds(conn: psycopg.Connection) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {SCHEMA}.main_build").fetchone()[0])


@dataclasses.dataclass(frozen=True)
class StoredBuild:
    build_hash: str
    document: dict[str, Any]
    s3_object_key: str | None


def build_by_hash(conn: psycopg.Connection, build_hash: str) -> StoredBuild | None:
    """The stored document whose hash is `build_hash` (the search's `_id`): what a permalink names,
    the same after the table is rebuilt."""
    found = conn.execute(
        f"SELECT build_hash, build, s3_object_key FROM {SCHEMA}.main_build WHERE build_hash = %s", (build_hash[:45],)
    ).fetchone()
    return StoredBuild(*found) if found else None


def hash_of_row(conn: psycopg.Connection, row_id: str) -> str | None:
    """The hash of the build at row `row_id`: the permalinks of before (`/builds/<row id>`) redirect
    while their row still holds that build."""
    if not row_id.isdigit() or len(row_id) > 18:
        return None
    found = conn.execute(f"SELECT build_hash FROM {SCHEMA}.main_build WHERE id = %s", (int(row_id),)).fetchone()
    return found[0] if found else None
