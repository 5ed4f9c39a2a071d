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
from ci_assets.defs.buildhub.search.query import condition
from ci_assets.defs.buildhub.search.sql_text import TRUE, Params, all_of
from ci_assets.defs.buildhub.search.suggest import suggest
from ci_assets.defs.buildhub.search.terms_filters import value_filters
from ci_assets.defs.buildhub.store import ORDER_COLUMNS, SCHEMA

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
    """A non-negative integer, as Elasticsearch takes it: a JSON integer or a string of one (it
    coerces those); a boolean, a fraction or anything else is refused."""
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SearchError(f"{name} must be an integer, got {value!r}")
    if value < 0:
        raise SearchError(f"{name} must not be negative, got {value}")
    return value


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


def _patterns(value: Any, spec: Any) -> list[re.Pattern[str]]:
    patterns = [value] if isinstance(value, str) else value
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
        raise SearchError(
            f"_source takes true, false, a pattern, a list of patterns or includes/excludes, got {spec!r}"
        )
    return [re.compile("^" + re.escape(p).replace(r"\*", ".*") + "$") for p in patterns]


def _pick(document: dict[str, Any], patterns: list[re.Pattern[str]], keep: bool) -> dict[str, Any]:
    """The fields (top-level or one level down, by dotted name) that match a pattern when `keep`,
    else the ones that match none."""
    out: dict[str, Any] = {}
    for top, inner in document.items():
        if any(p.match(top) for p in patterns):
            if keep:
                out[top] = inner
        elif isinstance(inner, dict):
            picked = {k: v for k, v in inner.items() if any(p.match(f"{top}.{k}") for p in patterns) == keep}
            if picked or not keep:
                out[top] = picked
        elif not keep:
            out[top] = inner
    return out


def _source(document: dict[str, Any], spec: Any) -> dict[str, Any]:
    if spec in (None, True):
        return document
    if spec is False:
        return {}
    if isinstance(spec, dict):
        unknown = set(spec) - {"includes", "include", "excludes", "exclude"}
        if unknown:
            raise SearchError(f"_source takes includes and excludes, not {sorted(unknown)}")
        includes = spec.get("includes", spec.get("include"))
        excludes = spec.get("excludes", spec.get("exclude"))
        kept = _pick(document, _patterns(includes, spec), keep=True) if includes not in (None, []) else document
        return _pick(kept, _patterns(excludes, spec), keep=False) if excludes not in (None, []) else kept
    return _pick(document, _patterns(spec, spec), keep=True)


def _sortable(target: Any) -> sql.Composable:
    """The field's value as its terms buckets order: text bytewise, as Elasticsearch compares terms."""
    if target.kind == "integer" or target.path in ORDER_COLUMNS:
        return target.order()
    return sql.SQL('({} COLLATE "C")').format(target.order())


def _page_of(where: sql.Composable, order: sql.Composable, size: int, start: int, params: Params) -> sql.Composable:
    """The (hash, document) pairs of one page of the rows `where` selects, in `order`: only the page
    reads the documents, after an ORDER BY … LIMIT the indexes serve. A hit's `_id` is its build's
    hash, which names the build whatever row holds it."""
    return sql.SQL(
        "(SELECT coalesce(json_agg(json_build_array(p.build_hash, p.build) ORDER BY p.n), '[]'::json) FROM "
        "(SELECT build_hash, build, row_number() OVER (ORDER BY {order}) AS n FROM "
        "(SELECT * FROM {table} WHERE {where} ORDER BY {order} LIMIT {size} OFFSET {start}) AS page) AS p)"
    ).format(order=order, table=TABLE, where=where, size=params.bind(size), start=params.bind(start))


def _hit(build_hash: Any, document: dict[str, Any], source: Any) -> dict[str, Any]:
    hit = {"_index": "buildhub2", "_type": "doc", "_id": str(build_hash), "_score": None}
    return hit | ({} if source is False else {"_source": _source(document, source)})


MAX_TOP_HITS = 100  # Elasticsearch's index.max_inner_result_window


# A request is one statement: its hits are the first rows of an ORDER BY … LIMIT that an index
# serves, and every count it asks for (the total, each filter's, each terms bucket's) comes out
# of one pass over the matching rows: a GROUPING SETS aggregate with a FILTER per count.
GROUPED = sql.SQL("grouped")
MAX_GROUPED_FIELDS = 31  # PostgreSQL's GROUPING() takes at most 31 arguments


@dataclasses.dataclass
class Part:
    select: sql.Composable
    decode: Callable[[Any], Any]


class Counts:
    """The counts a request asks for, gathered into the one grouped pass over the matched rows."""

    def __init__(self, where: sql.Composable, params: Params):
        self.where, self.params = where, params
        self.keys: dict[str, sql.Composable] = {}  # field name -> its key column's expression
        self.aggregates: list[sql.Composable] = []
        self._columns: dict[tuple[str, str], sql.Identifier] = {}

    def key(self, target: Any) -> tuple[sql.Identifier, sql.Composable]:
        """The key column grouping `target` (a grouping set of its own), and that set's mark."""
        if target.name not in self.keys:
            if len(self.keys) == MAX_GROUPED_FIELDS:
                raise SearchError(f"terms aggregations on at most {MAX_GROUPED_FIELDS} fields in one search")
            self.keys[target.name] = target.text()
        index = list(self.keys).index(target.name)
        return sql.Identifier(f"k{index}"), sql.SQL("{} = {}").format(
            sql.Identifier("grouping_set"), sql.Literal(f"k{index}")
        )

    def count(self, condition: sql.Composable) -> sql.Identifier:
        return self.aggregate(sql.SQL("count(*)"), condition)

    def aggregate(self, expression: sql.Composable, condition: sql.Composable) -> sql.Identifier:
        # A filter's count and its terms' counts share their condition: computed once.
        seen = (expression.as_string(), condition.as_string())
        if seen not in self._columns:
            name = sql.Identifier(f"n{len(self.aggregates)}")
            self.aggregates.append(sql.SQL("{} FILTER (WHERE {}) AS {}").format(expression, condition, name))
            self._columns[seen] = name
        return self._columns[seen]

    def total(self) -> sql.Composable:
        """Rows of the grouping set of all matched rows."""
        return sql.SQL("{} = ''").format(sql.Identifier("grouping_set"))

    def statement(self) -> sql.Composable:
        keys = [sql.SQL("{} AS {}").format(e, sql.Identifier(f"k{i}")) for i, e in enumerate(self.keys.values())]
        names = [sql.Identifier(f"k{i}") for i in range(len(self.keys))]
        source = sql.SQL("(SELECT *{} FROM {} WHERE {}) AS m").format(
            sql.SQL("").join(sql.SQL(", {}").format(k) for k in keys), TABLE, self.where
        )
        if not names:
            return sql.SQL("SELECT '' AS grouping_set, {} FROM {}").format(sql.SQL(", ").join(self.aggregates), source)
        # GROUPING() marks each row with the set it belongs to: all bits set but the key's.
        full = (1 << len(names)) - 1
        which = sql.SQL("CASE GROUPING({}) WHEN {} THEN '' {} END").format(
            sql.SQL(", ").join(names),
            sql.Literal(full),
            sql.SQL(" ").join(
                sql.SQL("WHEN {} THEN {}").format(sql.Literal(full ^ (1 << (len(names) - 1 - i))), sql.Literal(f"k{i}"))
                for i in range(len(names))
            ),
        )
        return sql.SQL("SELECT {} AS grouping_set, {}, {} FROM {} GROUP BY GROUPING SETS ((), {})").format(
            which,
            sql.SQL(", ").join(names),
            sql.SQL(", ").join(self.aggregates),
            source,
            sql.SQL(", ").join(sql.SQL("({})").format(n) for n in names),
        )


def _aggregation(name: str, spec: Any, where: sql.Composable, counts: Counts) -> Part:
    params = counts.params
    if not isinstance(spec, dict):
        raise SearchError(f"aggregation {name!r} must be an object")
    subs = spec.get("aggs", spec.get("aggregations"))
    kinds = [k for k in spec if k not in ("aggs", "aggregations", "meta")]
    if len(kinds) != 1:
        raise SearchError(f"aggregation {name!r} must have exactly one type, got {kinds}")
    kind, body = kinds[0], spec[kinds[0]]
    if kind == "filter":
        narrowed = all_of([where, condition(body, params, filtering=True)])
        count = sql.SQL("(SELECT {} FROM {} WHERE {})").format(counts.count(narrowed), GROUPED, counts.total())
        inner = _aggregations(subs or {}, narrowed, counts)
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
    if kind == "top_hits":
        return _top_hits(name, body, where, counts)
    if not isinstance(body, dict):
        raise SearchError(f"{kind} aggregation {name!r} takes an object")
    target = field(body.get("field"))
    if kind == "cardinality":
        # Its own scan: a DISTINCT aggregate would make the grouped pass sort instead of hash.
        select = sql.SQL("(SELECT count(DISTINCT {}) FROM {} WHERE {} AND {})").format(
            target.text(), TABLE, counts.where, where
        )
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
        minimum = _int(body.get("min_doc_count", 1), "min_doc_count")
        column, in_set = counts.key(target)
        exact, keep = value_filters(target, body, params)
        counted = all_of([where, *exact])
        doc_count = counts.count(counted)
        # A bucket's rank is its key as the field sorts (a version in release order, by the key the
        # store keeps beside it; an integer as a number); ties in count go by it, ascending.
        rank = counts.aggregate(sql.SQL("max({})").format(_sortable(target)), counted)
        found = sql.SQL(
            "SELECT {column} AS key, {doc_count} AS doc_count, {rank} AS rank FROM {grouped} "
            "WHERE {in_set} AND {column} IS NOT NULL"
        ).format(column=column, doc_count=doc_count, rank=rank, grouped=GROUPED, in_set=in_set)
        if minimum == 0:
            # Elasticsearch's zero buckets: every value the index holds for the field, found or not.
            found = sql.SQL(
                "SELECT v.key, coalesce(f.doc_count, 0) AS doc_count, v.rank FROM "
                "(SELECT {text} AS key, max({sortable}) AS rank FROM {table} WHERE {text} IS NOT NULL "
                "AND {exact} GROUP BY 1) AS v LEFT JOIN ({found}) AS f ON f.key = v.key"
            ).format(text=target.text(), sortable=_sortable(target), table=TABLE, exact=all_of(exact), found=found)
        tie = sql.SQL('rank ASC, key COLLATE "C" ASC')
        if key == "_count":
            ordering = sql.SQL("doc_count {}, {}").format(direction_sql, tie)
        else:
            ordering = sql.SQL('rank {d}, key COLLATE "C" {d}').format(d=direction_sql)
        # Every bucket is ranked: the first `size` are answered, the rest are summed into
        # sum_other_doc_count (what Elasticsearch says exists beyond the buckets it returns). With a
        # pattern, every ranked bucket comes back and the pattern picks among them here.
        answered = sql.SQL("n <= {}").format(params.bind(size)) if keep is None else sql.SQL("true")
        select = sql.SQL(
            "(SELECT json_build_array("
            "coalesce(json_agg(json_build_array(key, doc_count) ORDER BY n) FILTER (WHERE {answered}), '[]'::json), "
            "coalesce(sum(doc_count) FILTER (WHERE NOT ({answered})), 0)) FROM "
            "(SELECT key, doc_count, row_number() OVER (ORDER BY {ordering}) AS n FROM "
            "({found}) AS a WHERE doc_count >= {minimum}) AS b)"
        ).format(answered=answered, ordering=ordering, found=found, minimum=params.bind(minimum))

        def decode_terms(value: list[Any]) -> dict[str, Any]:
            found, other = value
            if keep is not None:
                kept = [(k, c) for k, c in found if keep(str(k))]
                found, other = kept[:size], sum(c for _, c in kept[size:])
            buckets = [{"key": int(k) if target.kind == "integer" else k, "doc_count": c} for k, c in found]
            return {"doc_count_error_upper_bound": 0, "sum_other_doc_count": int(other), "buckets": buckets}

        return Part(select, decode_terms)
    raise SearchError(f"unknown aggregation type {kind!r}")


def _top_hits(name: str, body: Any, where: sql.Composable, counts: Counts) -> Part:
    """The first documents of the aggregation's scope (SearchKit asks for one, without its source,
    when a query and a filter combine)."""
    if not isinstance(body, dict):
        raise SearchError(f"top_hits aggregation {name!r} takes an object")
    unknown = set(body) - {"size", "from", "sort", "_source"}
    if unknown:
        raise SearchError(f"top_hits aggregation {name!r} does not take {sorted(unknown)}")
    size, start = _int(body.get("size", 3), "top_hits size"), _int(body.get("from", 0), "top_hits from")
    if start + size > MAX_TOP_HITS:
        raise SearchError(
            f"Top hits result window is too large, the top hits aggregator [{name}]'s from + size must be less "
            f"than or equal to: [{MAX_TOP_HITS}] but was [{start + size}]."
        )
    source = body.get("_source")
    _source({}, source)  # refused before the query runs
    count = sql.SQL("(SELECT {} FROM {} WHERE {})").format(counts.count(where), GROUPED, counts.total())
    page = _page_of(all_of([counts.where, where]), _sort(body.get("sort", [])), size, start, counts.params)

    def decode_top_hits(value: list[Any]) -> dict[str, Any]:
        total, found = value
        hits = [_hit(stored_hash, document, source) for stored_hash, document in found]
        return {"hits": {"total": total, "max_score": None, "hits": hits}}

    return Part(sql.SQL("json_build_array({}, {})").format(count, page), decode_top_hits)


def _aggregations(specs: Any, where: sql.Composable, counts: Counts) -> dict[str, Part]:
    if not isinstance(specs, dict):
        raise SearchError("aggs must be an object")
    return {name: _aggregation(name, spec, where, counts) for name, spec in specs.items()}


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
        raise SearchError(
            f"Result window is too large, from + size must be less than or equal to: [{MAX_WINDOW}] but was "
            f"[{start + size}]. See the scroll api for a more efficient way to request large data sets. This limit "
            "can be set by changing the [index.max_result_window] index level setting."
        )
    _source({}, body.get("_source"))  # refused before the query runs, whatever it finds
    params = Params()
    query = body.get("query", {"match_all": {}})
    where = condition(query, params)
    highlight = highlighter(body.get("highlight"), query)
    post = condition(body["post_filter"], params, filtering=True) if "post_filter" in body else TRUE
    order = _sort(body.get("sort", []))
    specs = body.get("aggs", body.get("aggregations"))
    counts = Counts(where, params)
    total = counts.count(post)
    aggs = _aggregations(specs or {}, TRUE, counts)
    hits = _page_of(all_of([where, post]), order, size, start, params)
    # Elasticsearch 6.6's track_total_hits: false answers total -1 and spares the count.
    counted = body.get("track_total_hits", True) is not False
    total_select = sql.SQL("(SELECT {} FROM {} WHERE {})").format(total, GROUPED, counts.total()) if counted else None
    selects = [total_select or sql.SQL("-1"), hits]
    selects += [part.select for part in aggs.values()]
    statement = sql.SQL("WITH grouped AS ({}) SELECT {}").format(counts.statement(), sql.SQL(", ").join(selects))
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
                _hit(key, document, body.get("_source")) | ({"highlight": highlight(document)} if highlight else {})
                for key, document in found
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
