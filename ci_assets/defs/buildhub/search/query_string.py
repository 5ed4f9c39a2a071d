"""The search box: Lucene `query_string` and `simple_query_string` syntax, parsed by `luqum`.

`field:value`, quoted phrases, `*`/`?` wildcards, AND/OR/NOT (and `&&`, `||`, `!`,
`+`, `-`), parentheses, boosts (ignored: results are not scored); `simple_query_string`
also takes `|` for OR. A term without a field searches the request's `fields`, any of
them matching. Ranges, regexes, fuzzy and proximity queries are refused by name.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from typing import Any

from luqum import tree
from luqum.exceptions import ParseError
from luqum.parser import parser
from psycopg import sql

from ci_assets.defs.buildhub.search.field_conditions import equals, like
from ci_assets.defs.buildhub.search.fields import SearchError, field
from ci_assets.defs.buildhub.search.sql_text import all_of, any_of, none_of, wildcard_pattern

MAX_TOKENS = 200
MAX_DEPTH = 40


@dataclasses.dataclass
class Term:
    field: str | None
    value: str
    phrase: bool

    def to_sql(self, names: list[str], default: str, params: Any) -> sql.Composable:
        targets = [self.field] if self.field else names
        wild = not self.phrase and ("*" in self.value or "?" in self.value)
        if wild:
            if self.value == "*":
                return sql.SQL("TRUE")
            return any_of([like(t, wildcard_pattern(self.value), params) for t in targets])
        return any_of([equals(t, self.value, params) for t in targets if _accepts(t, self.value)])


def _accepts(name: str, value: str) -> bool:
    """A bare word searched over many fields skips the numeric ones it cannot be."""
    return field(name).kind != "integer" or value.lstrip("-").isdigit()


@dataclasses.dataclass
class Node:
    op: str  # "and" | "or" | "not"
    children: list[Any]

    def to_sql(self, names: list[str], default: str, params: Any) -> sql.Composable:
        parts = [c.to_sql(names, default, params) for c in self.children]
        if self.op == "not":
            return none_of(parts)
        return all_of(parts) if self.op == "and" else any_of(parts)


@dataclasses.dataclass
class Implicit:
    """Terms side by side: joined by the request's default_operator, except that a negated
    term excludes (Lucene reads `a NOT b` and `a -b` as "a, but not b" under either operator)."""

    children: list[Any]

    def to_sql(self, names: list[str], default: str, params: Any) -> sql.Composable:
        negated = [c for c in self.children if isinstance(c, Node) and c.op == "not"]
        positive = [c for c in self.children if c not in negated]
        parts = [Node(default, positive)] if positive else []
        return Node("and", parts + negated).to_sql(names, default, params)


# The operators Elasticsearch's query_string reads besides Lucene's words (luqum knows AND, OR,
# NOT, + and -): translated outside quoted phrases before luqum parses. simple_query_string
# writes OR as `|` and AND as `+`.
_PHRASE_OR_ALIAS = re.compile(r'("(?:[^"\\]|\\.)*")|&&|\|\||(?<![\w\\])!|(?<![\w\\])\|(?!\|)')
_ALIASES = {"&&": " AND ", "||": " OR ", "!": " NOT ", "|": " OR "}
_PARSE = threading.Lock()  # luqum's parser (ply) keeps its state on one shared object


def _lucene(text: str, simple: bool) -> str:
    def swap(match: re.Match[str]) -> str:
        if match.group(1):
            return match.group(1)
        token = match.group(0)
        return _ALIASES[token] if token != "|" or simple else token

    return _PHRASE_OR_ALIAS.sub(swap, text)


def _convert(node: Any, name: str | None, depth: int, count: list[int]) -> Any:
    if depth > MAX_DEPTH:
        raise SearchError("query string nested too deeply")
    if isinstance(node, tree.SearchField):
        if name is not None:
            raise SearchError(f"a field inside a field: {node}")
        return _convert(node.expr, node.name.replace("\\", ""), depth + 1, count)
    if isinstance(node, tree.Word | tree.Phrase):
        count[0] += 1
        if count[0] > MAX_TOKENS:
            raise SearchError(f"query string longer than {MAX_TOKENS} terms")
        if isinstance(node, tree.Phrase):
            return Term(name, node.value[1:-1].replace('\\"', '"'), True)
        return Term(name, re.sub(r"\\(.)", r"\1", node.value), False)
    if isinstance(node, tree.Group | tree.FieldGroup | tree.Plus | tree.Boost):
        return _convert(node.children[0], name, depth + 1, count)
    if isinstance(node, tree.Not | tree.Prohibit):
        return Node("not", [_convert(node.children[0], name, depth + 1, count)])
    children = [_convert(c, name, depth + 1, count) for c in getattr(node, "children", ())]
    if isinstance(node, tree.AndOperation):
        return Node("and", children)
    if isinstance(node, tree.OrOperation):
        return Node("or", children)
    if isinstance(node, tree.UnknownOperation):
        return Implicit(children)
    raise SearchError(f"the search box does not take {type(node).__name__.lower()} queries: {str(node)[:40]!r}")


def parse_query_string(text: str, simple: bool = False) -> Any:
    """The query string as a tree of terms, parsed by luqum (Lucene's grammar)."""
    if not text.strip():
        return Term(None, "*", False)
    try:
        with _PARSE:
            parsed = parser.parse(_lucene(text, simple))
    except (ParseError, ValueError, ArithmeticError) as err:  # luqum reads `~0.` as a Decimal
        raise SearchError(f"cannot parse the query string: {err}") from None
    except RecursionError:
        raise SearchError("query string nested too deeply") from None
    return _convert(parsed, None, 0, [0])
