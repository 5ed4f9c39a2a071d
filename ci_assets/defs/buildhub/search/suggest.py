"""`suggest` in Elasticsearch's shape: term suggestions from a field's values (the page asks for
`target.version` when a query finds nothing: "did you mean 54.0.1?")."""

from __future__ import annotations

import difflib
from typing import Any

import psycopg
from psycopg import sql

from ci_assets.defs.buildhub.search.fields import SearchError, field
from ci_assets.defs.buildhub.store import SCHEMA

MAX_SUGGESTIONS = 20


def _values(conn: psycopg.Connection, name: str) -> dict[str, int]:
    target = field(name)
    statement = sql.SQL("SELECT {} AS value, count(*) FROM {}.main_build WHERE {} IS NOT NULL GROUP BY 1").format(
        target.text(), sql.Identifier(SCHEMA), target.text()
    )
    return {str(value): count for value, count in conn.execute(statement)}


def _suggester(name: str, spec: Any, text: Any) -> tuple[str, str, int, str]:
    if not isinstance(spec, dict):
        raise SearchError(f"suggestion {name!r} must be an object")
    kinds = [k for k in spec if k in ("term", "phrase")]
    if len(kinds) != 1:
        raise SearchError(f"suggestion {name!r} takes one of term or phrase")
    body = spec[kinds[0]]
    if not isinstance(body, dict) or not isinstance(body.get("field"), str):
        raise SearchError(f"suggestion {name!r} takes {{{kinds[0]}: {{field: name}}}}")
    words = spec.get("text", text)
    if not isinstance(words, str):
        raise SearchError(f"suggestion {name!r} has no text")
    size = body.get("size", 5)
    if not isinstance(size, int) or not 0 < size <= MAX_SUGGESTIONS:
        raise SearchError(f"suggestion size must be a number from 1 to {MAX_SUGGESTIONS}")
    field(body["field"])
    return kinds[0], body["field"], size, words


def suggest(conn: psycopg.Connection, spec: Any) -> dict[str, Any]:
    if not isinstance(spec, dict):
        raise SearchError("suggest takes {name: {text, term: {field}}}")
    text = spec.get("text")
    requests = {name: _suggester(name, s, text) for name, s in spec.items() if name != "text"}
    values: dict[str, dict[str, int]] = {}
    out: dict[str, Any] = {}
    for name, (kind, name_of_field, size, words) in requests.items():
        known = values.setdefault(name_of_field, _values(conn, name_of_field))
        entries, offset = [], 0
        tokens = words.split() if kind == "term" else [words.strip()]
        for token in tokens:
            start = words.find(token, offset)
            offset = start + len(token)
            # suggest_mode "missing" (Elasticsearch's default): a term the field has needs no suggestion.
            close = [] if token in known else difflib.get_close_matches(token, known, n=size, cutoff=0.5)
            options = [
                {
                    "text": value,
                    "score": round(difflib.SequenceMatcher(None, token, value).ratio(), 3),
                    "freq": known[value],
                }
                for value in close
            ]
            entries.append({"text": token, "offset": start, "length": len(token), "options": options})
        out[name] = entries
    return out
