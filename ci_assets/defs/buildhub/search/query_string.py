"""The search box: Lucene `query_string` and `simple_query_string` syntax, as far as Buildhub's UI uses it.

`field:value`, quoted phrases, `*`/`?` wildcards, AND/OR/NOT (and `&&`, `||`, `!`,
`+`, `-`), parentheses; `simple_query_string` also takes `|` for OR. A term
without a field searches the request's `fields`, any of them matching.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from psycopg import sql

from ci_assets.defs.buildhub.search.fields import SearchError

TOKEN = re.compile(r'\s*(?:(\()|(\))|("(?:[^"\\]|\\.)*")|(&&|\|\||[!+|-])|([^\s()"]+(?:"(?:[^"\\]|\\.)*")?))')
MAX_TOKENS = 200


@dataclasses.dataclass
class Term:
    field: str | None
    value: str
    phrase: bool

    def to_sql(self, names: list[str], default: str, params: Any) -> sql.Composable:
        from ci_assets.defs.buildhub.search.query import any_of, equals, like, wildcard_pattern

        targets = [self.field] if self.field else names
        wild = not self.phrase and ("*" in self.value or "?" in self.value)
        if wild:
            if self.value == "*":
                return sql.SQL("TRUE")
            return any_of([like(t, wildcard_pattern(self.value), params) for t in targets])
        return any_of([equals(t, self.value, params) for t in targets if _accepts(t, self.value)])


def _accepts(name: str, value: str) -> bool:
    """A bare word searched over many fields skips the numeric ones it cannot be."""
    from ci_assets.defs.buildhub.search.fields import field

    return field(name).kind != "integer" or value.lstrip("-").isdigit()


@dataclasses.dataclass
class Node:
    op: str  # "and" | "or" | "not"
    children: list[Any]

    def to_sql(self, names: list[str], default: str, params: Any) -> sql.Composable:
        from ci_assets.defs.buildhub.search.query import all_of, any_of

        parts = [c.to_sql(names, default, params) for c in self.children]
        if self.op == "not":
            return sql.SQL("NOT {}").format(parts[0])
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


def _tokens(text: str, simple: bool) -> list[str]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise SearchError(f"cannot parse the query string at {text[position : position + 20]!r}")
        tokens.append(match.group(match.lastindex or 0))
        position = match.end()
    if len(tokens) > MAX_TOKENS:
        raise SearchError(f"query string longer than {MAX_TOKENS} terms")
    aliases = {"&&": "AND", "||": "OR", "!": "NOT"} | ({"+": "AND", "|": "OR", "-": "NOT"} if simple else {"-": "NOT"})
    return [aliases.get(t, t) for t in tokens]


class _Parser:
    def __init__(self, tokens: list[str]):
        self.tokens, self.i, self.depth = tokens, 0, 0

    def peek(self) -> str | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse_or(self) -> Any:
        parts = [self.parse_and()]
        while self.peek() == "OR":
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else Node("or", parts)

    def parse_and(self) -> Any:
        explicit, implicit = [self.parse_unary()], []
        while self.peek() not in (None, ")", "OR"):
            if self.peek() == "AND":
                self.take()
                explicit.append(self.parse_unary())
            else:
                implicit.append(self.parse_unary())
        node = explicit[0] if len(explicit) == 1 else Node("and", explicit)
        return Implicit([node, *implicit]) if implicit else node

    def parse_unary(self) -> Any:
        token = self.peek()
        if token is None:
            raise SearchError("the query string ends where a term was expected")
        if token == "NOT":
            self.take()
            return Node("not", [self.parse_unary()])
        if token == "+":
            self.take()
            return self.parse_unary()
        if token == "(":
            self.take()
            self.depth += 1
            if self.depth > 20:
                raise SearchError("query string nested too deeply")
            inner = self.parse_or()
            if self.peek() != ")":
                raise SearchError("unbalanced parenthesis in the query string")
            self.take()
            self.depth -= 1
            return inner
        if token in (")", "AND", "OR"):
            raise SearchError(f"unexpected {token!r} in the query string")
        return _term(self.take())


def _term(token: str) -> Term:
    name, value = None, token
    if not token.startswith('"') and ":" in token:
        name, value = token.split(":", 1)
        if not value:
            raise SearchError(f"no value after {name}:")
    phrase = value.startswith('"') and value.endswith('"') and len(value) >= 2
    if phrase:
        value = value[1:-1].replace('\\"', '"')
    return Term(name, value, phrase)


def parse_query_string(text: str, simple: bool = False) -> Any:
    tokens = _tokens(text, simple)
    if not tokens:
        return Term(None, "*", False)
    parser = _Parser(tokens)
    tree = parser.parse_or()
    if parser.peek() is not None:
        raise SearchError(f"unexpected {parser.peek()!r} in the query string")
    return tree
