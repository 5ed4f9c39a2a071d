"""Elasticsearch 6 query clauses -> a PostgreSQL condition over `buildhub.main_build`.

Every value becomes a bound parameter; only field paths (checked against the
schema) and operators reach the SQL text. Equality uses jsonb containment, which
the GIN index on `build` answers.
"""

from __future__ import annotations

from typing import Any

from psycopg import sql

from ci_assets.defs.buildhub.search.datemath import resolve
from ci_assets.defs.buildhub.search.field_conditions import equals, like
from ci_assets.defs.buildhub.search.fields import SearchError, field, fields
from ci_assets.defs.buildhub.search.query_string import parse_query_string
from ci_assets.defs.buildhub.search.sql_text import TRUE, Params, all_of, any_of, escape_like, none_of, wildcard_pattern

MAX_DEPTH = 20
MAX_TERMS = 1024


def _single(clause: Any, name: str) -> tuple[str, Any]:
    if not isinstance(clause, dict) or len(clause) != 1:
        raise SearchError(f"{name} takes exactly one field, got {clause!r}")
    ((key, value),) = clause.items()
    if key == "" or value is None:
        raise SearchError(f"empty {name}")
    return key, value


def _value(value: Any, key: str = "value") -> Any:
    if isinstance(value, dict):
        if key not in value:
            raise SearchError(f"missing {key!r} in {value!r}")
        return value[key]
    return value


RANGE_OPS = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}


def condition(query: Any, params: Params, depth: int = 0, filtering: bool = False) -> sql.Composable:
    """`query` as a SQL condition; `filtering` is Elasticsearch's filter context (a post_filter, a
    filter aggregation, a bool's filter and must_not), where a bool's should clauses are required."""
    if depth > MAX_DEPTH:
        raise SearchError(f"query nested deeper than {MAX_DEPTH} levels")
    if not isinstance(query, dict) or len(query) != 1:
        raise SearchError(f"a query is an object with one clause, got {query!r}")
    ((kind, body),) = query.items()
    if kind == "match_all":
        return TRUE
    if kind in ("term", "match", "match_phrase"):
        name, value = _single(body, kind)
        return equals(name, _value(value, "value" if kind == "term" else "query"), params)
    if kind == "terms":
        if not isinstance(body, dict):
            raise SearchError("terms takes {field: [values]}")
        body = {k: v for k, v in body.items() if k != "boost"}
        name, values = _single(body, "terms")
        if not isinstance(values, list) or len(values) > MAX_TERMS:
            raise SearchError(f"terms takes a list of at most {MAX_TERMS} values")
        return any_of([equals(name, v, params) for v in values])
    if kind == "range":
        name, bounds = _single(body, "range")
        if not isinstance(bounds, dict):
            raise SearchError("range takes {field: {gte|gt|lte|lt: value}}")
        target = field(name)
        parts = []
        for op, value in bounds.items():
            if op in ("format", "boost", "time_zone"):
                continue
            if op not in RANGE_OPS:
                raise SearchError(f"unknown range operator {op!r}")
            bound = target.coerce(value)
            if target.kind == "date":
                bound = resolve(bound, op)
            parts.append(sql.SQL("{} {} {}").format(target.expr(), sql.SQL(RANGE_OPS[op]), params.bind(bound)))
        return all_of(parts)
    if kind == "prefix":
        name, value = _single(body, "prefix")
        return like(name, escape_like(str(_value(value))) + "%", params)
    if kind == "wildcard":
        name, value = _single(body, "wildcard")
        return like(name, wildcard_pattern(str(_value(value))), params)
    if kind == "exists":
        if not isinstance(body, dict) or "field" not in body:
            raise SearchError("exists takes {field: name}")
        return sql.SQL("(build #> {}) IS NOT NULL AND (build #> {}) <> 'null'::jsonb").format(
            sql.Literal(list(field(body["field"]).path)), sql.Literal(list(field(body["field"]).path))
        )
    if kind == "bool":
        return boolean(body, params, depth, filtering)
    if kind in ("query_string", "simple_query_string"):
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            raise SearchError(f"{kind} takes {{query: text}}")
        names = [str(f).split("^")[0] for f in body.get("fields", [])] or [
            n for n, f in fields().items() if f.kind == "string"
        ]
        for name in names:
            field(name)
        operator = str(body.get("default_operator", "or")).lower()
        if operator not in ("and", "or"):
            raise SearchError(f"default_operator must be AND or OR, got {operator!r}")
        tree = parse_query_string(body["query"], simple=kind == "simple_query_string")
        return tree.to_sql(names, operator, params)
    raise SearchError(f"unknown query clause {kind!r}")


def _clauses(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def boolean(body: Any, params: Params, depth: int, filtering: bool) -> sql.Composable:
    if not isinstance(body, dict):
        raise SearchError("bool takes an object")
    unknown = set(body) - {"must", "filter", "should", "must_not", "minimum_should_match", "boost"}
    if unknown:
        raise SearchError(f"unknown bool clause(s) {sorted(unknown)}")
    must = [condition(q, params, depth + 1, filtering) for q in _clauses(body.get("must", []))]
    must += [condition(q, params, depth + 1, True) for q in _clauses(body.get("filter", []))]
    must_not = [condition(q, params, depth + 1, True) for q in _clauses(body.get("must_not", []))]
    should = [condition(q, params, depth + 1, filtering) for q in _clauses(body.get("should", []))]
    parts = list(must)
    if must_not:
        parts.append(none_of(must_not))
    if should:
        # Elasticsearch 6's BoolQueryBuilder: one should clause is needed when nothing else is
        # required, and always in a filter context.
        default = 1 if filtering or not must else 0
        minimum = body.get("minimum_should_match", default)
        try:
            needed = int(str(minimum).rstrip("%")) if not str(minimum).endswith("%") else 0
            if str(minimum).endswith("%"):
                needed = len(should) * int(str(minimum)[:-1]) // 100
        except ValueError:
            raise SearchError(f"minimum_should_match must be a number, got {minimum!r}") from None
        if needed < 0:
            needed = max(len(should) + needed, 0)
        if needed == 1:
            parts.append(any_of(should))
        elif needed > 1:
            counted = sql.SQL(" + ").join(sql.SQL("(({}) IS TRUE)::int").format(s) for s in should)
            parts.append(sql.SQL("({}) >= {}").format(counted, sql.Literal(needed)))
    return all_of(parts)
