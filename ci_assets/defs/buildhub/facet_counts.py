"""The builds counted by their facet values, so the search page never counts millions of rows.

`facet_counts` holds one row per combination of product, channel, version (with its sort key),
platform and locale that stored builds have, and how many builds have it. Triggers on
`main_build` keep it exact whatever writes the table — an ingest, a re-ingest (a build already
stored is not inserted, so not counted), a backfill, a key migration's UPDATE, a DELETE, a
TRUNCATE — in the writing statement's own transaction. A page whose search box holds nothing, or
only words that match facet values (no build id starts with them), reads its facets and total
from here: at Buildhub's size a few thousand rows instead of two million.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import sql

# facet -> (main_build's column, facet_counts' column)
DIMENSIONS = {
    "product": "search_product",
    "channel": "search_channel",
    "version": "search_version",
    "version_key": "search_version_key",
    "platform": "search_platform",
    "locale": "search_locale",
}
_KEYS = ", ".join(DIMENSIONS)
_SOURCES = ", ".join(DIMENSIONS.values())


def _apply(schema: str, rows: str, sign: str) -> str:
    """Add (or take away) the builds of transition table `rows` to their combinations' counts."""
    return f"""
        INSERT INTO {schema}.facet_counts AS f ({_KEYS}, builds)
        SELECT {_SOURCES}, {sign}count(*) FROM {rows} GROUP BY {_SOURCES} ORDER BY {_SOURCES}
        ON CONFLICT ({_KEYS}) DO UPDATE SET builds = f.builds + excluded.builds;"""


def ddl(schema: str) -> str:
    """The table, its triggers, and its first fill from the builds already stored (run under the
    store's DDL lock, with the builds table locked against writes while it is filled)."""
    return f"""
DO $$ BEGIN
IF to_regclass('{schema}.facet_counts') IS NULL THEN
    LOCK TABLE {schema}.main_build IN SHARE ROW EXCLUSIVE MODE;
    CREATE TABLE {schema}.facet_counts (
        product text, channel text, version text, version_key text COLLATE "C", platform text, locale text,
        builds bigint NOT NULL,
        UNIQUE NULLS NOT DISTINCT ({_KEYS})
    );
    INSERT INTO {schema}.facet_counts ({_KEYS}, builds)
        SELECT {_SOURCES}, count(*) FROM {schema}.main_build GROUP BY {_SOURCES};
END IF;
END $$;
CREATE OR REPLACE FUNCTION {schema}.count_inserted_builds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_apply(schema, "new_rows", "")} RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION {schema}.count_deleted_builds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_apply(schema, "old_rows", "-")} RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION {schema}.count_updated_builds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_apply(schema, "old_rows", "-")} {_apply(schema, "new_rows", "")} RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION {schema}.count_no_builds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN TRUNCATE {schema}.facet_counts; RETURN NULL; END $$;
CREATE OR REPLACE TRIGGER facet_counts_insert AFTER INSERT ON {schema}.main_build
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {schema}.count_inserted_builds();
CREATE OR REPLACE TRIGGER facet_counts_delete AFTER DELETE ON {schema}.main_build
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {schema}.count_deleted_builds();
CREATE OR REPLACE TRIGGER facet_counts_update AFTER UPDATE ON {schema}.main_build
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.count_updated_builds();
CREATE OR REPLACE TRIGGER facet_counts_truncate AFTER TRUNCATE ON {schema}.main_build
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.count_no_builds();
"""


def escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def answerable(conn: psycopg.Connection, schema: str, words: Sequence[str]) -> bool:
    """Whether a search box holding `words` (each a prefix of a facet value or of a build id) can be
    counted here: no build id starts with any of them."""
    if not words:
        return True
    # Each pattern a literal, so the planner reads its prefix and walks the build ids' index.
    exists = [
        sql.SQL("EXISTS (SELECT 1 FROM {}.main_build WHERE build_id LIKE {})").format(
            sql.Identifier(schema), sql.Literal(escape_like(w) + "%")
        )
        for w in words
    ]
    found = conn.execute(sql.SQL("SELECT {}").format(sql.SQL(" OR ").join(exists))).fetchone()
    return not (found and found[0])


Buckets = list[tuple[str, int]]


def page_counts(
    conn: psycopg.Connection,
    schema: str,
    facets: Sequence[str],
    words: Sequence[str],
    selected: Mapping[str, Sequence[str]],
    keep: Mapping[str, Callable[[str], bool]],
    size: int,
) -> tuple[int, dict[str, Buckets]]:
    """The builds the page finds, and each facet's first `size` values (those `keep` passes) with
    their counts under the words and the other facets' selections — what the engine answers for the
    page's request, read from the counts. Versions come newest first, the rest by count."""
    params: list[Any] = []

    def selection(leave_out: str | None) -> sql.Composable:
        parts = [sql.SQL("true")]
        for name, values in selected.items():
            if name != leave_out and values:
                parts.append(sql.SQL("{} = ANY(%s::text[])").format(sql.Identifier(name)))
                params.append(list(values))
        return sql.SQL(" AND ").join(parts)

    columns = [sql.Identifier(f) for f in facets]
    sums = [sql.SQL("sum(builds) FILTER (WHERE {})").format(selection(None))]
    sums += [sql.SQL("sum(builds) FILTER (WHERE {})").format(selection(f)) for f in facets]
    matches = [sql.SQL("true")]
    for word in words:
        matches.append(sql.SQL("({})").format(sql.SQL(" OR ").join(sql.SQL("{} LIKE %s").format(c) for c in columns)))
        params.extend([escape_like(word) + "%"] * len(columns))
    statement = sql.SQL(
        "SELECT GROUPING({columns}), {columns}, max(version_key), {sums} FROM {schema}.facet_counts "
        "WHERE builds > 0 AND {matches} GROUP BY GROUPING SETS ((), {sets})"
    ).format(
        columns=sql.SQL(", ").join(columns),
        sums=sql.SQL(", ").join(sums),
        schema=sql.Identifier(schema),
        matches=sql.SQL(" AND ").join(matches),
        sets=sql.SQL(", ").join(sql.SQL("({})").format(c) for c in columns),
    )
    total, found = 0, {f: [] for f in facets}
    full = (1 << len(facets)) - 1
    for row in conn.execute(statement, params):
        mark, keys, rank, counts = row[0], row[1 : 1 + len(facets)], row[1 + len(facets)], row[2 + len(facets) :]
        if mark == full:
            total = int(counts[0] or 0)
            continue
        index = next(i for i in range(len(facets)) if not mark & (1 << (len(facets) - 1 - i)))
        facet, key, count = facets[index], keys[index], counts[1 + index]
        if key is not None and count and (facet not in keep or keep[facet](key)):
            found[facet].append((key, int(count), rank))
    buckets: dict[str, Buckets] = {}
    for facet, rows in found.items():
        # The engine's orders: count down, then the value bytewise; a version by its release key down.
        if facet == "version":
            rows.sort(key=lambda r: (r[2] or "", r[0]), reverse=True)
        else:
            rows.sort(key=lambda r: (-r[1], r[0]))
        buckets[facet] = [(key, count) for key, count, _ in rows[:size]]
    return total, buckets
