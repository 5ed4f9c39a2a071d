"""One version order for every string, held to a reference comparator written plainly here: where
mozilla-version reads both versions, its own comparison (a build number it leaves out counting as
0); otherwise each string read as Firefox
names versions (numbers, a < b < rc < release < esr, then the rest naturally). The stored key
(`sortable`, compared bytewise as the `COLLATE "C"` column does) must order any pair as the
reference does, in Python and in PostgreSQL, and the search's sort and facets follow it."""

import functools
import itertools
import random
import re
from typing import Any

import psycopg
from hypothesis import given, settings
from hypothesis import strategies as st
from mozilla_version.errors import PatternNotMatchedError
from mozilla_version.gecko import GeckoVersion

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.documents import build_hash
from ci_assets.defs.buildhub.samples import make_document
from ci_assets.defs.buildhub.search.engine import search
from ci_assets.defs.buildhub.versions import sortable
from ci_assets_tests.services.databases import scratch_database

STAGE_ORDER = {"a": 1, "b": 3, "rc": 4, "": 5, "esr": 6}


def _mozilla(text: str) -> GeckoVersion | None:
    try:
        return GeckoVersion.parse(text)
    except (PatternNotMatchedError, ValueError, TypeError):
        return None


def _plain(text: str) -> tuple[Any, ...]:
    """The string as Firefox names versions, read by hand: up to four dotted numbers (missing ones
    are 0), a stage and its number, then the rest with digits as numbers (before text)."""
    cap = 10**12 - 1
    pattern = r"\s*[vV]?([0-9]+(?:\.[0-9]+){0,3})(?:([aA]|[bB]|[rR][cC])([0-9]*))?([eE][sS][rR])?"
    found = re.match(pattern, text, re.ASCII)
    if not found:
        numbers, stage, count, rest = [], "", 0, text
    else:
        numbers = [min(int(n), cap) for n in found.group(1).split(".")]
        stage = "esr" if found.group(4) else (found.group(2) or "").lower()
        count, rest = min(int(found.group(3) or 0), cap), text[found.end() :]
    rest = "".join(c for c in rest if ord(c) >= 0x20)
    pieces = [c for c in re.split(r"([0-9]+)", rest) if c]
    chunks = tuple((0, min(int(c), cap)) if c.isascii() and c.isdigit() else (1, c) for c in pieces)
    return (*(numbers + [0] * (4 - len(numbers))), STAGE_ORDER[stage], count, 0, chunks)


def _of_readable(version: GeckoVersion) -> tuple[Any, ...]:
    numbers = [version.major_number, version.minor_number, version.patch_number or 0, version.old_fourth_number or 0]
    count = 0 if version.version_type.value == 2 else (version.beta_number or version.release_candidate_number or 0)
    return (*numbers, version.version_type.value, count, version.build_number or 0, ())


def reference(a: str, b: str) -> int:
    ma, mb = _mozilla(a), _mozilla(b)
    if ma is not None and mb is not None:
        # mozilla-version's own order; a build number it leaves out of the comparison counts as 0
        found = (ma > mb) - (ma < mb)
        return found or ((ma.build_number or 0) > (mb.build_number or 0)) - (
            (ma.build_number or 0) < (mb.build_number or 0)
        )
    ka = _of_readable(ma) if ma is not None else _plain(a)
    kb = _of_readable(mb) if mb is not None else _plain(b)
    return (ka > kb) - (ka < kb)


def bytewise(a: str, b: str) -> int:
    ka, kb = sortable(a).encode(), sortable(b).encode()
    return (ka > kb) - (ka < kb)


READABLE = st.builds(
    lambda major, minor, patch, kind, n: f"{major}.{minor}{f'.{patch}' if patch else ''}{kind.format(n=n)}",
    st.integers(1, 140),
    st.integers(0, 3),
    st.integers(0, 12),
    st.sampled_from(["", "b{n}", "a1", "a2", "esr", "build{n}"]),
    st.integers(1, 15),
).filter(lambda v: _mozilla(v) is not None)
VERSION_LIKE = r"[0-9]{0,4}(\.[0-9]{1,3}){0,4}(a|b|rc|esr|build|-|\.|[a-z]{1,3})?[0-9]{0,3}[a-z.]{0,4}"
ODD = st.one_of(
    st.sampled_from(["61.0b4rc1", "60.1", "060.0", "100", "", "abc", "60.0rc1", "v60.0", "60.0-beta", "60.0 esr"]),
    st.sampled_from(["\u00b9", "\u0663.\u0660", "60.0\u2003b1", "1.0build2", "3.6.28build2", "60.0\x1fb"]),
    st.from_regex(VERSION_LIKE, fullmatch=True),
    st.text(max_size=40),
    st.text(alphabet="0123456789.abrcesr", max_size=200),
)
VERSIONS = st.one_of(READABLE, ODD)


@given(VERSIONS, VERSIONS)
def test_the_stored_key_orders_any_two_versions_as_the_reference(a: str, b: str) -> None:
    assert bytewise(a, b) == reference(a, b), (a, b, sortable(a), sortable(b))


def test_the_orders_the_issue_names() -> None:
    ordered = ["60.0b3", "60.0", "60.0.1", "60.1", "60.1.0esr", "61.0b4", "61.0b4rc1", "61.0b5", "99.0", "100.0"]
    assert sorted(reversed(ordered), key=functools.cmp_to_key(bytewise)) == ordered


@settings(max_examples=15, deadline=None)
@given(st.lists(VERSIONS.filter(lambda v: "\x00" not in v), min_size=2, max_size=25, unique=True))
def test_the_search_sorts_and_counts_versions_in_that_order(versions: list[str]) -> None:
    """Stored with builds, the versions come back from the search's sort and from its version
    facet (ordered by key) in the reference's order."""
    rng, expected = random.Random(7), sorted(versions, key=functools.cmp_to_key(reference), reverse=True)
    documents = []
    for version in versions:
        document = make_document(rng)
        document["target"]["version"] = version
        documents.append(document)
    with scratch_database("versions_order") as dsn, psycopg.connect(dsn) as conn:
        store.ensure_schema(conn)
        store.insert_builds(conn, [store.NewBuild(build_hash(d), d, None, None) for d in documents])
        body = {"size": 100, "sort": [{"target.version": "desc"}]}
        body["aggs"] = {"v": {"terms": {"field": "target.version", "size": 100, "order": {"_key": "desc"}}}}
        answer = search(conn, body)
    by_sort = [h["_source"]["target"]["version"] for h in answer["hits"]["hits"]]
    by_facet = [b["key"] for b in answer["aggregations"]["v"]["buckets"]]
    for found in (by_sort, by_facet):
        assert all(reference(x, y) >= 0 for x, y in itertools.pairwise(found)), found
        assert sorted(found) == sorted(expected)


def test_keys_of_another_layout_are_computed_again_and_compared_bytewise(postgres_dsn: str) -> None:
    """A store filled before this order (keys of the old layout, a column in the database's own
    collation) is brought to it when its schema is ensured."""
    documents = [make_document(random.Random(n)) for n in range(5)]
    with psycopg.connect(postgres_dsn) as conn:
        store.ensure_schema(conn)
        conn.execute(f"TRUNCATE {store.SCHEMA}.main_build")
        store.insert_builds(conn, [store.NewBuild(build_hash(d), d, None, None) for d in documents])
        table = f"{store.SCHEMA}.main_build"
        conn.execute(f'ALTER TABLE {table} ALTER COLUMN search_version_key TYPE text COLLATE "default"')
        conn.execute(f"UPDATE {store.SCHEMA}.main_build SET search_version_key = '000060.000000.x'")
        store.ensure_schema(conn)
        rows = conn.execute(f"SELECT search_version, search_version_key FROM {store.SCHEMA}.main_build").fetchall()
        [(collation,)] = conn.execute(
            "SELECT c.collname FROM pg_attribute a JOIN pg_collation c ON c.oid = a.attcollation "
            f"WHERE a.attrelid = '{store.SCHEMA}.main_build'::regclass AND a.attname = 'search_version_key'"
        ).fetchall()
    assert all(key == sortable(version) for version, key in rows) and len(rows) == 5
    assert collation == "C"
