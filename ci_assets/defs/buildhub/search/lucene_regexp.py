"""Lucene's regular expressions (`RegExp` with all its flags, what Elasticsearch's terms `include` and
`exclude` strings are), matched against a whole value as Lucene does.

PostgreSQL's regular expressions differ in ways that change answers: Lucene's `+?` is "one or
more, optionally", not a lazy quantifier; `@` is any string, `#` the empty language, `<1-10>` a
numeric interval, `&` intersection and `~` complement, and every pattern is anchored at both
ends. A translation cannot say `&` and `~` inside a larger pattern, so the pattern is parsed here
(Lucene's grammar, `RegExp.java`) and matched by computing, for each node and start position, the
set of positions where a match can end. Terms values are short, so that costs little; the
engine asks only for the values of the buckets it found.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from ci_assets.defs.buildhub.search.fields import SearchError

MAX_PATTERN = 1000
MAX_REPEAT = 1000

Node = tuple[Any, ...]


@dataclasses.dataclass
class _Parser:
    text: str
    at: int = 0

    def more(self) -> bool:
        return self.at < len(self.text)

    def peek(self, chars: str) -> bool:
        return self.more() and self.text[self.at] in chars

    def match(self, char: str) -> bool:
        if self.peek(char):
            self.at += 1
            return True
        return False

    def next(self) -> str:
        if not self.more():
            raise self.error("unexpected end of string")
        self.at += 1
        return self.text[self.at - 1]

    def error(self, what: str) -> SearchError:
        return SearchError(f"invalid regular expression {self.text!r} at position {self.at}: {what}")

    # The grammar, as Lucene's RegExp parses it.
    def union(self) -> Node:
        left = self.intersection()
        return ("union", left, self.union()) if self.match("|") else left

    def intersection(self) -> Node:
        left = self.concatenation()
        return ("and", left, self.intersection()) if self.match("&") else left

    def concatenation(self) -> Node:
        left = self.repeat()
        if self.more() and not self.peek(")|&"):
            return ("concat", left, self.concatenation())
        return left

    def repeat(self) -> Node:
        node = self.complement()
        while self.peek("?*+{"):
            if self.match("?"):
                node = ("repeat", node, 0, 1)
            elif self.match("*"):
                node = ("repeat", node, 0, None)
            elif self.match("+"):
                node = ("repeat", node, 1, None)
            else:
                self.next()  # {
                low = self.integer()
                high: int | None = low
                if self.match(","):
                    high = self.integer() if not self.peek("}") else None
                if not self.match("}"):
                    raise self.error("expected '}'")
                if (high is not None and high < low) or max(low, high or 0) > MAX_REPEAT:
                    raise self.error(f"repeat bounds {low},{high} out of range")
                node = ("repeat", node, low, high)
        return node

    def integer(self) -> int:
        start = self.at
        while self.peek("0123456789"):
            self.at += 1
        if start == self.at:
            raise self.error("integer expected")
        return int(self.text[start : self.at])

    def complement(self) -> Node:
        return ("not", self.complement()) if self.match("~") else self.char_class()

    def char_class(self) -> Node:
        if not self.match("["):
            return self.simple()
        negate = self.match("^")
        ranges = [self.class_item()]
        while self.more() and not self.peek("]"):
            ranges.append(self.class_item())
        if not self.match("]"):
            raise self.error("expected ']'")
        return ("class", tuple(ranges), negate)

    def class_item(self) -> tuple[str, str]:
        low = self.char()
        return (low, self.char()) if self.match("-") else (low, low)

    def simple(self) -> Node:
        if self.match("."):
            return ("any",)
        if self.match("#"):
            return ("nothing",)
        if self.match("@"):
            return ("anystring",)
        if self.match('"'):
            end = self.text.find('"', self.at)
            if end < 0:
                raise self.error("expected '\"'")
            literal, self.at = self.text[self.at : end], end + 1
            return ("string", literal)
        if self.match("("):
            if self.match(")"):
                return ("string", "")
            inner = self.union()
            if not self.match(")"):
                raise self.error("expected ')'")
            return inner
        if self.match("<"):
            end = self.text.find(">", self.at)
            if end < 0:
                raise self.error("expected '>'")
            body, self.at = self.text[self.at : end], end + 1
            low, dash, high = body.partition("-")
            if not (dash and low.isascii() and low.isdigit() and high.isascii() and high.isdigit()):
                raise self.error(f"interval syntax error <{body}> (named automata are not known here)")
            digits = len(low) if len(low) == len(high) else 0
            return ("interval", min(int(low), int(high)), max(int(low), int(high)), digits)
        return ("string", self.char())

    def char(self) -> str:
        if self.match("\\"):
            return self.next()
        return self.next()


def parse(pattern: str) -> Node:
    if len(pattern) > MAX_PATTERN:
        raise SearchError(f"regular expression longer than {MAX_PATTERN} characters")
    parser = _Parser(pattern)
    node = parser.union()
    if parser.more():
        raise parser.error("unexpected character")
    return node


def _ends(node: Node, text: str, start: int, memo: dict[tuple[int, int], frozenset[int]]) -> frozenset[int]:
    """Every position where a match of `node` that begins at `start` can end."""
    key = (id(node), start)
    if key in memo:
        return memo[key]
    kind, n = node[0], len(text)
    found: frozenset[int]
    if kind == "string":
        found = frozenset([start + len(node[1])]) if text.startswith(node[1], start) else frozenset()
    elif kind == "any":
        found = frozenset([start + 1]) if start < n else frozenset()
    elif kind == "class":
        hit = start < n and any(low <= text[start] <= high for low, high in node[1])
        found = frozenset([start + 1]) if start < n and hit != node[2] else frozenset()
    elif kind == "nothing":
        found = frozenset()
    elif kind == "anystring":
        found = frozenset(range(start, n + 1))
    elif kind == "interval":
        _, low, high, digits = node
        stop = start
        while stop < n and "0" <= text[stop] <= "9":
            stop += 1
        found = frozenset(
            end
            for end in range(start + 1, stop + 1)
            if (digits == 0 or end - start == digits) and low <= int(text[start:end]) <= high
        )
    elif kind == "concat":
        found = frozenset().union(*(_ends(node[2], text, mid, memo) for mid in _ends(node[1], text, start, memo)))
    elif kind == "union":
        found = _ends(node[1], text, start, memo) | _ends(node[2], text, start, memo)
    elif kind == "and":
        found = _ends(node[1], text, start, memo) & _ends(node[2], text, start, memo)
    elif kind == "not":
        found = frozenset(range(start, n + 1)) - _ends(node[1], text, start, memo)
    else:  # repeat
        found = _repeat(node, text, start, memo)
    memo[key] = found
    return found


def _repeat(node: Node, text: str, start: int, memo: dict[tuple[int, int], frozenset[int]]) -> frozenset[int]:
    _, inner, low, high = node
    result: set[int] = {start} if low == 0 else set()
    frontier, count = {start}, 0
    while frontier and (high is None or count < high):
        count += 1
        reached = set().union(*(_ends(inner, text, at, memo) for at in frontier))
        if count >= low:
            fresh = reached - result
            result |= reached
            # Past the minimum, a position reached again adds nothing new.
            frontier = fresh if high is None else reached
        else:
            frontier = reached
    return frozenset(result)


def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """Whether a whole value matches `pattern`, as Lucene's RegExp (all flags) decides."""
    node = parse(pattern)

    def matches(value: str) -> bool:
        return len(value) in _ends(node, value, 0, {})

    return matches
