"""What Elasticsearch 6 answers for a search body, computed by brute force in plain Python over the
stored documents: the reference the search engine is held to (test_search_reference.py).

The index it stands for is Buildhub2's: one shard (so every `doc_count_error_upper_bound` is 0),
every field a keyword (strings match whole, integers as numbers, dates as instants), nothing
scored (hits without a sort keep the index's order: newest first). Versions are the one deliberate
difference from a stock index: `target.version` sorts in release order (test_versions.reference),
as the page promises. It reads only well-formed requests; refusals are test_search.py's.

A query-string query is given here as a tree (`QS`) the generator renders to text, so the
reference never parses Lucene syntax: the engine's parser is under test, not trusted.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import re
from collections import Counter
from typing import Any

from dateutil.relativedelta import relativedelta

from ci_assets.defs.buildhub.search.fields import fields
from ci_assets_tests.defs.buildhub.test_versions import reference as version_order

MISSING = object()


def value_of(document: dict[str, Any], name: str) -> Any:
    node: Any = document
    for part in name.removesuffix(".keyword").split("."):
        if not isinstance(node, dict) or part not in node:
            return MISSING
        node = node[part]
    return MISSING if node is None else node


def kind_of(name: str) -> str:
    return fields()[name.removesuffix(".keyword")].kind


def _instant(text: str) -> dt.datetime:
    """A date as Elasticsearch's default format (strict_date_optional_time) reads it."""
    at = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


_UNITS = {
    "y": relativedelta(years=1),
    "M": relativedelta(months=1),
    "w": relativedelta(weeks=1),
    "d": relativedelta(days=1),
    "h": relativedelta(hours=1),
    "H": relativedelta(hours=1),
    "m": relativedelta(minutes=1),
    "s": relativedelta(seconds=1),
}


def _round_down(at: dt.datetime, unit: str) -> dt.datetime:
    if unit == "w":
        return (at - relativedelta(days=at.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    names = ["month", "day", "hour", "minute", "second", "microsecond"]
    keep = {"y": 0, "M": 1, "d": 2, "h": 3, "H": 3, "m": 4, "s": 5}[unit]
    return at.replace(**{n: (1 if n in ("month", "day") else 0) for n in names[keep:]})


def date_bound(text: str, op: str, now: dt.datetime) -> dt.datetime:
    """A range bound on a date field: Elasticsearch's date math, where a rounding rounds up to the
    unit's last millisecond for gt and lte."""
    if text.startswith("now"):
        at, math = now, text[3:]
    elif "||" in text:
        anchor, math = text.split("||", 1)
        at = _instant(anchor)
    else:
        at, math = _instant(text), ""
    for sign, amount, unit, rounding in re.findall(r"([+-])(\d+)([yMwdhHms])|/([yMwdhHms])", math):
        if rounding:
            at = _round_down(at, rounding)
            if op in ("gt", "lte"):
                at = at + _UNITS[rounding] - dt.timedelta(milliseconds=1)
        else:
            at = at + _UNITS[unit] * (int(amount) if sign == "+" else -int(amount))
    return at


def _comparable(name: str, value: Any) -> Any:
    kind = kind_of(name)
    if kind == "integer":
        return int(value)
    if kind == "date":
        return _instant(str(value))
    return str(value)


def _equal(name: str, stored: Any, wanted: Any) -> bool:
    if stored is MISSING:
        return False
    if kind_of(name) == "integer":
        return int(stored) == int(wanted)
    return str(stored) == str(wanted)


def _glob(pattern: str) -> re.Pattern[str]:
    """Lucene's wildcard: `*` any run, `?` one character, the rest literal."""
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), re.DOTALL)


@dataclasses.dataclass
class QS:
    """A query string as a tree: op is "term", "phrase", "and", "or", "not" or "implicit" (words
    side by side, joined by the default operator; a negated child excludes under either)."""

    op: str
    children: list[QS] = dataclasses.field(default_factory=list)
    value: str = ""
    field: str | None = None


def _qs_matches(node: QS, document: dict[str, Any], names: list[str], default: str) -> bool:
    if node.op in ("term", "phrase"):
        targets = [node.field] if node.field else names
        if node.op == "term" and ("*" in node.value or "?" in node.value):
            if node.value == "*":
                return True
            pattern = _glob(node.value)
            return any((v := value_of(document, t)) is not MISSING and pattern.fullmatch(str(v)) for t in targets)
        # A word searched in an integer field it cannot be is skipped (the default fields are lenient).
        return any(
            _equal(t, value_of(document, t), node.value)
            for t in targets
            if kind_of(t) != "integer" or re.fullmatch(r"-?\d+", node.value)
        )
    found = [_qs_matches(c, document, names, default) for c in node.children]
    if node.op == "not":
        return not found[0]
    if node.op == "and":
        return all(found)
    if node.op == "or":
        return any(found)
    negated = [f for c, f in zip(node.children, found, strict=True) if c.op == "not"]
    positive = [f for c, f in zip(node.children, found, strict=True) if c.op != "not"]
    joined = (all(positive) if default == "and" else any(positive)) if positive else True
    return joined and all(negated)


class Reference:
    """The documents in the order they were indexed; `search(body)` is Elasticsearch 6's answer."""

    def __init__(self, documents: list[tuple[str, dict[str, Any]]], now: dt.datetime | None = None):
        self.documents = documents  # (build hash, document), oldest first
        self.now = now or dt.datetime.now(dt.UTC)

    # -- queries --------------------------------------------------------------------------
    def matches(self, query: Any, document: dict[str, Any], filter_context: bool) -> bool:
        ((kind, body),) = query.items()
        if kind == "match_all":
            return True
        if kind in ("term", "match", "match_phrase"):
            ((name, wanted),) = body.items()
            if isinstance(wanted, dict):
                wanted = wanted["value" if kind == "term" else "query"]
            return _equal(name, value_of(document, name), wanted)
        if kind == "terms":
            ((name, values),) = ((k, v) for k, v in body.items() if k != "boost")
            return any(_equal(name, value_of(document, name), v) for v in values)
        if kind == "range":
            ((name, bounds),) = body.items()
            stored = value_of(document, name)
            if stored is MISSING:
                return False
            have = _comparable(name, stored)
            for op, bound in bounds.items():
                if op in ("format", "boost", "time_zone"):
                    continue
                want = date_bound(str(bound), op, self.now) if kind_of(name) == "date" else _comparable(name, bound)
                if not {"gt": have > want, "gte": have >= want, "lt": have < want, "lte": have <= want}[op]:
                    return False
            return True
        if kind in ("prefix", "wildcard"):
            ((name, wanted),) = body.items()
            wanted = str(wanted["value"] if isinstance(wanted, dict) else wanted)
            stored = value_of(document, name)
            if stored is MISSING:
                return False
            return str(stored).startswith(wanted) if kind == "prefix" else bool(_glob(wanted).fullmatch(str(stored)))
        if kind == "exists":
            return value_of(document, body["field"]) is not MISSING
        if kind == "bool":
            return self._bool(body, document, filter_context)
        if kind in ("query_string", "simple_query_string"):
            names = [str(f).split("^")[0] for f in body.get("fields", [])] or [
                n for n, f in fields().items() if f.kind == "string"
            ]
            default = str(body.get("default_operator", "or")).lower()
            return _qs_matches(body["tree"], document, names, default)
        raise ValueError(f"the reference does not know {kind!r}")

    def _bool(self, body: dict[str, Any], document: dict[str, Any], filter_context: bool) -> bool:
        def listed(key: str) -> list[Any]:
            value = body.get(key, [])
            return value if isinstance(value, list) else [value]

        required = listed("must") + listed("filter")
        if not all(self.matches(q, document, filter_context or q in listed("filter")) for q in required) or any(
            self.matches(q, document, True) for q in listed("must_not")
        ):
            return False
        should = listed("should")
        if not should:
            return True
        minimum = body.get("minimum_should_match")
        if minimum is None:
            # Lucene needs a should clause only when nothing else is required; Elasticsearch 6
            # asks for one in a filter context whatever else there is (BoolQueryBuilder).
            needed = 1 if filter_context or not required else 0
        else:
            text = str(minimum)
            needed = len(should) * int(text[:-1]) // 100 if text.endswith("%") else int(text)
            if needed < 0:
                needed = max(len(should) + needed, 0)
        return sum(self.matches(q, document, filter_context) for q in should) >= needed

    def select(self, query: Any, filter_context: bool = False) -> list[int]:
        """Indexes of the documents `query` matches."""
        return [i for i, (_, d) in enumerate(self.documents) if self.matches(query, d, filter_context)]

    # -- order ----------------------------------------------------------------------------
    def ordered(self, chosen: list[int], spec: Any) -> list[int]:
        items = spec if isinstance(spec, list) else [spec] if spec else []
        keys: list[tuple[str, bool]] = []
        for item in items:
            if isinstance(item, str):
                name, order = item, "asc"
            else:
                ((name, order),) = item.items()
                order = order.get("order", "asc") if isinstance(order, dict) else order
            if name not in ("_score", "_doc"):
                keys.append((name, str(order).lower() == "desc"))

        def compare(a: int, b: int) -> int:
            for name, descending in keys:
                va, vb = value_of(self.documents[a][1], name), value_of(self.documents[b][1], name)
                if va is MISSING or vb is MISSING:  # missing sorts last either way
                    if va is MISSING and vb is MISSING:
                        continue
                    return 1 if va is MISSING else -1
                found = self.compare_values(name, va, vb)
                if found:
                    return -found if descending else found
            return b - a  # newest first

        return sorted(chosen, key=functools.cmp_to_key(compare))

    @staticmethod
    def compare_values(name: str, a: Any, b: Any) -> int:
        if name.removesuffix(".keyword") == "target.version":
            return version_order(str(a), str(b))
        ca, cb = _comparable(name, a), _comparable(name, b)
        return (ca > cb) - (ca < cb)

    # -- the response -----------------------------------------------------------------------
    def hit(self, index: int, source: Any) -> dict[str, Any]:
        build_hash, document = self.documents[index]
        hit = {"_index": "buildhub2", "_type": "doc", "_id": build_hash, "_score": None}
        return hit | ({} if source is False else {"_source": source_filtered(document, source)})

    def search(self, body: dict[str, Any]) -> dict[str, Any]:
        scope = self.select(body.get("query", {"match_all": {}}))
        shown = scope
        if "post_filter" in body:
            shown = [i for i in scope if self.matches(body["post_filter"], self.documents[i][1], True)]
        ordered = self.ordered(shown, body.get("sort"))
        start, size = int(body.get("from", 0)), int(body.get("size", 10))
        response: dict[str, Any] = {
            "took": 0,
            "timed_out": False,
            "hits": {
                "total": len(shown),
                "max_score": None,
                "hits": [self.hit(i, body.get("_source")) for i in ordered[start : start + size]],
            },
        }
        specs = body.get("aggs", body.get("aggregations"))
        if specs:
            response["aggregations"] = {name: self.aggregate(spec, scope) for name, spec in specs.items()}
        return response

    def aggregate(self, spec: dict[str, Any], scope: list[int]) -> dict[str, Any]:
        subs = spec.get("aggs", spec.get("aggregations")) or {}
        ((kind, body),) = ((k, v) for k, v in spec.items() if k not in ("aggs", "aggregations", "meta"))
        if kind == "filter":
            narrowed = [i for i in scope if self.matches(body, self.documents[i][1], True)]
            return {"doc_count": len(narrowed)} | {n: self.aggregate(s, narrowed) for n, s in subs.items()}
        if kind == "top_hits":
            chosen = self.ordered(scope, body.get("sort"))
            start, size = int(body.get("from", 0)), int(body.get("size", 3))
            hits = [self.hit(i, body.get("_source")) for i in chosen[start : start + size]]
            return {"hits": {"total": len(scope), "max_score": None, "hits": hits}}
        name = body["field"]
        values = [v for i in scope if (v := value_of(self.documents[i][1], name)) is not MISSING]
        if kind == "cardinality":
            return {"value": len({_comparable(name, v) for v in values})}
        if kind == "terms":
            return self.terms(name, body, values)
        raise ValueError(f"the reference does not know {kind!r}")

    def terms(self, name: str, body: dict[str, Any], values: list[Any]) -> dict[str, Any]:
        integer = kind_of(name) == "integer"
        counts = Counter(int(v) if integer else str(v) for v in values)
        if int(body.get("min_doc_count", 1)) == 0:
            for _, document in self.documents:  # every term of the index, found or not
                if (v := value_of(document, name)) is not MISSING:
                    counts.setdefault(int(v) if integer else str(v), 0)
        counts = Counter({k: c for k, c in counts.items() if c >= int(body.get("min_doc_count", 1))})
        for key, keep in (("include", True), ("exclude", False)):
            if key in body:
                wanted = body[key]
                if isinstance(wanted, list):
                    listed = {int(v) if integer else str(v) for v in wanted}
                    counts = Counter({k: c for k, c in counts.items() if (k in listed) == keep})
                else:
                    pattern = lucene_regexp(wanted)
                    counts = Counter({k: c for k, c in counts.items() if bool(pattern.fullmatch(str(k))) == keep})
        ((by, direction),) = body.get("order", {"_count": "desc"}).items()
        descending = direction == "desc"

        def compare_keys(a: Any, b: Any) -> int:
            # A term's order: numbers as numbers, text bytewise, versions in release order (the
            # page's one deliberate difference), for ties in count as for `_key`.
            return self.compare_values(name, a, b) or (a > b) - (a < b)

        def compare(a: Any, b: Any) -> int:
            if by == "_count":
                found = (counts[a] > counts[b]) - (counts[a] < counts[b])
                if found:
                    return -found if descending else found
                return compare_keys(a, b)  # ties by key, ascending
            found = compare_keys(a, b)
            return -found if descending else found

        ranked = sorted(counts, key=functools.cmp_to_key(compare))
        size = int(body.get("size", 10))
        return {
            "doc_count_error_upper_bound": 0,
            "sum_other_doc_count": sum(counts[k] for k in ranked[size:]),
            "buckets": [{"key": k, "doc_count": counts[k]} for k in ranked[:size]],
        }


def lucene_regexp(pattern: str) -> re.Pattern[str]:
    """The subset of Lucene's regular expressions the generator writes (literals, `.`, classes,
    `*`, `+`, `?`, `|`, groups), which mean the same in Python's `re`, anchored by fullmatch."""
    return re.compile(pattern, re.DOTALL)


def source_filtered(document: dict[str, Any], spec: Any) -> dict[str, Any]:
    """`_source` filtering: patterns (with `*`) over dotted paths, includes then excludes."""
    if spec in (None, True):
        return document
    if spec is False:
        return {}
    includes, excludes = (spec.get("includes"), spec.get("excludes")) if isinstance(spec, dict) else (spec, None)
    includes = [includes] if isinstance(includes, str) else includes or []
    excludes = [excludes] if isinstance(excludes, str) else excludes or []

    def included(path: str) -> bool:
        return not includes or any(_glob(p).fullmatch(path) for p in includes)

    def excluded(path: str) -> bool:
        return any(_glob(p).fullmatch(path) for p in excludes)

    out: dict[str, Any] = {}
    for top, inner in document.items():
        if excluded(top):
            continue
        if isinstance(inner, dict):
            # An object stays when its own path is included, even emptied (XContentMapValues.filter).
            picked = {
                k: v
                for k, v in inner.items()
                if not excluded(f"{top}.{k}") and (included(top) or included(f"{top}.{k}"))
            }
            if picked or included(top):
                out[top] = picked
        elif included(top):
            out[top] = inner
    return out
