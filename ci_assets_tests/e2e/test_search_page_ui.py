"""Buildhub's search page in headless Chromium over 3,000 generated builds: what a release
engineer does with it, each step checked against /api/search for the same filters.
Screenshots go where the UI tests' go (build/screenshots/, copied to docs/screenshots/)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from playwright.sync_api import Page, expect

from ci_assets.defs.buildhub.search.page import State, request_body
from ci_assets_tests.services.search_site import SearchSite, search_site


@pytest.fixture(scope="module")
def site() -> Iterator[SearchSite]:
    with search_site(3000, name="search_page_ui") as running:
        yield running


def _count(page: Page) -> int:
    return int(page.locator("#hit-count").inner_text().split()[0].replace(",", ""))


def _api_total(site: SearchSite, state: State) -> int:
    response = httpx.post(f"{site.url}/api/search", json=request_body(state), timeout=30)
    assert response.status_code == 200, response.text
    return int(response.json()["hits"]["total"])


def test_typing_narrows_the_hits(site: SearchSite, page: Page, screenshots: Path) -> None:
    page.goto(site.url)
    expect(page.locator("#hit-count")).to_have_text("3,000 builds")
    box = page.get_by_role("searchbox", name="Search builds")
    expect(box).to_be_focused()
    box.press_sequentially("firefox", delay=20)
    page.wait_for_url(re.compile(r"q=firefox"))
    firefox = _count(page)
    assert 0 < firefox < 3000 and firefox == _api_total(site, State(q="firefox"))
    page.get_by_role("searchbox", name="Search builds").press_sequentially(" win", delay=20)
    page.wait_for_url(re.compile(r"q=firefox\+win"))
    narrower = _count(page)
    assert 0 < narrower < firefox and narrower == _api_total(site, State(q="firefox win"))
    expect(page.locator("#results em").first).to_be_visible()  # the matches are highlighted
    page.screenshot(path=screenshots / "30_search_typed.png", animations="disabled")


def test_facets_sort_pages_permalink_and_back(site: SearchSite, page: Page, screenshots: Path) -> None:
    page.goto(site.url)
    versions = page.locator('fieldset[data-facet="version"] input[type=checkbox]')
    chosen = [versions.nth(0).get_attribute("value"), versions.nth(1).get_attribute("value")]
    for value in chosen:
        page.locator(f'fieldset[data-facet="version"] input[value="{value}"]').check()
        page.wait_for_url(re.compile(re.escape(f"version={value}")))
    platform = page.locator('fieldset[data-facet="platform"] input[type=checkbox]').first
    platform_value = platform.get_attribute("value")
    platform.check()
    page.wait_for_url(re.compile(f"platform={platform_value}"))
    state = State(selected={"version": tuple(chosen), "platform": (platform_value,)})
    assert _count(page) == _api_total(site, state)
    expect(page.get_by_role("link", name=re.compile(f"platform: {platform_value}"))).to_be_visible()
    page.screenshot(path=screenshots / "31_search_facets.png", animations="disabled")

    page.goto(site.url)
    page.get_by_label("Sort by").select_option("build")
    page.wait_for_url(re.compile("sort=build"))
    newest = httpx.post(f"{site.url}/api/search", json=request_body(State(sort="build")), timeout=30).json()
    first = newest["hits"]["hits"][0]["_source"]["build"]
    assert first["date"] == max(d["build"]["date"] for d in site.documents)
    expect(page.locator("#results td.build-id").first).to_have_text(first["id"])
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="3", exact=True).click()
    page.wait_for_url(re.compile("page=3"))
    expect(page.locator('nav.pages a[aria-current="page"]')).to_have_text("3")
    on_page_three = page.url
    rows = page.locator("#results tbody tr").count()
    assert rows == 30
    page.screenshot(path=screenshots / "32_search_sorted_page3.png", animations="disabled")

    page.locator("a.permalink").first.click()
    page.wait_for_url(re.compile(r"/builds/v1:[0-9a-f]{32}$"))
    expect(page.locator("#document")).to_contain_text('"download"')
    page.screenshot(path=screenshots / "33_search_permalink.png", animations="disabled")
    page.go_back()
    page.wait_for_url(on_page_three)
    expect(page.locator('nav.pages a[aria-current="page"]')).to_have_text("3")
    page.reload()
    expect(page.get_by_label("Sort by")).to_have_value("build")
    assert page.locator("#results tbody tr").count() == rows


def test_a_query_without_hits_suggests_the_nearest_version(site: SearchSite, page: Page, screenshots: Path) -> None:
    version = sorted({d["target"]["version"] for d in site.documents})[0]
    page.goto(f"{site.url}/?q={version}9")
    expect(page.locator("#no-builds")).to_be_visible()
    suggestion = page.locator("a.suggestion").first
    expect(suggestion).to_be_visible()
    suggested = suggestion.inner_text()
    suggestion.click()
    page.wait_for_url(re.compile(re.escape(urlencode({"q": suggested})) + "$"))
    assert _count(page) == _api_total(site, State(q=suggested)) > 0
    page.goto(f"{site.url}/?q=<script>window.hacked=1</script>")
    assert page.evaluate("window.hacked") is None  # shown as text, never run
    page.screenshot(path=screenshots / "34_search_no_hits.png", animations="disabled")


def test_the_page_changes_in_place_and_typing_is_never_interrupted(site: SearchSite, page: Page) -> None:
    """With JavaScript, a search swaps the results into the same document: a key pressed while a
    search is on its way stays in the box, and the last search wins. A long facet's filter box asks
    the engine for the values holding what is typed, and keeps the focus."""
    page.goto(site.url)
    page.evaluate("window.sameDocument = true")
    box = page.get_by_role("searchbox", name="Search builds")
    box.press_sequentially("firefox win", delay=150)  # slower than the box's wait: a search per pause
    page.wait_for_url(re.compile(r"q=firefox\+win$"))
    expect(box).to_have_value("firefox win")
    expect(box).to_be_focused()
    assert _count(page) == _api_total(site, State(q="firefox win"))
    assert page.evaluate("window.sameDocument") is True  # no new document was loaded
    version_filter = page.get_by_role("searchbox", name="Filter versions")
    typed = site.documents[0]["target"]["version"].split(".")[0]
    version_filter.press_sequentially(typed, delay=20)
    page.wait_for_url(re.compile(f"version_filter={typed}"))
    expect(version_filter).to_be_focused()
    shown = page.locator('fieldset[data-facet="version"] input[type=checkbox]').evaluate_all(
        "boxes => boxes.map(b => b.value)"
    )
    assert shown and all(typed in v for v in shown)


def test_the_page_works_without_javascript(site: SearchSite, chromium: Any) -> None:
    """The plain form: the search box and the facets submit with their buttons; links navigate."""
    context = chromium.new_context(java_script_enabled=False, viewport={"width": 1600, "height": 1000})
    try:
        page = context.new_page()
        page.goto(site.url)
        page.get_by_role("searchbox", name="Search builds").fill("firefox")
        channel = page.locator('fieldset[data-facet="channel"] input[type=checkbox]').first
        value = channel.get_attribute("value")
        channel.check()
        page.get_by_role("button", name="Search").click()
        page.wait_for_url(re.compile(rf"q=firefox.*channel={value}|channel={value}.*q=firefox"))
        assert _count(page) == _api_total(site, State(q="firefox", selected={"channel": (value,)}))
        page.get_by_role("navigation", name="Pages").get_by_role("link", name="2", exact=True).click()
        page.wait_for_url(re.compile("page=2"))
        expect(page.locator('nav.pages a[aria-current="page"]')).to_have_text("2")
    finally:
        context.close()
