"""A terms aggregation's `include` and `exclude`, as Elasticsearch reads them: a list of exact
values, or a Lucene regular expression a bucket's whole key must match."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psycopg import sql

from ci_assets.defs.buildhub.search.fields import SearchError
from ci_assets.defs.buildhub.search.lucene_regexp import compile_pattern
from ci_assets.defs.buildhub.search.sql_text import Params, none_of


def value_filters(
    target: Any, body: dict[str, Any], params: Params
) -> tuple[list[sql.Composable], Callable[[str], bool] | None]:
    """A terms aggregation's `include` and `exclude`: lists of exact values become conditions of
    the count; patterns (Lucene regular expressions, lucene_regexp.py) a test of each bucket's key."""
    exact: list[sql.Composable] = []
    tests: list[Callable[[str], bool]] = []
    for name, negate in (("include", False), ("exclude", True)):
        if name not in body:
            continue
        spec = body[name]
        if isinstance(spec, list) and all(isinstance(v, (str, int, float)) and not isinstance(v, bool) for v in spec):
            test = sql.SQL("{} = ANY({})").format(target.text(), params.bind([str(v) for v in spec]))
            # A document without the field is in no bucket either way.
            exact.append(none_of([test]) if negate else test)
        elif isinstance(spec, str):
            if target.kind == "integer":
                raise SearchError(f"terms {name} as a regular expression applies to string fields only")
            matches = compile_pattern(spec)
            tests.append((lambda value, m=matches: not m(value)) if negate else matches)
        else:
            raise SearchError(f"terms {name} takes a pattern or a list of values, got {spec!r}")
    return exact, (lambda value: all(t(value) for t in tests)) if tests else None
