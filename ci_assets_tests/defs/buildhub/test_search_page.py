"""Buildhub's search page, server-rendered over the same engine as /api/search: what it shows
agrees with the API for the same filters, its state lives in the URL, and no input breaks it."""

import random
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.documents import build_hash
from ci_assets.defs.buildhub.samples import make_document
from ci_assets.defs.buildhub.search.page import FACET_SIZE, PAGE_SIZE, State, render_build, request_body
from ci_assets.defs.buildhub.versions import version_key
from ci_assets_tests.defs.buildhub.search_corpus import post

ROW = re.compile(r'<tr>\s*<td>(.*?)</td>\s*<td class="version">(.*?)</td>', re.S)


def _page(corpus: Any, url: str, status: int = 200) -> str:
    response = corpus[0].get(url)
    assert response.status_code == status, (url, response.status_code, response.text[:500])
    return response.text


def _count(html: str) -> int:
    found = re.search(r'<span id="hit-count">([\d,]+) build', html)
    assert found, html[:2000]
    return int(found.group(1).replace(",", ""))


def test_the_page_and_the_api_agree_for_the_same_filters(corpus: Any) -> None:
    documents = corpus[1]
    versions = sorted({d["target"]["version"] for d in documents})[:2]
    platform = documents[0]["target"]["platform"]
    state = State(selected={"version": tuple(versions), "platform": (platform,)})
    html = _page(corpus, state.url())
    expected = sum(1 for d in documents if d["target"]["version"] in versions and d["target"]["platform"] == platform)
    assert _count(html) == expected == post(corpus, request_body(state))["hits"]["total"]
    assert all(f'value="{v}" checked' in html for v in versions)  # the selection is shown, checked


def _facet_values(html: str, name: str) -> list[str]:
    facet = html.split(f'data-facet="{name}"')[1].split("</fieldset>")[0]
    return re.findall(rf'name="{name}" value="([^"]+)"', facet)


def test_a_long_facet_lists_its_first_values_and_its_filter_box_finds_the_others(corpus: Any) -> None:
    """The page lists at most FACET_SIZE values of a facet; what is typed in its filter box finds,
    in any case, every value that contains it, with its count, and stays in the URL."""
    documents = corpus[1]
    locales = {d["target"]["locale"] for d in documents}
    html = _page(corpus, "/")
    assert len(_facet_values(html, "locale")) == min(len(locales), FACET_SIZE)
    typed = sorted(locales)[-1][:2].upper()
    state = State(narrow={"locale": typed})
    narrowed = _page(corpus, state.url())
    wanted = {loc for loc in locales if typed.lower() in loc.lower()}
    assert set(_facet_values(narrowed, "locale")) == wanted and len(wanted) < len(locales)
    assert f'name="locale_filter" value="{typed}"' in narrowed
    assert _count(narrowed) == len(documents)  # the filter box narrows the facet, not the builds
    # Nothing a user types is a pattern: brackets, dots and stars match themselves.
    assert _facet_values(_page(corpus, State(narrow={"version": "[.*"}).url()), "version") == []


def test_typing_narrows_each_term_a_prefix_and_all_terms_required(corpus: Any) -> None:
    documents = corpus[1]
    everything = _count(_page(corpus, "/"))
    assert everything == len(documents)
    product = documents[0]["source"]["product"]
    narrowed = _count(_page(corpus, f"/?q={product[:3]}"))
    both = _count(_page(corpus, f"/?q={product[:3]}+{documents[0]['target']['locale']}"))
    assert everything > narrowed >= both >= 1
    raw = _page(corpus, "/?q='source.product:" + product)
    assert _count(raw) == sum(1 for d in documents if d["source"]["product"] == product)


def test_versions_are_in_numeric_order_and_sorting_and_pages_follow_the_url(corpus: Any) -> None:
    html = _page(corpus, "/")
    facet = html.split('data-facet="version"')[1].split("</fieldset>")[0]
    shown = re.findall(r'name="version" value="([^"]+)"', facet)
    assert shown == sorted(shown, key=version_key, reverse=True) and len(shown) > 3
    by_build = _page(corpus, "/?sort=build&page=3")
    assert 'option value="build" selected' in by_build and "aria-current=page>3<" in by_build
    body = request_body(State(sort="build", page=3))
    expected = [h["_source"]["target"]["version"] for h in post(corpus, body)["hits"]["hits"]]
    assert [v for _, v in ROW.findall(by_build)] == expected and len(expected) == PAGE_SIZE


def test_a_permalink_shows_the_whole_document_and_a_missing_build_is_a_404_page(corpus: Any) -> None:
    html = _page(corpus, "/?q=firefox")
    link = re.search(r'href="(/builds/v1:[0-9a-f]{32})" class="permalink"', html)
    assert link
    build = _page(corpus, link.group(1))
    assert '<pre id="document">' in build and '"download": {' in build and '"mimetype":' in build
    assert "No such build" in _page(corpus, "/builds/999999999", 404)
    assert "No such build" in _page(corpus, "/builds/not-a-hash", 404)


def test_a_permalink_is_the_build_s_hash_serves_json_and_old_row_links_redirect(corpus: Any) -> None:
    """The hash names the build whatever row holds it; `Accept: application/json` gets the document
    itself; `/builds/<row id>` (the permalinks of before) redirects while its row holds a build."""
    client, documents = corpus[0], corpus[1]
    by_hash = {build_hash(d): d for d in documents}
    [hit] = post(corpus, {"size": 1, "query": {"term": {"build.id": documents[3]["build"]["id"]}}})["hits"]["hits"]
    assert hit["_id"] in by_hash
    answer = client.get(f"/builds/{hit['_id']}", headers={"Accept": "application/json"})
    assert answer.status_code == 200 and answer.json() == by_hash[hit["_id"]]
    assert "Accept" in answer.headers["vary"]
    missing = client.get("/builds/v1:00000000000000000000000000000000", headers={"Accept": "application/json"})
    assert missing.status_code == 404 and "error" in missing.json()
    with psycopg.connect(corpus[3]) as conn:
        [(row_id,)] = conn.execute(f"SELECT id FROM {store.SCHEMA}.main_build WHERE build_hash = %s", (hit["_id"],))
    moved = client.get(f"/builds/{row_id}", follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"] == f"/builds/{hit['_id']}"


def test_a_build_page_links_its_raw_buildhub_json_where_it_lives() -> None:
    document = make_document(random.Random(3))
    html = render_build(document, "v1:x", raw_url="https://archive.mozilla.org/pub/firefox/x/buildhub.json")
    assert 'href="https://archive.mozilla.org/pub/firefox/x/buildhub.json" id="raw"' in html
    assert 'id="raw"' not in render_build(document, "v1:x", raw_url="javascript:alert(1)")


def test_no_builds_suggests_the_nearest_version(corpus: Any) -> None:
    version = sorted({d["target"]["version"] for d in corpus[1]})[0]
    html = _page(corpus, f"/?q={version}9")
    assert 'id="no-builds"' in html and 'class="suggestion"' in html
    assert _count(html) == 0


def test_did_you_mean_keeps_the_other_words_and_the_filters_and_finds_builds(corpus: Any) -> None:
    documents = corpus[1]
    product = documents[0]["source"]["product"]
    theirs = sorted({d["target"]["version"] for d in documents if d["source"]["product"] == product})
    state = State(q=f"{product} {theirs[0]}9", selected={"product": (product,)})
    html = _page(corpus, state.url())
    assert _count(html) == 0
    offered = re.findall(r'<a href="([^"]+)" class="suggestion">([^<]+)</a>', html)
    assert offered
    for url, version in offered:
        query = parse_qs(urlsplit(url.replace("&amp;", "&")).query)
        assert query["q"] == [f"{product} {version}"] and query["product"] == [product]
        assert version in theirs and _count(_page(corpus, url.replace("&amp;", "&"))) > 0


def test_bad_input_is_shown_safely(corpus: Any) -> None:
    script = "<script>alert(1)</script>"
    html = _page(corpus, f"/?q={script}")
    assert script not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert _count(_page(corpus, "/?version=no-such-version&platform=" + script)) == 0
    past = _page(corpus, "/?page=9999")
    assert 'id="past-the-end"' in past
    assert _count(_page(corpus, "/?page=abc&sort=nonsense")) == len(corpus[1])
    for q in ["'", '"', "(a", "a)", "a" * 10_000, "'(unbalanced", "'target.nope:x"]:
        response = corpus[0].get("/", params={"q": q})
        assert response.status_code in (200, 400), (q, response.status_code)
        assert script not in response.text


_PARAMETERS = ["q", "version", "platform", "product", "channel", "locale", "sort", "page", "other"]
_PARAMETERS += ["version_filter", "locale_filter"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.dictionaries(
        st.sampled_from(_PARAMETERS),
        st.lists(st.text(max_size=12), max_size=3),
        max_size=5,
    )
)
def test_no_url_makes_the_page_answer_500(corpus: Any, params: dict[str, list[str]]) -> None:
    response = corpus[0].get("/", params=params)
    assert response.status_code in (200, 400), (params, response.status_code)
    state = State.of(params)
    assert State.of(parse_qs(urlsplit(state.url()).query)) == state  # the URL holds the whole state


def test_the_api_sorts_versions_in_release_order_from_the_stores_key(corpus: Any) -> None:
    """`sort: target.version` and a version facet's `_key` order read the key the store keeps."""
    body = {"sort": [{"target.version": "desc"}], "size": 1000, "_source": ["target.version"]}
    versions = [h["_source"]["target"]["version"] for h in post(corpus, body)["hits"]["hits"]]
    assert versions == sorted(versions, key=version_key, reverse=True)
    facet = {"size": 0, "aggs": {"v": {"terms": {"field": "target.version", "size": 1000, "order": {"_key": "asc"}}}}}
    keys = [b["key"] for b in post(corpus, facet)["aggregations"]["v"]["buckets"]]
    assert keys == sorted(keys, key=version_key) and len(keys) > 10


def test_the_footer_is_asked_again_behind_the_views_never_by_one(monkeypatch: Any) -> None:
    """The first view waits for the checks' answer; once it is older than the footer's minute, a
    view is answered with it at once while a thread asks again, and a later view shows the new one."""
    import contextlib
    import threading
    import time

    from ci_assets.defs.buildhub.search import page

    answers, release = iter([["first"], ["second"]]), threading.Event()

    def checks(conn: Any) -> list[str]:
        answer = next(answers)
        if answer == ["second"]:
            release.wait(10)  # the checks are slow at Buildhub's size
        return answer

    monkeypatch.setattr(page.completeness, "missing_platforms", checks)
    footer = page.Footer(None, lambda: contextlib.nullcontext(None))
    assert footer.read()["gaps"] == ["first"]
    monkeypatch.setattr(page.Footer, "TTL_SECONDS", 0.0)
    started = time.monotonic()
    assert footer.read()["gaps"] == ["first"] and time.monotonic() - started < 1  # not waiting for them
    release.set()
    deadline = time.monotonic() + 10
    while footer.read()["gaps"] != ["second"]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
