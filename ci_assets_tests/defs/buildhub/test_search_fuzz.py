"""The search API fuzzed with Elasticsearch 6 bodies: valid shapes (queries, aggregations, sort,
_source, highlight, suggest) carrying hostile values — NUL, lone surrogates, 1e400, NaN,
Infinity, huge integers, regex metacharacters, date math, long texts — and broken shapes. The
answer is always 200 with a well-formed response or 400 naming the problem, never a 500, and
the stored builds are the same afterwards."""

import json
import math
from typing import Any

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_assets.defs.buildhub.search.fields import fields
from ci_assets_tests.defs.buildhub.search_corpus import error, post

_TEXT = st.one_of(
    st.text(max_size=16),
    st.sampled_from(
        ["\x00", "a\x00b", "\ud800", "x\udfffy", "", " ", "[", "(", "*", "?", "\\", "'", '"', "%", "_", ".*",
         "a{99999}", "(a+)+$", "now-100y", "now/d", "now+1M/M", "2019-01-01||+1M", "nowhere", "1e400", "<script>",
         "é☃", "\n\t",
         "a" * 5000, "54", "firefox", "release", "en-US", "20190101000000", "'build.id:2019*"]
    ),
)  # fmt: skip
_NUMBER = st.one_of(
    st.integers(-(10**6), 10**6),
    st.sampled_from([math.inf, -math.inf, math.nan, 1e400, 10**400, 2**63, -(2**63) - 1, 1e-300, 1.5, -1, 0, 10**7]),
)
_VALUE = st.one_of(_TEXT, _NUMBER, st.booleans(), st.none())
_FIELD = st.one_of(
    st.sampled_from(sorted(fields())), st.sampled_from(["target.version.keyword", "nope.field", "", "build", "*"])
)
_OP = st.sampled_from(["gte", "gt", "lte", "lt", "format", "boost", "between"])


def _clause(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.builds(lambda f, v: {"term": {f: v}}, _FIELD, _VALUE),
        st.builds(lambda f, v: {"term": {f: {"value": v}}}, _FIELD, _VALUE),
        st.builds(lambda f, v: {"terms": {f: v}}, _FIELD, st.lists(_VALUE, max_size=4)),
        st.builds(lambda f, b: {"range": {f: b}}, _FIELD, st.dictionaries(_OP, _VALUE, max_size=2)),
        st.builds(lambda k, f, v: {k: {f: v}}, st.sampled_from(["prefix", "wildcard", "match"]), _FIELD, _VALUE),
        st.builds(lambda f: {"exists": {"field": f}}, _FIELD),
        st.builds(
            lambda k, q, op: {k: {"query": q, "default_operator": op}},
            st.sampled_from(["query_string", "simple_query_string"]),
            _TEXT,
            st.sampled_from(["and", "or", "xor"]),
        ),
        st.just({"match_all": {}}),
        st.builds(
            lambda k, qs: {"bool": {k: qs}},
            st.sampled_from(["must", "should", "must_not", "filter", "neither"]),
            st.lists(inner, max_size=3),
        ),
    )


_QUERY = st.recursive(st.just({"match_all": {}}), _clause, max_leaves=6)
_ORDER = st.one_of(
    st.builds(
        lambda k, d: {k: d}, st.sampled_from(["_count", "_key", "_term", "x"]), st.sampled_from(["asc", "desc", "up"])
    )
)
_AGG = st.recursive(
    st.one_of(
        st.builds(
            lambda f, size, include, order: {
                "terms": {
                    "field": f,
                    "size": size,
                    **({"include": include} if include is not None else {}),
                    "order": order,
                }
            },
            _FIELD,
            _NUMBER,
            st.one_of(st.none(), _TEXT),
            _ORDER,
        ),
        st.builds(lambda f: {"cardinality": {"field": f}}, _FIELD),
    ),
    lambda inner: st.builds(
        lambda q, subs: {"filter": q, "aggs": subs},
        _QUERY,
        st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2),
    ),
    max_leaves=4,
)
_SOURCE = st.one_of(
    st.booleans(),
    _TEXT,
    _NUMBER,
    st.lists(_TEXT, max_size=3),
    st.fixed_dictionaries({}, optional={"includes": st.one_of(_TEXT, st.lists(_TEXT, max_size=2), _NUMBER),
                                        "excludes": st.one_of(_TEXT, st.lists(_TEXT, max_size=2), _NUMBER)}),
)  # fmt: skip
_BODY = st.fixed_dictionaries(
    {},
    optional={
        "query": _QUERY,
        "post_filter": _QUERY,
        "size": _NUMBER,
        "from": _NUMBER,
        "sort": st.lists(
            st.builds(lambda f, d: {f: d}, _FIELD, st.sampled_from(["asc", "desc", "sideways"])), max_size=2
        ),
        "_source": _SOURCE,
        "aggs": st.dictionaries(st.sampled_from(["one", "two", "\x00"]), _AGG, max_size=2),
        "highlight": st.fixed_dictionaries({"fields": st.dictionaries(_FIELD, st.just({}), max_size=2)}),
        "suggest": st.dictionaries(
            st.sampled_from(["s"]),
            st.builds(lambda t, f: {"text": t, "term": {"field": f}}, _TEXT, _FIELD),
            max_size=1,
        ),
        "unknown": _VALUE,
    },
)


def _stored(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT count(*), coalesce(sum(hashtext(build::text)), 0) FROM buildhub.main_build"
        ).fetchone()
    assert row is not None
    return row[0], row[1]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_BODY)
def test_no_elasticsearch_body_makes_the_api_answer_500(corpus: Any, body: dict[str, Any]) -> None:
    before = _stored(corpus[3])
    raw = json.dumps(body, allow_nan=True).encode()  # NaN and Infinity as JavaScript writes them
    response = corpus[0].post("/api/search", content=raw)
    assert response.status_code in (200, 400), (raw[:2000], response.status_code, response.text[:500])
    answer = response.json()
    if response.status_code == 400:
        assert isinstance(answer["error"], str) and answer["error"], answer
    else:
        hits = answer["hits"]
        assert isinstance(hits["total"], int) and hits["total"] >= 0 and isinstance(hits["hits"], list)
        # `_source: false` leaves the source out of each hit, as Elasticsearch does.
        assert all(body.get("_source") is False or isinstance(h["_source"], dict) for h in hits["hits"])
        assert set(answer.get("aggregations", {})) == set(body.get("aggs") or {})
    assert _stored(corpus[3]) == before


def test_each_hostile_value_found_is_a_400_naming_it(corpus: Any) -> None:
    """The cases a probe found answering 500, one by one."""
    include = {"aggs": {"v": {"terms": {"field": "target.version", "include": "("}}}}
    assert "invalid regular expression" in error(corpus, include)
    assert "NUL" in error(corpus, {"query": {"term": {"target.version": "a\x00b"}}})
    assert "surrogate" in error(corpus, {"query": {"term": {"target.version": "\ud800"}}})
    for raw in (b'{"size": 1e400}', b'{"size": Infinity}', b'{"query": {"range": {"download.size": {"gte": 1e400}}}}'):
        assert corpus[0].post("/api/search", content=raw).status_code == 400, raw
    assert "_source" in error(corpus, {"_source": 5})
    assert "_source" in error(corpus, {"_source": {"includes": 5}})
    big = corpus[0].post("/api/search", content=b'{"query": "' + b"a" * (2 << 20) + b'"}')
    assert big.status_code == 413 and "larger" in big.json()["error"]


def test_source_excludes_and_date_math_as_elasticsearch(corpus: Any) -> None:
    documents = corpus[1]
    excluded = post(corpus, {"size": 1, "_source": {"excludes": ["target.locale", "download"]}})["hits"]["hits"][0]
    assert "locale" not in excluded["_source"]["target"] and "version" in excluded["_source"]["target"]
    assert "download" not in excluded["_source"] and "source" in excluded["_source"]
    everything = post(corpus, {"size": 0, "query": {"range": {"download.date": {"gte": "now-100y"}}}})
    assert everything["hits"]["total"] == len(documents)
    year = min(d["download"]["date"] for d in documents)[:4]
    anchored = {"range": {"download.date": {"gte": f"{year}-01-01||/y", "lte": f"{year}-01-01||/y"}}}
    expected = sum(1 for d in documents if d["download"]["date"].startswith(year))
    assert post(corpus, {"size": 0, "query": anchored})["hits"]["total"] == expected > 0
    assert "date math" in error(corpus, {"query": {"range": {"download.date": {"gte": "now-1q"}}}})
