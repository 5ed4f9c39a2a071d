"""What a buildhub.json can put into the page: only http(s) URLs become links, whatever the string."""

import html
import random
import re
from urllib.parse import urlsplit

from hypothesis import given
from hypothesis import strategies as st

from ci_assets.defs.buildhub.samples import make_document
from ci_assets.defs.buildhub.search.page import render_build
from ci_assets.defs.buildhub.search.safety import policy, web_url

HREF = re.compile(r'href="([^"]*)"')
TRICKS = st.sampled_from([
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>", "vbscript:x", "//evil.example/x", "https:", "http://",
    "https://hg.mozilla.org/releases/mozilla-beta", "HTTPS://archive.mozilla.org/pub/x.zip", "/relative",
    'https://x.example/"><script>alert(1)</script>', "https://[::1/", "\x00https://x.example",
])  # fmt: skip


@given(st.one_of(TRICKS, st.text(), st.from_regex(r"[a-zA-Z]{1,10}:.*", fullmatch=True)))
def test_only_absolute_web_urls_are_links(value: str) -> None:
    url = web_url(value)
    if url is not None:
        parts = urlsplit(url)
        assert url == value and parts.scheme in ("http", "https") and parts.hostname


@given(st.one_of(TRICKS, st.text()), st.one_of(TRICKS, st.text()))
def test_a_build_page_links_nothing_but_the_web_and_itself(url: str, text: str) -> None:
    document = make_document(random.Random(1))
    document["download"]["url"] = url
    document["source"]["product"] = text
    page = render_build(document, "1", nonce="n0nce")
    for href in HREF.findall(page):
        assert href.startswith("/") or web_url(html.unescape(href)), href
    assert page.count("<script") == 0 and '<style nonce="n0nce">' in page  # text stays text


def test_the_policy_runs_only_the_page_s_own_script_and_style() -> None:
    rules = dict(rule.split(" ", 1) for rule in policy("abc").split("; "))
    assert rules["script-src"] == rules["style-src"] == "'nonce-abc'"
    assert rules["default-src"] == rules["frame-ancestors"] == "'none'" and rules["connect-src"] == "'self'"
