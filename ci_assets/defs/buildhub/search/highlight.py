"""`highlight` in Elasticsearch's shape: `hits.hits[].highlight.<field>` with the request's tags
around the values the query's terms match (as a prefix, case-insensitively: Buildhub's search box
matches `54` to 54.0.1)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any

from ci_assets.defs.buildhub.search.fields import SearchError, field

# Query-string syntax that is not a term: operators, grouping, quotes, boosts, a field's name.
_SYNTAX = re.compile(r'(?:\b[\w.]+:)|[()"+\-!|&~^*?\[\]{}\\/]|\b(?:AND|OR|NOT)\b')
_TEXT_CLAUSES = ("query_string", "simple_query_string", "multi_match", "match", "match_phrase", "match_phrase_prefix")
_VALUE_CLAUSES = ("term", "prefix", "wildcard")


def query_terms(query: Any) -> list[str]:
    """The words a request's query searches for, lower-cased, in order, without repeats."""
    found = dict.fromkeys(term.lower() for term in _terms(query) if term)
    return list(found)


def _terms(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _terms(item)
        return
    if not isinstance(node, dict):
        return
    for kind, body in node.items():
        if kind in _TEXT_CLAUSES:
            text = body.get("query") if isinstance(body, dict) else None
            if text is None and isinstance(body, dict) and len(body) == 1:  # {"match": {field: text}}
                (value,) = body.values()
                text = value.get("query") if isinstance(value, dict) else value
            if isinstance(text, str):
                yield from _SYNTAX.sub(" ", text.lstrip("'")).split()
        elif kind in _VALUE_CLAUSES and isinstance(body, dict) and len(body) == 1:
            (value,) = body.values()
            value = value.get("value") if isinstance(value, dict) else value
            if isinstance(value, str):
                yield value.rstrip("*?")
        else:
            yield from _terms(body)


def _tags(spec: dict[str, Any], name: str) -> str:
    tags = spec.get(name, ["<em>" if name == "pre_tags" else "</em>"])
    if not isinstance(tags, list) or not tags or not all(isinstance(t, str) for t in tags):
        raise SearchError(f"highlight {name} must be a list of strings")
    return tags[0]


def highlighter(spec: Any, query: Any) -> Any:
    """A function from a hit's document to its `highlight` object (None when the request asks none)."""
    if spec is None:
        return None
    if not isinstance(spec, dict) or not isinstance(spec.get("fields", {}), dict | list):
        raise SearchError("highlight takes {fields: {name: {}}}")
    requested = spec.get("fields", {})
    names = list(requested) if isinstance(requested, dict) else [n for f in requested for n in f]
    wanted = [field(name) for name in names]
    pre, post = _tags(spec, "pre_tags"), _tags(spec, "post_tags")
    escape = spec.get("encoder", "default") == "html"
    terms = query_terms(query)

    def highlight(document: dict[str, Any]) -> dict[str, list[str]]:
        out = {}
        for target in wanted:
            value: Any = document
            for part in target.path:
                value = value.get(part) if isinstance(value, dict) else None
            if value is None:
                continue
            text = str(value)
            if any(text.lower().startswith(term) for term in terms):
                out[target.name] = [f"{pre}{html.escape(text) if escape else text}{post}"]
        return out

    return highlight
