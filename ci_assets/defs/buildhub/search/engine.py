"""An Elasticsearch-6-shaped search over PostgreSQL: request body in, response body out."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from ci_assets.defs.buildhub.search.fields import SearchError, field
from ci_assets.defs.buildhub.search.highlight import highlighter
from ci_assets.defs.buildhub.search.query import TRUE, Params, all_of, condition
from ci_assets.defs.buildhub.search.suggest import suggest
from ci_assets.defs.buildhub.store import ORDER_COLUMNS, SCHEMA, SEARCH_COLUMNS

MAX_SIZE = 1000
MAX_WINDOW = 10_000
MAX_BUCKETS = 1000
TABLE = sql.SQL(f"{SCHEMA}.main_build")
KNOWN_KEYS = {
    "query",
    "post_filter",
    "from",
    "size",
    "sort",
    "_source",
    "aggs",
    "aggregations",
    "track_total_hits",
    "highlight",
    "suggest",
}


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
        parts.append(sql.SQL("{} {}").format(field(name).order(), direction))
    parts.append(sql.SQL("id DESC"))
    return sql.SQL(", ").join(parts)


def _source(document: dict[str, Any], includes: Any) -> dict[str, Any]:
    if includes in (None, True):
        return document
    if includes is False:
        return {}
    if isinstance(includes, dict):
        includes = includes.get("includes", includes.get("include", []))
    patterns = [includes] if isinstance(includes, str) else includes
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise SearchError(f"_source takes true, false, a pattern or a list of patterns, got {includes!r}")
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


# Every part of a response is a scalar subquery over one materialized set of matching
# rows, so a request costs one statement and one index scan, whatever it asks for.
MATCHED = sql.SQL("matched")
_DOCUMENT = re.compile(r"\bbuild\b")


@dataclasses.dataclass
class Part:
    select: sql.Composable
    decode: Callable[[Any], Any]


def _aggregation(name: str, spec: Any, where: sql.Composable, params: Params) -> Part:
    if not isinstance(spec, dict):
        raise SearchError(f"aggregation {name!r} must be an object")
    subs = spec.get("aggs", spec.get("aggregations"))
    kinds = [k for k in spec if k not in ("aggs", "aggregations", "meta")]
    if len(kinds) != 1:
        raise SearchError(f"aggregation {name!r} must have exactly one type, got {kinds}")
    kind, body = kinds[0], spec[kinds[0]]
    if kind == "filter":
        narrowed = all_of([where, condition(body, params)])
        count = sql.SQL("(SELECT count(*) FROM {} WHERE {})").format(MATCHED, narrowed)
        inner = _aggregations(subs or {}, narrowed, params)
        names = list(inner)
        select = sql.SQL("json_build_array({}{})").format(
            count, sql.SQL("").join(sql.SQL(", {}").format(inner[n].select) for n in names)
        )

        def decode_filter(value: list[Any]) -> dict[str, Any]:
            out: dict[str, Any] = {"doc_count": value[0]}
            out.update({n: inner[n].decode(v) for n, v in zip(names, value[1:], strict=True)})
            return out

        return Part(select, decode_filter)
    if subs:
        raise SearchError(f"sub-aggregations are supported under filter aggregations only, not {kind!r}")
    if not isinstance(body, dict):
        raise SearchError(f"{kind} aggregation {name!r} takes an object")
    target = field(body.get("field"))
    if kind == "cardinality":
        select = sql.SQL("(SELECT count(DISTINCT {}) FROM {} WHERE {})").format(target.text(), MATCHED, where)
        return Part(select, lambda value: {"value": value})
    if kind == "terms":
        size = _int(body.get("size", 10), "terms size")
        if size > MAX_BUCKETS:
            raise SearchError(f"terms size too large ({size})")
        order = body.get("order", {"_count": "desc"})
        ((key, direction),) = order.items() if isinstance(order, dict) and len(order) == 1 else [(None, None)]
        if key not in ("_count", "_term", "_key") or str(direction).lower() not in ("asc", "desc"):
            raise SearchError(f"terms order must be one of _count, _term, _key with asc or desc, got {order!r}")
        direction_sql = sql.SQL(str(direction).upper())
        # A version's buckets sort in release order, by the key the store keeps beside it.
        ordering = (
            sql.SQL("doc_count {}, key ASC").format(direction_sql)
            if key == "_count"
            else sql.SQL("max({}) {}, key {}").format(target.order(), direction_sql, direction_sql)
        )
        filters = [where, sql.SQL("{} IS NOT NULL").format(target.text())]
        if "include" in body:
            filters.append(sql.SQL("{} ~ {}").format(target.text(), params.bind(f"^(?:{body['include']})$")))
        select = sql.SQL(
            "(SELECT coalesce(json_agg(json_build_array(key, doc_count)), '[]'::json) FROM "
            "(SELECT {} AS key, count(*) AS doc_count FROM {} WHERE {} GROUP BY 1 ORDER BY {} LIMIT {}) AS b)"
        ).format(target.text(), MATCHED, all_of(filters), ordering, params.bind(size))

        def decode_terms(value: list[list[Any]]) -> dict[str, Any]:
            buckets = [{"key": int(k) if target.kind == "integer" else k, "doc_count": c} for k, c in value]
            return {"doc_count_error_upper_bound": 0, "sum_other_doc_count": 0, "buckets": buckets}

        return Part(select, decode_terms)
    raise SearchError(f"unknown aggregation type {kind!r}")


def _aggregations(specs: Any, where: sql.Composable, params: Params) -> dict[str, Part]:
    if not isinstance(specs, dict):
        raise SearchError("aggs must be an object")
    return {name: _aggregation(name, spec, where, params) for name, spec in specs.items()}


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
    _source({}, body.get("_source"))  # refused before the query runs, whatever it finds
    params = Params()
    query = body.get("query", {"match_all": {}})
    where = condition(query, params)
    highlight = highlighter(body.get("highlight"), query)
    post = condition(body["post_filter"], params) if "post_filter" in body else TRUE
    order = _sort(body.get("sort", []))
    specs = body.get("aggs", body.get("aggregations"))
    aggs = _aggregations(specs or {}, TRUE, params)
    # The matched rows carry only the indexed columns unless some part of the request reads
    # the document itself; then the index alone can answer counts, facets and ordering, and
    # only the page of hits is fetched from the table.
    parts = [where, post, order, *(part.select for part in aggs.values())]
    reads_document = any(_DOCUMENT.search(part.as_string(conn)) for part in parts)
    columns = sql.SQL(", ").join(sql.Identifier(c) for c in ("id", *SEARCH_COLUMNS.values(), *ORDER_COLUMNS.values()))
    kept = sql.SQL("*") if reads_document else columns
    hits = sql.SQL(
        "(SELECT coalesce(json_agg(json_build_array(p.id, t.build) ORDER BY p.n), '[]'::json) FROM "
        "(SELECT id, row_number() OVER (ORDER BY {order}) AS n FROM "
        "(SELECT * FROM {m} WHERE {post} ORDER BY {order} LIMIT {size} OFFSET {start}) AS page) AS p "
        "JOIN {table} AS t ON t.id = p.id)"
    ).format(order=order, m=MATCHED, post=post, size=params.bind(size), start=params.bind(start), table=TABLE)
    selects = [sql.SQL("(SELECT count(*) FROM {} WHERE {})").format(MATCHED, post), hits]
    selects += [part.select for part in aggs.values()]
    statement = sql.SQL("WITH matched AS MATERIALIZED (SELECT {} FROM {} WHERE {}) SELECT {}").format(
        kept, TABLE, where, sql.SQL(", ").join(selects)
    )
    row = conn.execute(statement, params).fetchone()
    assert row is not None
    total, found, *values = row
    response: dict[str, Any] = {
        "took": 0,
        "timed_out": False,
        "hits": {
            "total": total,
            "max_score": None,
            "hits": [
                {
                    "_index": "buildhub2",
                    "_type": "doc",
                    "_id": str(row_id),
                    "_score": None,
                    "_source": _source(document, body.get("_source")),
                }
                | ({"highlight": highlight(document)} if highlight else {})
                for row_id, document in found
            ],
        },
    }
    if "suggest" in body:
        response["suggest"] = suggest(conn, body["suggest"])
    if specs:
        response["aggregations"] = {
            name: part.decode(value) for (name, part), value in zip(aggs.items(), values, strict=True)
        }
    return response
