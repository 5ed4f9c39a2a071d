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

from ci_assets.defs.buildhub.search.sql_text import escape_like

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
FACETS = ("product", "channel", "version", "platform", "locale")


def _pairs(rows: str) -> str:
    """Each build of `rows` as its facet values alone (f1 = '') and as each ordered pair of two
    facets' values: (f1, v1, f2, v2, k2), k2 the version's sort key where f2 is the version."""

    def value(facet: str) -> str:
        return f"r.{DIMENSIONS[facet]}"

    def key(facet: str) -> str:
        return "r.search_version_key" if facet == "version" else "NULL"

    tuples = [f"('', NULL, '{f}', {value(f)}, {key(f)})" for f in FACETS]
    tuples += [f"('{a}', {value(a)}, '{b}', {value(b)}, {key(b)})" for a in FACETS for b in FACETS if a != b]
    return f"{rows} AS r CROSS JOIN LATERAL (VALUES {', '.join(tuples)}) AS p(f1, v1, f2, v2, k2)"


def _apply(schema: str, rows: str, sign: str) -> str:
    """Add (or take away) the builds of transition table `rows` to their combinations' counts and
    to their values' and pairs of values' counts."""
    return f"""
        INSERT INTO {schema}.facet_counts AS f ({_KEYS}, builds)
        SELECT {_SOURCES}, {sign}count(*) FROM {rows} GROUP BY {_SOURCES} ORDER BY {_SOURCES}
        ON CONFLICT ({_KEYS}) DO UPDATE SET builds = f.builds + excluded.builds;
        INSERT INTO {schema}.facet_pairs AS f (f1, v1, f2, v2, k2, builds)
        SELECT f1, v1, f2, v2, k2, {sign}count(*) FROM {_pairs(rows)}
        GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (f1, v1, f2, v2, k2) DO UPDATE SET builds = f.builds + excluded.builds;"""


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
IF to_regclass('{schema}.facet_pairs') IS NULL THEN
    LOCK TABLE {schema}.main_build IN SHARE ROW EXCLUSIVE MODE;
    CREATE TABLE {schema}.facet_pairs (
        f1 text NOT NULL, v1 text, f2 text NOT NULL, v2 text, k2 text COLLATE "C", builds bigint NOT NULL,
        UNIQUE NULLS NOT DISTINCT (f1, v1, f2, v2, k2)
    );
    INSERT INTO {schema}.facet_pairs (f1, v1, f2, v2, k2, builds)
        SELECT f1, v1, f2, v2, k2, count(*) FROM {_pairs(schema + ".main_build")} GROUP BY 1, 2, 3, 4, 5;
END IF;
END $$;
CREATE OR REPLACE FUNCTION {schema}.count_inserted_builds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_apply(schema, "new_rows", "")} RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION {schema}.count_deleted_builds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_apply(schema, "old_rows", "-")} RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION {schema}.count_updated_builds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN {_apply(schema, "old_rows", "-")} {_apply(schema, "new_rows", "")} RETURN NULL; END $$;
CREATE OR REPLACE FUNCTION {schema}.count_no_builds() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN TRUNCATE {schema}.facet_counts, {schema}.facet_pairs; RETURN NULL; END $$;
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
    page's request, read from the counts. Versions come newest first, the rest by count. The page
    as it opens and a page with one facet chosen (most visits) read the values' and pairs' counts;
    the others the combinations'."""
    chosen = {name: list(values) for name, values in selected.items() if values}
    if not words and len(chosen) <= 1:
        total, found = _from_pairs(conn, schema, facets, chosen)
    elif len(words) == 1 and not chosen and (within := _one_facet_starting(conn, schema, words[0])) is not False:
        # One word, and only one facet has values it starts: the word chooses those values (its own
        # facet's counts included), or finds nothing.
        total, found = _from_pairs(conn, schema, facets, dict([within]), own_too=True) if within else (0, {})
    else:
        total, found = _from_combinations(conn, schema, facets, words, chosen)
    return total, {facet: _ranked(facet, found.get(facet, []), keep.get(facet), size) for facet in facets}


Found = dict[str, list[tuple[str, int, Any]]]  # facet -> (value, count, its sort key)


def _ranked(facet: str, rows: list[tuple[str, int, Any]], keep: Callable[[str], bool] | None, size: int) -> Buckets:
    """The engine's orders: count down, then the value bytewise; a version by its release key down."""
    rows = [r for r in rows if r[0] is not None and r[1] and (keep is None or keep(r[0]))]
    if facet == "version":
        rows.sort(key=lambda r: (r[2] or "", r[0]), reverse=True)
    else:
        rows.sort(key=lambda r: (-r[1], r[0]))
    return [(key, count) for key, count, _ in rows[:size]]


def _one_facet_starting(conn: psycopg.Connection, schema: str, word: str) -> tuple[str, list[str]] | bool | None:
    """The one facet with values that `word` starts, and those values; None if no facet has any;
    False if several do."""
    rows = conn.execute(
        sql.SQL(
            "SELECT f2, array_agg(v2) FROM {}.facet_pairs WHERE f1 = '' AND builds > 0 AND v2 LIKE %s GROUP BY f2"
        ).format(sql.Identifier(schema)),
        (escape_like(word) + "%",),
    ).fetchall()
    if len(rows) > 1:
        return False
    return (rows[0][0], list(rows[0][1])) if rows else None


def _from_pairs(
    conn: psycopg.Connection,
    schema: str,
    facets: Sequence[str],
    chosen: Mapping[str, list[str]],
    own_too: bool = False,
) -> tuple[int, Found]:
    """At most one facet chosen: each facet's counts alone, and the other facets' counts beside the
    chosen values, from `facet_pairs` (a few thousand rows by its index). `own_too`: the choice
    narrows its own facet's counts as well (a word's, not a selection's)."""
    ((facet, values),) = chosen.items() if chosen else [(None, [])]
    rows = conn.execute(
        sql.SQL(
            "SELECT f2, v2, max(k2), sum(builds) FILTER (WHERE f1 = ''), sum(builds) FILTER (WHERE f1 <> '') "
            "FROM {}.facet_pairs WHERE f1 = '' OR (f1 = %s AND v1 = ANY(%s::text[])) GROUP BY f2, v2"
        ).format(sql.Identifier(schema)),
        (facet or "", values),
    ).fetchall()
    found: Found = {f: [] for f in facets}
    total = 0
    for f2, value, rank, alone, beside in rows:
        if facet is None and f2 == facets[0]:
            total += int(alone or 0)  # every build counted once under the first facet, its value or none
        elif f2 == facet and value in values:
            total += int(alone or 0)
        if f2 in found and not (own_too and f2 == facet and value not in values):
            found[f2].append((value, int((alone if facet in (None, f2) else beside) or 0), rank))
    return total, found


class _Conditions:
    """The SQL conditions of a page's words and chosen values over `facet_counts`, with their
    parameters in order."""

    def __init__(self, facets: Sequence[str], words: Sequence[str], chosen: Mapping[str, list[str]]):
        self.facets, self.words, self.chosen = facets, words, chosen
        self.params: list[Any] = []

    def selection(self, leave_out: str | None = None) -> sql.Composable:
        parts = [sql.SQL("true")]
        for name, values in self.chosen.items():
            if name != leave_out:
                parts.append(sql.SQL("{} = ANY(%s::text[])").format(sql.Identifier(name)))
                self.params.append(values)
        return sql.SQL(" AND ").join(parts)

    def matches(self) -> sql.Composable:
        """Each word the start of some facet's value."""
        columns = [sql.Identifier(f) for f in self.facets]
        parts = [sql.SQL("builds > 0")]
        for word in self.words:
            parts.append(sql.SQL("({})").format(sql.SQL(" OR ").join(sql.SQL("{} LIKE %s").format(c) for c in columns)))
            self.params.extend([escape_like(word) + "%"] * len(columns))
        return sql.SQL(" AND ").join(parts)


def _from_combinations(
    conn: psycopg.Connection,
    schema: str,
    facets: Sequence[str],
    words: Sequence[str],
    chosen: Mapping[str, list[str]],
) -> tuple[int, Found]:
    where = _Conditions(facets, words, chosen)
    columns = [sql.Identifier(f) for f in facets]
    # Parameters bind in the statement's order: the sums' selections, then the words.
    sums = [sql.SQL("sum(builds) FILTER (WHERE {})").format(where.selection())]
    sums += [sql.SQL("sum(builds) FILTER (WHERE {})").format(where.selection(f)) for f in facets]
    statement = sql.SQL(
        "SELECT GROUPING({columns}), {columns}, max(version_key), {sums} FROM {schema}.facet_counts "
        "WHERE {matches} GROUP BY GROUPING SETS ((), {sets})"
    ).format(
        columns=sql.SQL(", ").join(columns),
        sums=sql.SQL(", ").join(sums),
        schema=sql.Identifier(schema),
        matches=where.matches(),
        sets=sql.SQL(", ").join(sql.SQL("({})").format(c) for c in columns),
    )
    total, found = 0, {f: [] for f in facets}
    full = (1 << len(facets)) - 1
    for row in conn.execute(statement, where.params):
        mark, keys, rank, counts = row[0], row[1 : 1 + len(facets)], row[1 + len(facets)], row[2 + len(facets) :]
        if mark == full:
            total = int(counts[0] or 0)
            continue
        index = next(i for i in range(len(facets)) if not mark & (1 << (len(facets) - 1 - i)))
        found[facets[index]].append((keys[index], int(counts[1 + index] or 0), rank))
    return total, found


def releases(
    conn: psycopg.Connection,
    schema: str,
    facets: Sequence[str],
    words: Sequence[str],
    selected: Mapping[str, Sequence[str]],
    limit: int,
) -> list[tuple[str, str, str]] | None:
    """The (product, channel, version) triples of the builds the page finds — at most `limit`, else
    None, and None if one lacks a value: a few of them name those builds by the store's index."""
    where = _Conditions(facets, words, {n: list(v) for n, v in selected.items() if v})
    matches = where.matches()
    statement = sql.SQL("SELECT DISTINCT product, channel, version FROM {} WHERE {} AND {} LIMIT {}").format(
        sql.Identifier(schema) + sql.SQL(".facet_counts"), matches, where.selection(), sql.Literal(limit + 1)
    )
    found = conn.execute(statement, where.params).fetchall()
    if len(found) > limit or any(None in row for row in found):
        return None
    return [tuple(row) for row in found]
