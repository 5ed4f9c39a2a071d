"""Hypothesis strategies for the reference comparison: small corpora whose values collide (ties in
every sort, buckets of equal count, missing fields, integers that sort differently as text,
versions of every shape) and search bodies of the shapes SearchKit 2 sends and the API documents.

A query string is drawn as a tree (es_reference.QS) and rendered to Lucene text; the body keeps
the tree under `tree`, which `for_engine` strips before the engine sees the body."""

from __future__ import annotations

import copy
import re
from typing import Any

from hypothesis import strategies as st

from ci_assets_tests.defs.buildhub.es_reference import QS

VALUES: dict[str, list[Any]] = {
    "source.product": ["firefox", "devedition", "fennec", "thunderbird"],
    "source.tree": ["mozilla-release", "mozilla-beta", "mozilla-central"],
    "source.revision": ["a" * 40, "b1" * 20, "0c" * 20],
    "target.platform": ["linux-x86_64", "win64", "mac", "android-arm", "win32"],
    "target.os": ["linux", "win", "mac", "android"],
    "target.locale": ["en-US", "de", "fr", "ja-JP-mac"],
    "target.channel": ["release", "beta", "nightly", "esr", "aurora"],
    "target.version": [
        "60.0",
        "60.0.1",
        "60.1",
        "100.0",
        "61.0b4rc1",
        "60.0b10",
        "60.0b9",
        "99.0a1",
        "78.1.0esr",
        "9.0",
        "garbage",
        "",
        "7",
        "060.0",
        "60.0b4",
    ],
    "build.id": ["20190101000000", "20190101050000", "20181231235959", "20200229120000"],
    "build.number": [1, 2, 3, 10],
    "download.size": [9, 10, 100, 2, 55],
    "download.mimetype": ["application/x-tar", "application/zip"],
}
DATES = [
    "2019-01-01T00:00:00Z",
    "2019-01-01T05:00:00Z",
    "2018-12-31T23:59:59Z",
    "2020-02-29T12:00:00Z",
    "2019-01-31T23:59:59Z",
]
OPTIONAL = ["build.number", "source.tree", "source.revision", "build.id", "build.date"]
STRINGS = [n for n, v in VALUES.items() if isinstance(v[0], str)]
INTEGERS = ["build.number", "download.size"]
SORTABLE = ["target.version", "build.date", "download.date", "download.size", "source.product", "build.number"]
FACETS = ["source.product", "target.platform", "target.channel", "target.locale", "target.version", *INTEGERS]
SEARCH_FIELDS = ["source.product", "target.channel", "target.version", "target.locale", "target.platform", "build.id"]


@st.composite
def documents(draw: Any) -> dict[str, Any]:
    document: dict[str, Any] = {"build": {}, "source": {}, "target": {}, "download": {}}
    for name, pool in [*VALUES.items(), ("build.date", DATES), ("download.date", DATES)]:
        if name in OPTIONAL and draw(st.integers(0, 5)) == 0:
            continue
        top, leaf = name.split(".")
        document[top][leaf] = draw(st.sampled_from(pool))
    document["download"]["url"] = f"https://archive.mozilla.org/pub/{draw(st.integers(0, 10**6))}"
    return document


corpora = st.lists(documents(), min_size=2, max_size=25)


def _value(name: str) -> st.SearchStrategy[Any]:
    pool = DATES if name.endswith(".date") else VALUES[name]
    found = st.sampled_from(pool)
    if name in INTEGERS:  # Elasticsearch coerces a numeric string
        found = found | st.sampled_from(pool).map(str)
    return found


def _field(names: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(names)


def _date_bound() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(DATES),
        st.sampled_from(["2019-01-01", "2019-01-01T05:00:00", "2020-02-29"]),
        st.tuples(st.sampled_from(DATES), st.sampled_from(["", "+1d", "-1M", "/d", "/M", "+1y/y", "-2h/h", "/w"])).map(
            lambda t: f"{t[0]}||{t[1]}"
        ),
        st.sampled_from(["now", "now-8y/y", "now-5y", "now/d", "now-100y"]),
    )


@st.composite
def _range(draw: Any) -> dict[str, Any]:
    name = draw(_field(["build.date", "download.date", *INTEGERS, "target.platform", "build.id"]))
    ops = draw(st.lists(st.sampled_from(["gt", "gte", "lt", "lte"]), min_size=1, max_size=2, unique=True))
    bound = _date_bound() if name.endswith(".date") else _value(name)
    return {"range": {name: {op: draw(bound) for op in ops}}}


def _term_of(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    names = [*STRINGS, *INTEGERS]
    return _field(names).flatmap(
        lambda name: _value(name).map(
            lambda value: (
                {kind: {name: {"value" if kind == "term" else "query": value}}}
                if kind != "term" or isinstance(value, int)
                else {kind: {name: value}}
            )
        )
    )


_LEAVES = st.one_of(
    st.just({"match_all": {}}),
    _term_of("term"),
    _term_of("match"),
    _field(STRINGS).flatmap(lambda n: st.lists(_value(n), min_size=1, max_size=3).map(lambda v: {"terms": {n: v}})),
    _range(),
    _field(STRINGS).flatmap(lambda n: _value(n).map(lambda v: {"prefix": {n: str(v)[: max(1, len(str(v)) // 2)]}})),
    _field(STRINGS).flatmap(
        lambda n: _value(n).map(lambda v: {"wildcard": {n: re.sub(r"[0-9]", "?", str(v))[:-1] + "*"}})
    ),
    _field([*OPTIONAL, "source.product"]).map(lambda n: {"exists": {"field": n}}),
)


def _bool(children: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    parts = st.fixed_dictionaries(
        {},
        optional={
            "must": st.lists(children, max_size=2),
            "filter": st.lists(children, max_size=2) | children,
            "should": st.lists(children, max_size=3),
            "must_not": st.lists(children, max_size=2),
            "minimum_should_match": st.sampled_from([1, 2, -1, "50%"]),
        },
    )
    return parts.map(lambda body: {"bool": body})


clauses = st.recursive(_LEAVES, _bool, max_leaves=6)


# -- the search box -----------------------------------------------------------------------------
_SPECIAL = re.compile(r'([+\-=&|><!(){}\[\]^"~*?:\\/ ])')


def _escaped(text: str) -> str:
    return _SPECIAL.sub(r"\\\1", text)


def render(node: QS) -> str:
    if node.op == "phrase":
        body = node.value.replace("\\", "\\\\").replace('"', '\\"')
        return (f"{node.field}:" if node.field else "") + f'"{body}"'
    if node.op == "term":
        wild = "*" in node.value or "?" in node.value
        text = node.value if wild else _escaped(node.value)
        return (f"{node.field}:" if node.field else "") + text
    if node.op == "not":
        return f"NOT {render(node.children[0])}"
    if node.op in ("and", "or"):
        return "(" + f" {node.op.upper()} ".join(render(c) for c in node.children) + ")"
    return " ".join(render(c) for c in node.children)


def _word() -> st.SearchStrategy[QS]:
    named = st.sampled_from([None, None, *SEARCH_FIELDS])
    value = st.sampled_from(SEARCH_FIELDS).flatmap(_value).filter(lambda v: v != "").map(str)
    wild = value.map(lambda v: v[: max(1, len(v) // 2)] + "*")
    return st.one_of(
        st.builds(lambda f, v: QS("term", value=v, field=f), named, value),
        st.builds(lambda f, v: QS("term", value=v, field=f), named, wild),
        st.builds(lambda f, v: QS("phrase", value=v, field=f), named, value),
    )


def _combined(children: st.SearchStrategy[QS]) -> st.SearchStrategy[QS]:
    negated = children.map(lambda c: QS("not", [c]))
    return st.one_of(
        st.lists(children, min_size=2, max_size=3).map(lambda c: QS("or", c)),
        st.lists(children | negated, min_size=2, max_size=3).map(lambda c: QS("and", c)),
    )


_trees = st.recursive(_word(), _combined, max_leaves=4)
query_strings = st.lists(st.one_of(_trees, _trees.map(lambda c: QS("not", [c]))), min_size=1, max_size=3).map(
    lambda c: c[0] if len(c) == 1 else QS("implicit", c)
)


@st.composite
def query_string(draw: Any) -> dict[str, Any]:
    tree = draw(query_strings)
    body: dict[str, Any] = {"query": render(tree), "tree": tree}
    if draw(st.booleans()):  # Buildhub2's SearchBox: boosted fields, AND
        body |= {
            "fields": [*SEARCH_FIELDS[:1], "target.channel^1.2", "target.version^10", *SEARCH_FIELDS[3:]],
            "analyzer": "standard",
            "phrase_slop": 1,
            "auto_generate_phrase_queries": True,
            "analyze_wildcard": True,
            "lenient": True,
            "split_on_whitespace": True,
        }
    body["default_operator"] = draw(st.sampled_from(["and", "AND", "or"]))
    return {"query_string": body}


# -- aggregations ------------------------------------------------------------------------------
def _pattern() -> st.SearchStrategy[str]:
    """Lucene regular expressions meaning the same in Python's `re` (fullmatch), SearchKit's among them."""
    return st.sampled_from(
        [".*", "60.*", "6.*", "[fF][iI].*", "(win|mac).*", "[0-9]+\\.0", "de|fr", "w?in.*", "en-US", "1.+", "[^e].*"]
    )


@st.composite
def terms(draw: Any) -> dict[str, Any]:
    name = draw(_field(FACETS))
    body: dict[str, Any] = {"field": name}
    if draw(st.booleans()):
        body["size"] = draw(st.integers(1, 6))
    if draw(st.booleans()):
        body["order"] = {draw(st.sampled_from(["_count", "_term", "_key"])): draw(st.sampled_from(["asc", "desc"]))}
    if draw(st.integers(0, 3)) == 0:
        body["min_doc_count"] = draw(st.sampled_from([0, 1, 2]))
    for key in ("include", "exclude"):
        if draw(st.integers(0, 3)) == 0:
            if name in INTEGERS or draw(st.booleans()):
                body[key] = draw(st.lists(_value(name), min_size=1, max_size=3))
            else:
                body[key] = draw(_pattern())
    return {"terms": body}


def _sort_item() -> st.SearchStrategy[Any]:
    return st.one_of(
        _field(SORTABLE),
        st.tuples(_field(SORTABLE), st.sampled_from(["asc", "desc"])).map(lambda t: {t[0]: t[1]}),
        st.tuples(_field(SORTABLE), st.sampled_from(["asc", "desc"])).map(lambda t: {t[0]: {"order": t[1]}}),
    )


def _top_hits() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"size": st.integers(0, 3)},
        optional={"sort": st.lists(_sort_item(), max_size=2), "_source": st.sampled_from([False, ["target.*"]])},
    ).map(lambda body: {"top_hits": body})


_METRICS = st.one_of(terms(), _field(FACETS).map(lambda n: {"cardinality": {"field": n}}), _top_hits())


def _facet() -> st.SearchStrategy[dict[str, Any]]:
    """SearchKit's facet: a filter bucket holding terms and a cardinality of one field."""
    return st.tuples(clauses, terms()).map(
        lambda t: {
            "filter": t[0],
            "aggs": {"terms": t[1], "count": {"cardinality": {"field": t[1]["terms"]["field"]}}},
        }
    )


aggregations = st.dictionaries(
    st.sampled_from(["a", "b", "c", "no_filters_top_hits"]),
    st.one_of(_METRICS, _facet(), st.tuples(clauses, _METRICS).map(lambda t: {"filter": t[0], "aggs": {"x": t[1]}})),
    max_size=3,
)


_SOURCES = st.sampled_from(
    [
        False,
        True,
        "target.*",
        ["source.product", "target.version"],
        {"includes": ["target"], "excludes": ["target.locale"]},
        {"excludes": ["download", "build.*"]},
        {"includes": ["nothing.here"]},
    ]
)


bodies = st.fixed_dictionaries(
    {},
    optional={
        "query": st.one_of(clauses, query_string()),
        "post_filter": clauses,
        "sort": st.lists(_sort_item(), max_size=3),
        "size": st.integers(0, 12),
        "from": st.integers(0, 20),
        "_source": _SOURCES,
        "aggs": aggregations,
    },
)


def for_engine(body: Any) -> Any:
    """The body as a client sends it: the query strings' trees removed."""
    if isinstance(body, dict):
        return {k: for_engine(v) for k, v in body.items() if k != "tree"}
    if isinstance(body, list):
        return [for_engine(v) for v in body]
    return copy.copy(body)
