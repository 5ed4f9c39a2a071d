"""/api/search: Elasticsearch 6 requests answered from PostgreSQL, checked against plain Python filtering."""

import json
from collections import Counter
from typing import Any

import psycopg
import pytest

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.search.api import reader_dsn
from ci_assets_tests.defs.buildhub.search_corpus import DOCUMENTS, error, post


def _deep(levels: int) -> dict[str, Any]:
    query: dict[str, Any] = {"match_all": {}}
    for _ in range(levels):
        query = {"bool": {"must": [query]}}
    return {"query": query}


DEEP = _deep(60)


def count(documents: list[dict[str, Any]], predicate: Any) -> int:
    return sum(1 for d in documents if predicate(d))


def test_match_all_pages_and_shapes_like_elasticsearch(corpus: Any) -> None:
    result = post(corpus, {"query": {"match_all": {}}, "size": "5", "from": 10, "_source": ["target.*"]})
    assert result["hits"]["total"] == DOCUMENTS and len(result["hits"]["hits"]) == 5
    hit = result["hits"]["hits"][0]
    assert isinstance(hit["_id"], str) and set(hit["_source"]) == {"target"}
    assert corpus[0].get("/api/records").json() == {"builds": {"total": DOCUMENTS}}


def test_clauses_agree_with_python_filtering(corpus: Any) -> None:
    docs = corpus[1]
    cases = [
        ({"term": {"source.product": "firefox"}}, lambda d: d["source"]["product"] == "firefox"),
        ({"terms": {"target.channel": ["beta", "esr"]}}, lambda d: d["target"]["channel"] in ("beta", "esr")),
        (
            {"range": {"download.size": {"gte": 50_000_000, "lt": 70_000_000}}},
            lambda d: 50_000_000 <= d["download"]["size"] < 70_000_000,
        ),
        ({"range": {"download.date": {"gte": "2022-01-01"}}}, lambda d: d["download"]["date"] >= "2022-01-01"),
        ({"match": {"target.locale": "de"}}, lambda d: d["target"]["locale"] == "de"),
        ({"prefix": {"target.version": "10"}}, lambda d: d["target"]["version"].startswith("10")),
        (
            {"wildcard": {"target.version": "*b1?"}},
            lambda d: "b1" in d["target"]["version"][-3:-1] and len(d["target"]["version"].split("b")[-1]) == 2,
        ),
        ({"exists": {"field": "target.os"}}, lambda d: True),
        (
            {
                "bool": {
                    "must": [{"term": {"source.product": "firefox"}}],
                    "must_not": [{"term": {"target.channel": "nightly"}}],
                    "should": [{"term": {"target.locale": "fr"}}, {"term": {"target.locale": "ja"}}],
                    "minimum_should_match": 1,
                }
            },
            lambda d: (
                d["source"]["product"] == "firefox"
                and d["target"]["channel"] != "nightly"
                and d["target"]["locale"] in ("fr", "ja")
            ),
        ),
        (
            {
                "bool": {
                    "should": [
                        {"term": {"source.product": "fennec"}},
                        {"term": {"target.locale": "de"}},
                        {"term": {"target.channel": "beta"}},
                    ],
                    "minimum_should_match": 2,
                }
            },
            lambda d: (
                (d["source"]["product"] == "fennec")
                + (d["target"]["locale"] == "de")
                + (d["target"]["channel"] == "beta")
                >= 2
            ),
        ),
    ]
    for query, predicate in cases:
        assert post(corpus, {"query": query, "size": 0})["hits"]["total"] == count(docs, predicate), query


def test_the_search_box_query_string(corpus: Any) -> None:
    docs = corpus[1]
    fields = ["source.product^3", "target.channel", "target.locale"]
    cases = [
        (
            "source.product:firefox AND target.channel:beta",
            lambda d: d["source"]["product"] == "firefox" and d["target"]["channel"] == "beta",
        ),
        ("firefox de", lambda d: d["source"]["product"] == "firefox" or d["target"]["locale"] == "de"),
        (
            '"es-ES" OR thunderbird',
            lambda d: d["target"]["locale"] == "es-ES" or d["source"]["product"] == "thunderbird",
        ),
        (
            "target.version:9* NOT target.channel:release",
            lambda d: d["target"]["version"].startswith("9") and d["target"]["channel"] != "release",
        ),
        (
            "(fennec || devedition) && !nightly",
            lambda d: d["source"]["product"] in ("fennec", "devedition") and d["target"]["channel"] != "nightly",
        ),
    ]
    for text, predicate in cases:
        body = {"query": {"query_string": {"query": text, "fields": fields}}, "size": 0}
        assert post(corpus, body)["hits"]["total"] == count(docs, predicate), text
    both = {
        "query": {"simple_query_string": {"query": "firefox +beta", "fields": fields, "default_operator": "and"}},
        "size": 0,
    }
    assert post(corpus, both)["hits"]["total"] == count(
        docs, lambda d: d["source"]["product"] == "firefox" and d["target"]["channel"] == "beta"
    )


def test_aggregations_post_filter_and_sort(corpus: Any) -> None:
    docs = corpus[1]
    body = {
        "query": {"term": {"source.product": "firefox"}},
        "post_filter": {"term": {"target.channel": "release"}},
        "sort": [{"download.date": {"order": "desc"}}],
        "size": 20,
        "aggs": {
            "channels": {"terms": {"field": "target.channel", "size": 2}},
            "locales": {"terms": {"field": "target.locale", "order": {"_key": "asc"}, "include": "e.*"}},
            "versions": {"cardinality": {"field": "target.version"}},
            "recent": {
                "filter": {"range": {"build.date": {"gte": "2023-01-01"}}},
                "aggs": {"platforms": {"terms": {"field": "target.platform"}}},
            },
        },
    }
    result = post(corpus, body)
    firefox = [d for d in docs if d["source"]["product"] == "firefox"]
    release = [d for d in firefox if d["target"]["channel"] == "release"]
    assert result["hits"]["total"] == len(release)  # post_filter narrows the hits...
    dates = [h["_source"]["download"]["date"] for h in result["hits"]["hits"]]
    assert dates == sorted(dates, reverse=True)
    aggs = result["aggregations"]  # ...but not the aggregations
    channel_counts = Counter(d["target"]["channel"] for d in firefox)
    assert [(b["key"], b["doc_count"]) for b in aggs["channels"]["buckets"]] == channel_counts.most_common(2)
    assert [b["key"] for b in aggs["locales"]["buckets"]] == sorted(
        {d["target"]["locale"] for d in firefox if d["target"]["locale"].startswith("e")}
    )
    assert aggs["versions"]["value"] == len({d["target"]["version"] for d in firefox})
    recent = [d for d in firefox if d["build"]["date"] >= "2023-01-01"]
    assert aggs["recent"]["doc_count"] == len(recent)
    assert sum(b["doc_count"] for b in aggs["recent"]["platforms"]["buckets"]) == len(recent)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "Invalid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "Invalid JSON"),
        ({"query": {"fuzzy": {"target.locale": "de"}}}, "unknown query clause 'fuzzy'"),
        ({"aggs": {"x": {"histogram": {"field": "download.size"}}}}, "unknown aggregation type 'histogram'"),
        ({"query": {"term": {}}}, "term takes exactly one field"),
        ({"size": 1001}, "Search size too large (1001)"),
        ({"size": "1001"}, "Search size too large (1001)"),
        (
            {"from": 9500, "size": 600},
            "Result window is too large, from + size must be less than or equal to: [10000] but was [10100]",
        ),
        ({"size": True}, "size must be an integer, got True"),
        ({"size": 1.5}, "size must be an integer, got 1.5"),
        ({"from": -1}, "from must not be negative"),
        ({"aggs": {"x": {"terms": {"field": "target.locale", "include": {"a": 1}}}}}, "terms include takes a pattern"),
        ({"query": {"term": {"target.nope": "x"}}}, "unknown field 'target.nope'"),
        ({"query": {"range": {"download.size": {"gte": "big"}}}}, "is a number"),
        ({"query": {"query_string": {"query": "(firefox AND"}}}, "query string"),
        (DEEP, "nested deeper"),
        ({"surprise": 1}, "unknown search parameter"),
    ],
)
def test_bad_requests_are_400_with_the_problem_named(corpus: Any, body: Any, message: str) -> None:
    assert message in error(corpus, body)


def test_sql_looking_values_are_just_values(corpus: Any) -> None:
    for value in ["'; DROP TABLE buildhub.main_build; --", "x' OR '1'='1", "%", "_"]:
        assert post(corpus, {"query": {"term": {"source.product": value}}})["hits"]["total"] == 0
        assert post(corpus, {"query": {"prefix": {"source.product": value}}})["hits"]["total"] == 0
    assert corpus[0].get("/api/records").json()["builds"]["total"] == DOCUMENTS


def test_the_api_reads_as_a_read_only_role_and_counts_requests(corpus: Any) -> None:
    with psycopg.connect(reader_dsn(corpus[3])) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(f"DELETE FROM {store.SCHEMA}.main_build")
    corpus[0].get("/api/search", params={"source": json.dumps({"size": 1})})
    counts = corpus[2].counts
    assert counts["api_search_requests[method:GET]"] >= 1 and counts["api_search_requests[method:POST]"] >= 1
    assert corpus[2].gauges["api_search_records"] >= 0 and corpus[2].timings["api_search"]


def test_terms_say_what_lies_beyond_their_buckets(corpus: Any) -> None:
    """`sum_other_doc_count` holds the documents of the buckets not returned (Elasticsearch's
    meaning), so the buckets and it add up to every document with the field."""
    documents = corpus[1]
    counts = Counter(d["target"]["version"] for d in documents)
    answer = post(corpus, {"size": 0, "aggs": {"v": {"terms": {"field": "target.version", "size": 3}}}})
    terms = answer["aggregations"]["v"]
    assert [b["doc_count"] for b in terms["buckets"]] == sorted(counts.values(), reverse=True)[:3]
    assert sum(b["doc_count"] for b in terms["buckets"]) + terms["sum_other_doc_count"] == len(documents)
    everything = post(corpus, {"size": 0, "aggs": {"v": {"terms": {"field": "target.version", "size": 1000}}}})
    assert everything["aggregations"]["v"]["sum_other_doc_count"] == 0


def test_include_and_exclude_take_lists_of_exact_values(corpus: Any) -> None:
    documents = corpus[1]
    counts = Counter(d["target"]["version"] for d in documents)
    chosen = [*sorted(counts)[:2], "60.1.*"]  # a listed value is exact, never a pattern
    include = {"field": "target.version", "size": 100, "include": chosen}
    found = post(corpus, {"size": 0, "aggs": {"v": {"terms": include}}})["aggregations"]["v"]["buckets"]
    assert {b["key"]: b["doc_count"] for b in found} == {v: counts[v] for v in chosen if v in counts}
    exclude = {"field": "target.version", "size": 1000, "exclude": chosen}
    rest = post(corpus, {"size": 0, "aggs": {"v": {"terms": exclude}}})["aggregations"]["v"]["buckets"]
    assert {b["key"]: b["doc_count"] for b in rest} == {v: n for v, n in counts.items() if v not in chosen}


def test_searchkit_s_top_hits_beside_a_query_and_a_filter(corpus: Any) -> None:
    """SearchKit 2 adds `no_filters_top_hits` whenever search text and a filter combine: its total is
    the query's matches before the post filter, its one hit comes without its source."""
    documents = corpus[1]
    product = documents[0]["source"]["product"]
    platform = documents[0]["target"]["platform"]
    body = {
        "query": {"term": {"source.product": product}},
        "post_filter": {"term": {"target.platform": platform}},
        "aggs": {"no_filters_top_hits": {"top_hits": {"size": 1, "_source": False}}},
        "size": 2,
    }
    answer = post(corpus, body)
    top = answer["aggregations"]["no_filters_top_hits"]["hits"]
    assert top["total"] == sum(d["source"]["product"] == product for d in documents)
    assert answer["hits"]["total"] == sum(
        d["source"]["product"] == product and d["target"]["platform"] == platform for d in documents
    )
    assert len(top["hits"]) == 1 and "_source" not in top["hits"][0]
    three = post(corpus, {"size": 0, "aggs": {"t": {"top_hits": {"_source": {"includes": ["build.id"]}}}}})
    hits = three["aggregations"]["t"]["hits"]["hits"]
    assert len(hits) == 3 and all(set(h["_source"]) == {"build"} for h in hits)  # Elasticsearch's default size
    assert "top hits aggregator [t]" in error(corpus, {"aggs": {"t": {"top_hits": {"size": 101}}}})
