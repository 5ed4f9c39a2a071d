"""Buildhub's page in headless Chromium over hostile buildhub.json documents that went through the
real pipeline (object store -> inventory -> the `buildhub/builds` asset -> PostgreSQL): script
URLs, markup, quote-breaking text and control characters in every string field the page shows.
No script of theirs runs, no request leaves for another origin, and a `javascript:` URL is never
a link."""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import dagster as dg
import psycopg
import pytest
from playwright.sync_api import Page

from ci_assets.defs.buildhub import store
from ci_assets.defs.buildhub.assets import builds
from ci_assets.defs.buildhub.samples import encode, make_document
from ci_assets.defs.buildhub.settings import BuildhubSettings
from ci_assets.lib.storage.object_store_resource import LocalObjectStoreResource
from ci_assets.lib.storage.postgres import PostgresResource
from ci_assets_tests.services.databases import scratch_database
from ci_assets_tests.services.search_site import serve

BUCKET = "hostile-builds"
PAYLOADS = [
    "javascript:window.__pwned=1",
    '"><script>window.__pwned=1</script>',
    "<img src=https://evil.example/x.png onerror=window.__pwned=1>",
    "' onmouseover='window.__pwned=1' x='",
    "</pre><script src=https://evil.example/x.js></script>",
    "data:text/html,<script>window.__pwned=1</script>",
    " javascript:window.__pwned=1",
    "\u0007\u001b[31m\u202e<svg onload=window.__pwned=1>",
    "nul\u0000<script>window.__pwned=1</script>",  # PostgreSQL cannot store it: quarantined, not a crash
    "\ud800<b>lone surrogate</b>",
]
FIELDS = [
    ("download", "url"), ("source", "repository"), ("source", "revision"), ("source", "product"),
    ("target", "version"), ("target", "platform"), ("target", "locale"), ("target", "channel"), ("build", "id"),
]  # fmt: skip


def hostile_documents() -> list[dict]:
    """Each payload in each field the page shows, one field a document (the rest stay real)."""
    rng, documents = random.Random(666), []
    for section, name in FIELDS:
        for payload in PAYLOADS:
            document = copy.deepcopy(make_document(rng))
            document[section][name] = payload
            documents.append(document)
    return documents


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """The search server over what the pipeline stored of the hostile documents: (URL, builds)."""
    root = tmp_path_factory.mktemp("hostile")
    objects = LocalObjectStoreResource(root=str(root / "objects"))
    objects.create_bucket(BUCKET)
    for n, document in enumerate(hostile_documents()):  # keys of their own: theirs would hold the payloads
        objects.put(BUCKET, f"pub/hostile/{n}/en-US/buildhub.json", encode(document))
    with scratch_database("hostile_builds") as dsn:
        with psycopg.connect(dsn) as conn:
            store.ensure_schema(conn)
            store.INVENTORY.record(conn, BUCKET, list(objects.list(BUCKET)))
        resources = {
            "object_store": objects,
            "postgres": PostgresResource(dsn=dsn),
            "buildhub_settings": BuildhubSettings(bucket=BUCKET),
        }
        today = dt.datetime.now(dt.UTC).date().isoformat()
        assert dg.materialize([builds], partition_key=today, resources=resources).success
        with psycopg.connect(dsn) as conn:
            [(stored,)] = conn.execute(f"SELECT count(*) FROM {store.SCHEMA}.main_build").fetchall()
            unstorable = conn.execute("SELECT count(*) FROM quarantine WHERE reason LIKE 'unstorable text at %%'")
            assert unstorable.fetchone() == (len(FIELDS) * 2,)  # each NUL and lone surrogate, set aside
        with serve(dsn) as url:
            yield url, stored


def watch(page: Page, url: str) -> list[str]:
    """Every request the page makes to another origin, and every dialog it opens (none is wanted)."""
    origin, seen = urlsplit(url).netloc, []
    page.on("request", lambda r: seen.append(r.url) if urlsplit(r.url).netloc not in ("", origin) else None)
    page.on("dialog", lambda d: (seen.append(f"dialog {d.message}"), d.dismiss()))
    return seen


def test_hostile_documents_are_stored_and_shown_as_text(site: tuple[str, int], page: Page, screenshots: Path) -> None:
    url, stored = site
    assert stored >= len(PAYLOADS) * 4  # the schema takes any string in most of those fields
    seen = watch(page, url)
    for path in ("/", "/?q=script", "/?q=javascript", "/?q=onerror&sort=build", "/?page=2"):
        page.goto(url + path)
        page.wait_for_load_state("networkidle")
        assert page.evaluate("window.__pwned") is None, path
        hrefs = page.eval_on_selector_all("a[href]", "links => links.map(a => a.getAttribute('href'))")
        assert not [h for h in hrefs if not h.startswith(("/", "?", "http://", "https://"))], path
        assert page.locator("script").count() == 1  # the page's own, with its nonce
    page.goto(url + "/?q=script")
    page.screenshot(path=screenshots / "33_search_hostile.png", animations="disabled")
    for permalink in page.locator("a.permalink").evaluate_all("links => links.map(a => a.href)")[:10]:
        page.goto(permalink)
        assert page.evaluate("window.__pwned") is None, permalink
        shown = json.loads(page.locator("#document").inner_text())  # the document, as text
        assert any(shown[s][n] in PAYLOADS for s, n in FIELDS if n in shown.get(s, {}))
    assert seen == []


def test_every_answer_carries_the_policy(site: tuple[str, int], page: Page) -> None:
    url, _ = site
    answer = page.goto(url + "/?q=script")
    assert answer is not None
    headers = answer.headers
    policy = headers["content-security-policy"]
    nonce = page.locator("script").evaluate("s => s.nonce")  # the browser hides the attribute's value
    assert nonce and f"'nonce-{nonce}'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy
    assert headers["x-content-type-options"] == "nosniff"
    again = page.goto(url + "/?q=script")
    assert again is not None and nonce not in again.headers["content-security-policy"]  # fresh each answer
    api = page.request.get(url + "/api/search")
    assert api.headers["x-content-type-options"] == "nosniff"
