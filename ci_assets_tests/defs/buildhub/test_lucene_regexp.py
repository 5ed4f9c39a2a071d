"""Terms `include`/`exclude` strings are Lucene regular expressions: one row per Lucene operator, with
values Lucene's RegExp (all flags) accepts and refuses, held against the matcher and, through the
API, against the buckets a terms aggregation answers."""

import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ci_assets.defs.buildhub.search.fields import SearchError
from ci_assets.defs.buildhub.search.lucene_regexp import compile_pattern
from ci_assets_tests.defs.buildhub.search_corpus import error, post

OPERATORS = [
    # (pattern, values it matches whole, values it does not)
    (r"60\.0.*", ["60.0", "60.0b1"], ["160.0", "60x0"]),  # anchored at both ends
    (r"([a-zA-Z]+ )+?60\.0.*", ["60.0b3", "firefox 60.0", "a b 60.0.1"], ["x60.0", " 60.0"]),  # +? is (…+)?
    ("a+?", ["", "a", "aaa"], ["b"]),
    ("a*?", ["", "aa"], ["ab"]),
    ("a??", ["", "a"], ["aa"]),
    ("@", ["", "anything at all"], []),  # any string
    ("a@", ["a", "abc"], ["", "ba"]),
    ("#", [], ["", "#", "a"]),  # the empty language
    ("a|#", ["a"], [""]),
    ("<1-10>", ["1", "7", "10", "007", "0010"], ["0", "11", "", "a"]),  # lengths differ: leading zeros allowed
    ("<01-10>", ["01", "09", "10"], ["1", "9", "001", "11"]),  # same length: exactly that many digits
    ("<10-1>", ["1", "10"], ["11"]),  # bounds in either order
    ("v<1-3>.0", ["v1.0", "v3x0"], ["v4.0"]),
    ("a.*&.*b", ["ab", "axxb"], ["a", "ba", "b"]),  # intersection
    ("(a|b)&(b|c)", ["b"], ["a", "c"]),
    ("~(a.*)", ["", "b", "ba"], ["a", "abc"]),  # complement
    ("a~(b)c", ["ac", "abbc", "axc"], ["abc"]),  # complement inside a concatenation
    ("~a*", ["", "b", "ab"], []),  # (~a)*: the complement binds tighter than the repeat
    ("[a-c]x", ["ax", "cx"], ["dx", "x"]),  # character classes
    ("[^a-c]x", ["dx", "-x"], ["ax", "x"]),
    ("[.]", ["."], ["a"]),
    ("[]a]", ["]", "a"], ["b"]),
    (r"[\]]", ["]"], ["\\"]),
    (r"\.\@\#\~\&\<\"", ['.@#~&<"'], []),  # escapes
    (r"\a\b", ["ab"], []),  # an escaped ordinary character is itself
    ('"a.b*"', ["a.b*"], ["axb", "a.bb"]),  # a quoted string is literal
    ("a{2}", ["aa"], ["a", "aaa"]),
    ("a{2,3}", ["aa", "aaa"], ["a", "aaaa"]),
    ("a{2,}", ["aa", "aaaaa"], ["a"]),
    ("()", [""], ["a"]),
    ("ab|cd", ["ab", "cd"], ["abcd", "a"]),
    (".", ["a", "é", "\n"], ["", "ab"]),
    ("*", ["*"], ["", "a"]),  # a repeat with nothing before it is a literal
    (")", [")"], []),
    ("é+", ["é", "éé"], ["e"]),
]
REFUSED = ["", "[", "[]", "(a", "a{2", "a{3,1}", "a{x}", "<a>", "<1-x>", '"abc', "a)b", "a" * 1001]


@pytest.mark.parametrize(("pattern", "matching", "other"), OPERATORS)
def test_each_lucene_operator_matches_as_lucene_does(pattern: str, matching: list[str], other: list[str]) -> None:
    matches = compile_pattern(pattern)
    assert [v for v in matching if not matches(v)] == []
    assert [v for v in other if matches(v)] == []


@pytest.mark.parametrize("pattern", REFUSED)
def test_a_pattern_lucene_refuses_is_refused(pattern: str) -> None:
    with pytest.raises(SearchError, match="regular expression"):
        compile_pattern(pattern)


@given(st.text(max_size=30), st.text(max_size=20))
def test_any_pattern_is_matched_or_refused_and_literals_match_themselves(pattern: str, value: str) -> None:
    try:
        matches = compile_pattern(pattern)
    except SearchError:
        return
    assert isinstance(matches(value), bool)
    literal = "".join(f"\\{c}" for c in value)
    assert value == "" or compile_pattern(literal)(value)


def test_searchkit_s_autosuggest_pattern_finds_what_was_typed(corpus: Any) -> None:
    """SearchKit sends `([a-zA-Z]+ )+?<typed>.*` once three characters are typed; PostgreSQL read
    its `+?` as lazy and found nothing."""
    versions = sorted({d["target"]["version"] for d in corpus[1]})
    typed = versions[0][:4]
    pattern = f"([a-zA-Z]+ )+?{re.escape(typed)}.*"
    terms = {"field": "target.version", "size": 500, "include": pattern}
    buckets = post(corpus, {"size": 0, "aggs": {"v": {"terms": terms}}})["aggregations"]["v"]["buckets"]
    assert {b["key"] for b in buckets} == {v for v in versions if v.startswith(typed)}
    excluded = {"field": "target.version", "size": 500, "exclude": pattern}
    rest = post(corpus, {"size": 0, "aggs": {"v": {"terms": excluded}}})["aggregations"]["v"]["buckets"]
    assert {b["key"] for b in rest} == {v for v in versions if not v.startswith(typed)}
    assert "regular expression" in error(corpus, {"aggs": {"v": {"terms": {"field": "target.locale", "include": "("}}}})
