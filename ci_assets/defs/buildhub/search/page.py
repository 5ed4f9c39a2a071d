"""Buildhub's search page, server-rendered: the search box, the facets, sort and pages as a plain
HTML form (it works without JavaScript; a small script searches as you type), its whole state in
the URL. Its data comes from the same engine as `/api/search`: the page builds an Elasticsearch
body and reads the engine's answer."""

from __future__ import annotations

import dataclasses
import logging
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
from jinja2 import Environment, FileSystemLoader, select_autoescape

from ci_assets.defs.buildhub import completeness, facet_counts
from ci_assets.defs.buildhub.search.engine import search
from ci_assets.defs.buildhub.search.lucene_regexp import compile_pattern
from ci_assets.defs.buildhub.search.safety import web_url
from ci_assets.defs.buildhub.search.suggest import suggest
from ci_assets.defs.buildhub.store import SCHEMA

PAGE_SIZE = 30
MAX_PAGE = 10_000 // PAGE_SIZE  # the engine's window
# The facets, in the page's order (Product is the tabs above the results).
FACETS = {
    "product": "source.product",
    "version": "target.version",
    "platform": "target.platform",
    "channel": "target.channel",
    "locale": "target.locale",
}
LONG_FACETS = ("version", "locale")  # with a filter-as-you-type box
# Buckets a facet lists: the first ones in its order; a long facet's filter box asks the engine for
# the values holding what is typed (the page stays small, so it is parsed and shown at once).
FACET_SIZE = 50
# The search box's fields and Buildhub's weights for them (the raw `'` query ranks nothing, as
# results are sorted by date; the weights travel with the query for clients that score).
SEARCH_FIELDS = {
    "target.version": 10,
    "target.locale": 3,
    "target.platform": 2,
    "target.channel": 1.2,
    "source.product": 1,
    "build.id": 1,
}
# A page that finds at most this many builds names their releases (up to MAX_RELEASES) to the engine.
FEW_BUILDS, MAX_RELEASES = 5000, 300
SORTS = {"published": ("download.date", "Published on"), "build": ("build.date", "Build date")}
_VERSION_LIKE = re.compile(r"\d")
SUGGESTIONS, SUGGESTION_TRIES = 3, 8  # offered at most; near versions tried for each word

TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
TEMPLATES.filters["web_url"] = web_url


@dataclasses.dataclass(frozen=True)
class State:
    """What the URL says: the query, the selected facet values, the text in each long facet's
    filter box, the sort, the page."""

    q: str = ""
    selected: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    sort: str = "published"
    page: int = 1
    narrow: Mapping[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def of(cls, params: Any) -> State:
        """From a request's query parameters (a Starlette QueryParams or a dict of lists); what
        cannot be read falls back to the default, never an error."""

        def many(name: str) -> list[str]:
            values = params.getlist(name) if hasattr(params, "getlist") else params.get(name, [])
            return [v for v in dict.fromkeys(values) if v]

        def one(name: str, default: str) -> str:
            found = many(name)
            return found[0] if found else default

        try:
            page = min(max(int(one("page", "1")), 1), MAX_PAGE)
        except ValueError:
            page = 1
        sort = one("sort", "published")
        selected = {name: tuple(many(name)) for name in FACETS if many(name)}
        narrow = {name: _printable(one(f"{name}_filter", ""))[:100] for name in LONG_FACETS}
        return cls(
            one("q", "").strip()[:1000],
            selected,
            sort if sort in SORTS else "published",
            page,
            {name: text for name, text in narrow.items() if text},
        )

    def url(self, **changes: Any) -> str:
        state = dataclasses.replace(self, **changes)
        pairs: list[tuple[str, Any]] = [("q", state.q)] if state.q else []
        pairs += [(name, value) for name in FACETS for value in state.selected.get(name, ())]
        if state.sort != "published":
            pairs.append(("sort", state.sort))
        pairs += [(f"{name}_filter", state.narrow[name]) for name in LONG_FACETS if state.narrow.get(name)]
        if state.page != 1:
            pairs.append(("page", state.page))
        return "/?" + urlencode(pairs) if pairs else "/"

    def toggled(self, facet: str, value: str) -> str:
        """This page's URL with `value` of `facet` selected, or unselected if it was (back to page 1)."""
        values = self.selected.get(facet, ())
        changed = tuple(v for v in values if v != value) if value in values else (*values, value)
        selected = {k: v for k, v in {**self.selected, facet: changed}.items() if v}
        return self.url(selected=selected, page=1)


def _printable(text: str) -> str:
    return "".join(c for c in text if c.isprintable()).strip()


def contains_pattern(text: str) -> str:
    """A terms aggregation's `include` for the values that contain `text`, in any case."""
    pieces = []
    for c in text:
        other = c.swapcase()
        pieces.append(f"[{c}{other}]" if other != c and len(other) == 1 else re.escape(c))
    return ".*" + "".join(pieces) + ".*"


def text_query(q: str) -> dict[str, Any]:
    """Buildhub's search box: every term must match, each as a prefix of one of the fields; a query
    that starts with `'` is a raw query string (`'build.id:2019*`)."""
    fields = [f"{name}^{weight}" for name, weight in SEARCH_FIELDS.items()]
    if q.startswith("'"):
        return {"query_string": {"query": q[1:] or "*", "fields": fields, "default_operator": "and"}}
    terms = q.split()
    if not terms:
        return {"match_all": {}}
    return {"bool": {"must": [{"bool": {"should": [{"prefix": {name: t}} for name in SEARCH_FIELDS]}} for t in terms]}}


def _filter(selected: Mapping[str, tuple[str, ...]], leave_out: str | None = None) -> dict[str, Any]:
    must = [{"terms": {FACETS[name]: list(values)}} for name, values in selected.items() if name != leave_out]
    return {"bool": {"filter": must}}


def _terms(name: str, path: str, narrow: str | None) -> dict[str, Any]:
    # Versions newest first, in release order (the store's sortable key); the others by count.
    order = {"_key": "desc"} if name == "version" else {"_count": "desc"}
    terms = {"field": path, "size": FACET_SIZE, "order": order}
    return terms | ({"include": contains_pattern(narrow)} if narrow else {})


def request_body(state: State) -> dict[str, Any]:
    """The Elasticsearch body the page sends to the engine: the query, the facets as post filters
    (OR within a facet, AND across), each facet's counts under the other facets' filters."""
    field, _ = SORTS[state.sort]
    aggs = {
        name: {
            "filter": _filter(state.selected, name),
            "aggs": {"values": {"terms": _terms(name, path, state.narrow.get(name))}},
        }
        for name, path in FACETS.items()
    }
    return {
        "query": text_query(state.q),
        "post_filter": _filter(state.selected),
        "aggs": aggs,
        "sort": [{field: "desc"}],
        "from": (state.page - 1) * PAGE_SIZE,
        "size": PAGE_SIZE,
        "highlight": {"fields": {name: {} for name in SEARCH_FIELDS}, "encoder": "html"},
    }


def _answer(conn: psycopg.Connection, state: State) -> tuple[dict[str, Any], int, dict[str, list[tuple[str, int]]]]:
    """The engine's answer for the page's hits, their total and each facet's buckets. The total and
    the buckets come from the stored counts (facet_counts.py) when the search box allows: at
    millions of builds the page then reads thousands of rows, not millions."""
    body = request_body(state)
    words = [] if state.q.startswith("'") else state.q.split()
    if state.q.startswith("'") or not facet_counts.answerable(conn, SCHEMA, words):
        response = search(conn, body)
        buckets = {
            name: [(b["key"], b["doc_count"]) for b in response["aggregations"][name]["values"]["buckets"]]
            for name in FACETS
        }
        return response, response["hits"]["total"], buckets
    keep = {name: compile_pattern(contains_pattern(text)) for name, text in state.narrow.items()}
    total, buckets = facet_counts.page_counts(conn, SCHEMA, list(FACETS), words, state.selected, keep, FACET_SIZE)
    del body["aggs"]
    if total <= FEW_BUILDS and (words or state.selected):
        # Few builds among millions: newest-first order would walk most of the table to find them,
        # while their releases, named, are a few seeks of the store's index.
        named = facet_counts.releases(conn, SCHEMA, list(FACETS), words, state.selected, MAX_RELEASES)
        if named:
            body["query"] = {"bool": {"must": [body["query"]], "filter": [_any_release(named)]}}
    # A page past the last build has nothing to look for.
    empty: dict[str, Any] = {"hits": {"hits": []}}
    response = search(conn, body | {"track_total_hits": False}) if total > body["from"] else empty
    return response, total, buckets


def _any_release(releases: list[tuple[str, str, str]]) -> dict[str, Any]:
    paths = (FACETS["product"], FACETS["channel"], FACETS["version"])
    return {
        "bool": {
            "should": [
                {"bool": {"filter": [{"term": {p: v}} for p, v in zip(paths, r, strict=True)]}} for r in releases
            ]
        }
    }


def _buckets(name: str, answered: list[tuple[str, int]], state: State) -> list[dict[str, Any]]:
    found = dict(answered)
    for value in state.selected.get(name, ()):
        found.setdefault(value, 0)  # a selected value the results lack still shows, to be removed
    keys = list(found)  # the engine's order
    return [
        {"key": k, "count": found[k], "on": k in state.selected.get(name, ()), "url": state.toggled(name, k)}
        for k in keys
    ]


def _suggestion(conn: psycopg.Connection, state: State) -> list[dict[str, str]]:
    """For a query that finds nothing: the query again with one version-like word replaced by a
    near version, keeping the other words and the selected filters, and only where that finds
    builds (a version another product has is no help)."""
    if state.q.startswith("'"):
        return []  # a raw query string: its words are Lucene's, not the search box's
    words, offers = state.q.split(), {}
    for n, word in enumerate(words):
        if not _VERSION_LIKE.search(word):
            continue
        found = suggest(conn, {"v": {"text": word, "term": {"field": "target.version", "size": SUGGESTION_TRIES}}})
        for option in dict.fromkeys(o["text"] for entry in found["v"] for o in entry["options"]):
            candidate = dataclasses.replace(state, q=" ".join([*words[:n], option, *words[n + 1 :]]), page=1)
            if option not in offers and _finds_builds(conn, candidate):
                offers[option] = candidate.url()
            if len(offers) == SUGGESTIONS:
                break
    return [{"text": text, "url": url} for text, url in offers.items()]


def _finds_builds(conn: psycopg.Connection, state: State) -> bool:
    body = {"query": text_query(state.q), "post_filter": _filter(state.selected), "size": 0}
    return search(conn, body)["hits"]["total"] > 0


def _pages(state: State, total: int) -> list[dict[str, Any]]:
    last = min(max(math.ceil(total / PAGE_SIZE), 1), MAX_PAGE)
    shown = sorted({1, last, *range(max(state.page - 3, 1), min(state.page + 3, last) + 1)})
    return [{"number": n, "url": state.url(page=n), "current": n == state.page} for n in shown]


class Footer:
    """The missing-builds checks (completeness.py) for the page's footer, asked again at most once a
    minute and never by a page view: after the first, a view shows the last answer while a thread
    of the footer's own asks again (at two million builds the checks take seconds)."""

    TTL_SECONDS = 60.0

    def __init__(self, bucket: str | None, connect: Callable[[], AbstractContextManager[psycopg.Connection]]):
        self.bucket, self.connect = bucket, connect
        self._lock = threading.Lock()
        self._value: dict[str, Any] | None = None
        self._at = -math.inf
        self._asking = False

    def _ask(self) -> dict[str, Any]:
        with self.connect() as conn:
            pending = completeness.pending_keys(conn, self.bucket) if self.bucket else None
            return {"pending": pending, "gaps": completeness.missing_platforms(conn)}

    def _refresh(self) -> None:
        try:
            value = self._ask()
            with self._lock:
                self._value, self._at = value, time.monotonic()
        except psycopg.Error as err:  # the last answer stays shown; the next view asks again
            logging.getLogger(__name__).warning("the page's footer could not be refreshed: %s", err)
        finally:
            with self._lock:
                self._asking = False

    def read(self) -> dict[str, Any]:
        with self._lock:
            if self._value is not None:
                if time.monotonic() - self._at > self.TTL_SECONDS and not self._asking:
                    self._asking = True
                    threading.Thread(target=self._refresh, name="footer", daemon=True).start()
                return self._value
        value = self._ask()  # the first view waits for the first answer
        with self._lock:
            self._value, self._at = value, time.monotonic()
        return value


def render_search(conn: psycopg.Connection, state: State, footer: dict[str, Any] | None = None, nonce: str = "") -> str:
    """`nonce`: the response's Content-Security-Policy nonce, for the page's own script and style."""
    started = time.perf_counter()
    response, total, buckets = _answer(conn, state)
    took = round((time.perf_counter() - started) * 1000)
    hits = []
    for hit in response["hits"]["hits"]:
        document = hit["_source"]
        source = document.get("source", {})
        revision_url = (
            web_url(f"{source['repository']}/rev/{quote(str(source['revision']), safe='')}")
            if web_url(source.get("repository")) and source.get("revision")
            else None
        )
        hits.append(
            {"id": hit["_id"], "build": document, "marks": hit.get("highlight", {}), "revision_url": revision_url}
        )
    products = _buckets("product", buckets["product"], state)
    context = {
        "state": state,
        "hits": hits,
        "total": total,
        "took": took,
        "facets": {name: _buckets(name, buckets[name], state) for name in FACETS if name != "product"},
        "long_facets": LONG_FACETS,
        "facet_size": FACET_SIZE,
        "products": products,
        "all_products_url": state.url(selected={k: v for k, v in state.selected.items() if k != "product"}, page=1),
        "sorts": {key: label for key, (_, label) in SORTS.items()},
        "pages": _pages(state, total) if total else [],
        "past_the_end": total and (state.page - 1) * PAGE_SIZE >= total,
        "suggestions": _suggestion(conn, state) if not total and state.q else [],
        "footer": footer,
        "grace_hours": int(completeness.GRACE.total_seconds() // 3600),
        "removable": [
            {"facet": name, "value": v, "url": state.toggled(name, v)}
            for name, values in state.selected.items()
            for v in values
        ],
    }
    return TEMPLATES.get_template("search.html").render(**context, nonce=nonce)


def render_build(document: dict[str, Any] | None, build_id: str, nonce: str = "", raw_url: str | None = None) -> str:
    """`raw_url`: where the build's buildhub.json lives (the archive), linked beside the document."""
    return TEMPLATES.get_template("build.html").render(
        build=document, build_id=build_id, nonce=nonce, raw_url=web_url(raw_url)
    )


def render_error(message: str, nonce: str = "") -> str:
    return TEMPLATES.get_template("error.html").render(message=message, nonce=nonce)
