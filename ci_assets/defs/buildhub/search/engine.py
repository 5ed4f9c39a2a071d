"""An Elasticsearch-6-shaped search over PostgreSQL: request body in, response body out."""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg import sql

from ci_assets.defs.buildhub.search.fields import SearchError, field
from ci_assets.defs.buildhub.search.query import Params, all_of, condition
from ci_assets.defs.buildhub.store import SCHEMA

MAX_SIZE = 1000
MAX_WINDOW = 10_000
MAX_BUCKETS = 1000
TABLE = sql.SQL(f"{SCHEMA}.main_build")
KNOWN_KEYS = {"query", "post_filter", "from", "size", "sort", "_source", "aggs", "aggregations", "track_total_hits"}


def _int(value: Any, name: str) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise SearchError(f"{name} must be a number, got {value!r}") from None
    if number < 0:
        raise SearchError(f"{name} must not be negative")
    return number


def _sort(spec: Any) -> sql.Composable:
    items = spec if isinstance(spec, list) else [spec]
    parts: list[sql.Composable] = []
    for item in items:
        if isinstance(item, str):
            name, order = item, "asc"
        elif isinstance(item, dict) and len(item) == 1:
            ((name, order),) = item.items()
            order = order.get("order", "asc") if isinstance(order, dict) else order
        else:
            raise SearchError(f"cannot sort by {item!r}")
        if name in ("_score", "_doc"):
            continue
        if str(order).lower() not in ("asc", "desc"):
            raise SearchError(f"sort order must be asc or desc, got {order!r}")
        direction = sql.SQL("DESC NULLS LAST" if str(order).lower() == "desc" else "ASC NULLS LAST")
        parts.append(sql.SQL("{} {}").format(field(name).expr(), direction))
    parts.append(sql.SQL("id DESC"))
    return sql.SQL(", ").join(parts)


def _source(document: dict[str, Any], includes: Any) -> dict[str, Any]:
    if includes in (None, True):
        return document
    if includes is False:
        return {}
    if isinstance(includes, dict):
        includes = includes.get("includes", includes.get("include", []))
    patterns = [includes] if isinstance(includes, str) else list(includes)
    out: dict[str, Any] = {}
    for pattern in patterns:
        regex = re.compile("^" + re.escape(str(pattern)).replace(r"\*", ".*") + "$")
        for top, inner in document.items():
            if regex.match(top):
                out[top] = inner
            elif isinstance(inner, dict):
                picked = {k: v for k, v in inner.items() if regex.match(f"{top}.{k}")}
                if picked:
                    out.setdefault(top, {}).update(picked)
    return out


def _aggregation(conn: psycopg.Connection, name: str, spec: Any, where: sql.Composable, params: Params) -> Any:
    if not isinstance(spec, dict):
        raise SearchError(f"aggregation {name!r} must be an object")
    subs = spec.get("aggs", spec.get("aggregations"))
    kinds = [k for k in spec if k not in ("aggs", "aggregations", "meta")]
    if len(kinds) != 1:
        raise SearchError(f"aggregation {name!r} must have exactly one type, got {kinds}")
    kind, body = kinds[0], spec[kinds[0]]
    if kind == "filter":
        inner = Params(params)
        narrowed = all_of([where, condition(body, inner)])
        count = conn.execute(sql.SQL("SELECT count(*) FROM {} WHERE {}").format(TABLE, narrowed), inner).fetchone()
        result: dict[str, Any] = {"doc_count": count[0] if count else 0}
        result.update(aggregations(conn, subs or {}, narrowed, inner))
        return result
    if subs:
        raise SearchError(f"sub-aggregations are supported under filter aggregations only, not {kind!r}")
    if not isinstance(body, dict):
        raise SearchError(f"{kind} aggregation {name!r} takes an object")
    target = field(body.get("field"))
    if kind == "cardinality":
        row = conn.execute(
            sql.SQL("SELECT count(DISTINCT {}) FROM {} WHERE {}").format(target.text(), TABLE, where), params
        ).fetchone()
        return {"value": row[0] if row else 0}
    if kind == "terms":
        size = _int(body.get("size", 10), "terms size")
        if size > MAX_BUCKETS:
            raise SearchError(f"terms size too large ({size})")
        order = body.get("order", {"_count": "desc"})
        ((key, direction),) = order.items() if isinstance(order, dict) and len(order) == 1 else [(None, None)]
        if key not in ("_count", "_term", "_key") or str(direction).lower() not in ("asc", "desc"):
            raise SearchError(f"terms order must be one of _count, _term, _key with asc or desc, got {order!r}")
        direction_sql = sql.SQL(str(direction).upper())
        ordering = (
            sql.SQL("doc_count {}, key ASC").format(direction_sql)
            if key == "_count"
            else sql.SQL("key {}").format(direction_sql)
        )
        local = Params(params)
        filters = [where, sql.SQL("{} IS NOT NULL").format(target.text())]
        if "include" in body:
            filters.append(sql.SQL("{} ~ {}").format(target.text(), local.bind(f"^(?:{body['include']})$")))
        query = sql.SQL(
            "SELECT {} AS key, count(*) AS doc_count FROM {} WHERE {} GROUP BY 1 ORDER BY {} LIMIT {}"
        ).format(target.text(), TABLE, all_of(filters), ordering, local.bind(size))
        rows = conn.execute(query, local).fetchall()
        buckets = [{"key": int(k) if target.kind == "integer" else k, "doc_count": c} for k, c in rows]
        return {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": buckets}
    raise SearchError(f"unknown aggregation type {kind!r}")


def aggregations(conn: psycopg.Connection, specs: Any, where: sql.Composable, params: Params) -> dict[str, Any]:
    if not isinstance(specs, dict):
        raise SearchError("aggs must be an object")
    return {name: _aggregation(conn, name, spec, where, params) for name, spec in specs.items()}


def search(conn: psycopg.Connection, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise SearchError("the search body must be a JSON object")
    unknown = set(body) - KNOWN_KEYS
    if unknown:
        raise SearchError(f"unknown search parameter(s) {sorted(unknown)}")
    size = _int(body.get("size", 10), "size")
    start = _int(body.get("from", 0), "from")
    if size > MAX_SIZE:
        raise SearchError(f"Search size too large ({size})")
    if start + size > MAX_WINDOW:
        raise SearchError(f"from + size must not exceed {MAX_WINDOW} (got {start + size})")
    params = Params()
    where = condition(body.get("query", {"match_all": {}}), params)
    hit_params = Params(params)
    hit_where = all_of([where, condition(body["post_filter"], hit_params)]) if "post_filter" in body else where
    total_row = conn.execute(
        sql.SQL("SELECT count(*) FROM {} WHERE {}").format(TABLE, hit_where), hit_params
    ).fetchone()
    hits = []
    if size:
        query = sql.SQL("SELECT id, build FROM {} WHERE {} ORDER BY {} LIMIT {} OFFSET {}").format(
            TABLE, hit_where, _sort(body.get("sort", [])), hit_params.bind(size), hit_params.bind(start)
        )
        for row_id, document in conn.execute(query, hit_params).fetchall():
            hits.append(
                {
                    "_index": "buildhub2",
                    "_type": "doc",
                    "_id": str(row_id),
                    "_score": None,
                    "_source": _source(document, body.get("_source")),
                }
            )
    response: dict[str, Any] = {
        "took": 0,
        "timed_out": False,
        "hits": {"total": total_row[0] if total_row else 0, "max_score": None, "hits": hits},
    }
    specs = body.get("aggs", body.get("aggregations"))
    if specs:
        response["aggregations"] = aggregations(conn, specs, where, params)
    return response
