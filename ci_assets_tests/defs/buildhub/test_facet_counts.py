"""The stored facet counts (facet_counts.py) stay equal to a full count of the builds through every
kind of write — ingest batches, re-ingest of builds already stored, a backfill's batches from two
connections at once, a key migration's UPDATE, DELETE, TRUNCATE — and the page's facets and total
read from them equal what the engine counts over the builds for the same page."""

import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_assets.defs.buildhub import facet_counts, store
from ci_assets.defs.buildhub.documents import build_hash
from ci_assets.defs.buildhub.samples import make_document
from ci_assets.defs.buildhub.search.engine import search
from ci_assets.defs.buildhub.search.lucene_regexp import compile_pattern
from ci_assets.defs.buildhub.search.page import FACET_SIZE, FACETS, State, contains_pattern, request_body
from ci_assets.defs.buildhub.search.page import _answer as page_answer
from ci_assets_tests.services.databases import scratch_database

T = f"{store.SCHEMA}.main_build"
KEYS = ", ".join(facet_counts.DIMENSIONS.values())


@pytest.fixture(scope="module")
def dsn() -> Iterator[str]:
    with scratch_database("facet_counts") as dsn:
        with psycopg.connect(dsn) as conn:
            store.ensure_schema(conn)
        yield dsn


def _documents(seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [make_document(rng) for _ in range(count)]


def _new(documents: list[dict[str, Any]]) -> list[store.NewBuild]:
    return [store.NewBuild(build_hash(d), d, None, None) for d in documents]


def _equal_to_a_full_count(conn: psycopg.Connection) -> None:
    stored = conn.execute(
        f"SELECT {', '.join(facet_counts.DIMENSIONS)}, builds FROM {store.SCHEMA}.facet_counts WHERE builds <> 0"
    ).fetchall()
    full = conn.execute(f"SELECT {KEYS}, count(*) FROM {T} GROUP BY {KEYS}").fetchall()
    assert sorted(stored, key=repr) == sorted(full, key=repr)
    # Each value alone and each ordered pair of two facets' values, counted here in Python.
    names = facet_counts.FACETS
    builds = conn.execute(
        f"SELECT {', '.join(facet_counts.DIMENSIONS[f] for f in names)}, search_version_key FROM {T}"
    ).fetchall()
    expected: Counter[tuple[Any, ...]] = Counter()
    for row in builds:
        value = dict(zip(names, row, strict=False))
        key = {f: row[-1] if f == "version" else None for f in names}
        expected.update(("", None, f, value[f], key[f]) for f in names)
        expected.update((a, value[a], b, value[b], key[b]) for a in names for b in names if a != b)
    pairs = conn.execute(
        f"SELECT f1, v1, f2, v2, k2, builds FROM {store.SCHEMA}.facet_pairs WHERE builds <> 0"
    ).fetchall()
    assert {row[:5]: row[5] for row in pairs} == dict(expected)


WRITES = st.lists(
    st.one_of(
        st.tuples(st.just("ingest"), st.integers(0, 10**6), st.integers(1, 40)),
        st.tuples(st.just("re-ingest"), st.integers(0, 10), st.integers(0, 10**6)),
        st.tuples(st.just("delete"), st.integers(2, 5), st.integers(0, 4)),
        st.tuples(st.just("migrate"), st.integers(0, 3), st.integers(0, 0)),
        st.tuples(st.just("truncate"), st.integers(0, 0), st.integers(0, 0)),
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(WRITES)
def test_the_counts_equal_a_full_count_after_any_writes(dsn: str, writes: list[tuple[str, int, int]]) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {T}")
        seen: list[dict[str, Any]] = []
        for kind, a, b in writes:
            if kind == "ingest":
                batch = _documents(a, b)
                seen += batch
                store.insert_builds(conn, _new(batch))
            elif kind == "re-ingest":  # a batch mixing stored builds and new ones
                batch = random.Random(b).sample(seen, min(a, len(seen))) + _documents(b, 3)
                seen += batch
                store.insert_builds(conn, _new(batch))
            elif kind == "delete":
                conn.execute(f"DELETE FROM {T} WHERE id %% %s = %s", (a, b % a))
            elif kind == "migrate":  # a key layout's UPDATE, and a document corrected in place
                conn.execute(
                    f"UPDATE {T} SET search_version_key = search_version_key || %s WHERE id %% 3 = %s", ("x", a)
                )
                conn.execute(
                    f"""UPDATE {T} SET build = jsonb_set(build, '{{target,locale}}', '"de"') WHERE id % 4 = 0"""
                )
            else:
                conn.execute(f"TRUNCATE {T}")
            _equal_to_a_full_count(conn)


def test_a_backfill_writing_from_two_connections_at_once_is_counted_once(dsn: str) -> None:
    documents = _documents(11, 600)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {T}")

    def write(order: int) -> None:
        batch = documents if order == 0 else list(reversed(documents))
        with psycopg.connect(dsn) as conn:
            for start in range(0, len(batch), 50):
                store.insert_builds(conn, _new(batch[start : start + 50]))
                conn.commit()

    with ThreadPoolExecutor(2) as pool:
        for written in [pool.submit(write, n) for n in range(2)]:
            written.result()  # neither failed (a deadlock would)
    with psycopg.connect(dsn) as conn:
        assert conn.execute(f"SELECT sum(builds) FROM {store.SCHEMA}.facet_counts").fetchone() == (600,)
        _equal_to_a_full_count(conn)


def test_builds_stored_before_the_counts_existed_are_counted(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(f"TRUNCATE {T}")
        store.insert_builds(conn, _new(_documents(12, 50)))
        # The database as it was before the counts: no table, no triggers.
        conn.execute(f"DROP TABLE {store.SCHEMA}.facet_counts, {store.SCHEMA}.facet_pairs")
        for function in ("inserted", "deleted", "updated", "no"):
            conn.execute(f"DROP FUNCTION {store.SCHEMA}.count_{function}_builds() CASCADE")
        store.insert_builds(conn, _new(_documents(13, 20)))
        conn.commit()
    with psycopg.connect(dsn) as conn:
        store.ensure_schema(conn)
        conn.commit()
        _equal_to_a_full_count(conn)
        assert conn.execute(f"SELECT sum(builds) FROM {store.SCHEMA}.facet_counts").fetchone() == (70,)


def _states(documents: list[dict[str, Any]]) -> st.SearchStrategy[State]:
    def value(facet: str) -> st.SearchStrategy[str]:
        top, leaf = FACETS[facet].split(".")
        return st.sampled_from(sorted({d[top][leaf] for d in documents}))

    words = st.sampled_from(list(FACETS)).flatmap(value).map(lambda v: v[: max(1, len(v) // 2)])
    selected = st.dictionaries(
        st.sampled_from(list(FACETS)),
        st.sampled_from(list(FACETS)).flatmap(lambda f: st.lists(value(f), min_size=1, max_size=2).map(tuple)),
        max_size=3,
    )
    return st.builds(
        lambda q, sel, narrow: State(q=" ".join(q), selected=sel, narrow=narrow),
        st.lists(words | st.sampled_from(["nomatch", "FIREFOX", "6", "win"]), max_size=2),
        selected,
        st.dictionaries(st.sampled_from(["version", "locale"]), st.sampled_from(["1", "e", "b1", "U"]), max_size=1),
    )


def test_the_page_reads_from_the_counts_what_the_engine_counts(dsn: str) -> None:
    documents = _documents(21, 300)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {T}")
        store.insert_builds(conn, _new(documents))

        @settings(max_examples=150, deadline=None)
        @given(_states(documents))
        def same(state: State) -> None:
            words = state.q.split()
            assert facet_counts.answerable(conn, store.SCHEMA, words)
            keep = {n: compile_pattern(contains_pattern(t)) for n, t in state.narrow.items()}
            total, buckets = facet_counts.page_counts(
                conn, store.SCHEMA, list(FACETS), words, state.selected, keep, FACET_SIZE
            )
            engine = search(conn, request_body(state))
            assert total == engine["hits"]["total"]
            # The page's hits (its releases named to the engine when few builds match) are the engine's.
            shown, shown_total, _ = page_answer(conn, state)
            assert shown_total == total
            assert [h["_id"] for h in shown["hits"]["hits"]] == [h["_id"] for h in engine["hits"]["hits"]]
            for name in FACETS:
                expected = [(b["key"], b["doc_count"]) for b in engine["aggregations"][name]["values"]["buckets"]]
                assert buckets[name] == expected, name

        same()


def test_words_a_build_id_starts_with_are_counted_by_the_engine(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {T}")
        store.insert_builds(conn, _new(_documents(22, 20)))
        build_id = conn.execute(f"SELECT build_id FROM {T} LIMIT 1").fetchone()[0]
        assert not facet_counts.answerable(conn, store.SCHEMA, ["firefox", build_id[:6]])
        assert facet_counts.answerable(conn, store.SCHEMA, ["firefox", "%", "_"])
