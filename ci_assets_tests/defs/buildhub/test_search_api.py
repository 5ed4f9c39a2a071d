"""What Buildhub's page and its other clients send beyond the query: highlight, suggest, the
operational endpoints, CORS; and no body at all can make the API answer 500."""

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_assets.lib.version import checkout_commit
from ci_assets_tests.defs.buildhub.search_corpus import error, post


def test_highlight_wraps_what_the_search_box_terms_match(corpus: Any) -> None:
    version = corpus[1][0]["target"]["version"]
    prefix = version.split(".")[0]
    body = {
        "query": {"query_string": {"query": f"{prefix} firefox", "fields": ["target.version", "source.product"]}},
        "highlight": {"fields": {"target.version": {}, "source.product": {}, "target.locale": {}}},
        "size": 50,
    }
    hits = post(corpus, body)["hits"]["hits"]
    assert hits
    for hit in hits:
        source, marks = hit["_source"], hit["highlight"]
        if source["target"]["version"].startswith(prefix):
            assert marks["target.version"] == [f"<em>{source['target']['version']}</em>"]
        else:
            assert "target.version" not in marks
        assert ("source.product" in marks) == (source["source"]["product"] == "firefox")
        assert "target.locale" not in marks  # no term of the query matches a locale here
    custom = post(
        corpus, body | {"highlight": {"fields": {"target.version": {}}, "pre_tags": ["["], "post_tags": ["]"]}}
    )
    assert all(v.startswith("[") for h in custom["hits"]["hits"] for v in h["highlight"].get("target.version", []))
    assert "unknown field 'target.nope'" in error(corpus, body | {"highlight": {"fields": {"target.nope": {}}}})


def test_suggest_names_the_nearest_versions_in_elasticsearchs_shape(corpus: Any) -> None:
    versions = sorted({d["target"]["version"] for d in corpus[1]})
    typo = versions[0] + "9"  # not a version any build has
    result = post(corpus, {"size": 0, "suggest": {"v": {"text": typo, "term": {"field": "target.version"}}}})
    (entry,) = result["suggest"]["v"]
    assert (entry["text"], entry["offset"], entry["length"]) == (typo, 0, len(typo))
    assert entry["options"] and entry["options"][0]["text"] in versions
    assert all(o["freq"] >= 1 and 0 < o["score"] <= 1 for o in entry["options"])
    known = post(corpus, {"size": 0, "suggest": {"v": {"text": versions[0], "term": {"field": "target.version"}}}})
    assert known["suggest"]["v"][0]["options"] == []  # a version that exists needs no suggestion
    assert "suggestion" in error(corpus, {"suggest": {"v": {"text": "x", "fuzzy": {}}}})


def test_an_invalid_pattern_or_value_is_a_400_naming_it(corpus: Any) -> None:
    include = {"size": 0, "aggs": {"v": {"terms": {"field": "target.version", "include": "["}}}}
    assert "invalid regular expression" in error(corpus, include)
    assert "date" in error(corpus, {"query": {"range": {"download.date": {"gte": {"nested": 1}}}}})


def test_the_operational_endpoints_and_cors_as_buildhub2(corpus: Any) -> None:
    client = corpus[0]
    assert client.get("/__lbheartbeat__").status_code == 200
    heartbeat = client.get("/__heartbeat__")
    assert heartbeat.status_code == 200 and heartbeat.json()["checks"] == {"database": "ok"}
    served = client.get("/__version__").json()
    assert set(served) == {"source", "version", "commit", "build"}
    assert served["commit"] == checkout_commit()  # from the checkout; the image's version.json says its own
    preflight = client.options(
        "/api/search", headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == "*"
    searched = client.post("/api/search", content=b"{}", headers={"Origin": "https://example.org"})
    assert searched.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-origin" not in client.get("/__version__", headers={"Origin": "https://x.org"}).headers


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=12)
    | st.sampled_from(["target.version", "source.product", "download.size", "[", "*", "'", "54", "desc"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["query", "term", "terms", "range", "bool", "must", "should", "prefix", "wildcard",
                         "query_string", "aggs", "highlight", "suggest", "fields", "field", "include", "size",
                         "from", "sort", "text", "gte", "exists", "post_filter", "_source", "order"]),
        inner,
        max_size=3,
    ),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(_JSON.filter(lambda v: isinstance(v, dict)), st.binary(max_size=40)))
def test_no_body_makes_the_api_answer_500(corpus: Any, body: Any) -> None:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = corpus[0].post("/api/search", content=raw)
    assert response.status_code in (200, 400), (raw, response.status_code, response.text)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.one_of(
        st.text(max_size=60),
        st.text(alphabet="()\"'*?:!|&+-\\/[]{}^~ <>AND OR NOT ab.", max_size=40),
        st.sampled_from(["'", '"', "(", ")", "a" * 10_000, "<script>alert(1)</script>", "target.version:", "a AND"]),
    ),
    st.booleans(),
)
def test_any_query_string_is_answered_or_refused_with_400(corpus: Any, text: str, simple: bool) -> None:
    kind = "simple_query_string" if simple else "query_string"
    response = corpus[0].post("/api/search", content=json.dumps({"query": {kind: {"query": text}}, "size": 1}))
    assert response.status_code in (200, 400), (text, response.status_code, response.text)
