"""The converter's fast path decides every row as the per-row path does, on the COPY text
PostgreSQL itself prints for jsonb dimensions and bigint[] histograms (escapes and all)."""

import datetime as dt
import json

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_assets.defs.aggregates.names import TableName
from ci_assets.defs.aggregates.rows import DIMENSION_KEYS, _line, _row, as_frame, parse_chunk

DAY = dt.date(2019, 12, 1)
TABLE = TableName("build_id", "nightly", "72", "20191201")

_TEXT = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=6)
# Values that could fool a cut at the metric or a match of the head and tail, besides any text.
_TRICKY = st.sampled_from(['"', "\\", '", "metric": "', '", "osVersion": "', 'a"}', "\t", "\n", "é", "", "{"])
_VALUE = st.one_of(_TEXT, _TRICKY, st.integers(), st.none(), st.lists(st.integers(), max_size=2))


def _dimensions(values: dict[str, object], change: str) -> str:
    if change == "drop":
        values.pop("label")
    elif change == "extra":
        values["labels"] = "x"
    elif change == "rename":
        values["Metric"] = values.pop("metric")
    return json.dumps(values)


_DIMENSIONS = st.one_of(
    st.builds(
        _dimensions,
        st.fixed_dictionaries(dict.fromkeys(DIMENSION_KEYS, st.one_of(_TEXT, _TRICKY, _TEXT, _VALUE))),
        st.sampled_from(["none", "none", "none", "drop", "extra", "rename"]),
    ),
    st.sampled_from(["[]", '"text"', "{}", "null"]),
    st.none(),
)
_HISTOGRAM = st.one_of(
    st.lists(st.integers(-(2**63), 2**63 - 1), max_size=4).map(lambda v: "{" + ",".join(map(str, v)) + "}"),
    st.sampled_from(["{NULL,1}", "{{1,2},{3,4}}", "[2:3]={1,2}", "{}"]),
    st.none(),
)


@pytest.fixture(scope="module")
def copy_out(postgres_dsn: str):
    """Rows as PostgreSQL's COPY TO prints them for a (jsonb, bigint[]) table."""
    with psycopg.connect(postgres_dsn, autocommit=True) as conn:

        def printed(rows: list[tuple[str | None, str | None]]) -> bytes:
            query = "COPY (SELECT d::jsonb, h::bigint[] FROM unnest(%s::text[], %s::text[]) t(d, h)) TO STDOUT"
            with conn.cursor().copy(query, ([r[0] for r in rows], [r[1] for r in rows])) as copy:
                return b"".join(bytes(block) for block in copy)

        yield printed


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_DIMENSIONS, _HISTOGRAM), min_size=1, max_size=12))
def test_every_row_comes_out_as_the_per_row_path_decides(copy_out, rows: list[tuple[str | None, str | None]]) -> None:
    chunk = copy_out(rows)
    rows_made, bad = parse_chunk(chunk, TABLE, DAY, 1, printed_by_postgres=True)
    frame = as_frame(rows_made).collect()

    expected_rows, expected_bad = [], []
    for line, text in enumerate(chunk.decode().removesuffix("\n").split("\n"), start=1):  # not splitlines: U+0085
        dimensions, histogram = (None if field == "\\N" else field for field in text.split("\t"))
        values, reason = _row(dimensions, histogram)
        if reason:
            expected_bad.append((line, reason))
        else:
            expected_rows.append(tuple(values))
    made = frame.select(*DIMENSION_KEYS, "aggregate").rows()
    assert sorted(made) == sorted(expected_rows)
    assert [(b.line, b.reason) for b in bad] == expected_bad
    assert frame.height + len(bad) == len(rows)


# Mostly values a line is taken with, so that lines made wholly of them are common; then any text,
# any bytes, and the bytes that must keep a line from the fast path.
_PLAIN = st.text("abcXYZ09 ._-é", max_size=5).map(str.encode)
_KEYED_VALUE = st.one_of(
    _PLAIN,
    _PLAIN,
    _PLAIN,
    st.text(max_size=5).map(str.encode),
    st.binary(max_size=4),
    st.sampled_from([b'"', b"\\", b"\x01", b"\x1f", b"\xc3", b"\xed\xa0\x80", b"\t", b"\x7f"]),
)
_CANONICAL_LINE = st.builds(
    lambda values, histogram: (
        (b"{" + b", ".join(b'"%s": "%s"' % (k.encode(), v) for k, v in zip(DIMENSION_KEYS, values, strict=True)) + b"}")
        + b"\t"
        + histogram
    ),
    st.lists(_KEYED_VALUE, min_size=7, max_size=7),
    st.one_of(
        st.text("{}0123456789,-N \r\t[]:=", max_size=10).map(str.encode),
        st.lists(st.integers(-(2**70), 2**70), max_size=3).map(lambda v: ("{" + ",".join(map(str, v)) + "}").encode()),
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_CANONICAL_LINE, st.binary(max_size=40)), max_size=8), st.booleans())
def test_any_bytes_are_decided_line_by_line_as_the_per_row_path_does(lines: list[bytes], final_newline: bool) -> None:
    """The C pass over anything at all: no crash, every line accounted for, and, where nothing is
    known of the bytes, each line decided exactly as the per-row path decides it (the fast path
    only ever takes a line whose values that path would give too). Bytes said to be PostgreSQL's
    are trusted further, so there only the accounting is compared."""
    chunk = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    raw_lines = chunk.split(b"\n")
    if chunk.endswith(b"\n") or not chunk:
        raw_lines.pop()
    expected_rows, expected_bad = [], []
    for number, raw in enumerate(raw_lines, start=1):
        values, reason = _line(raw)
        if reason:
            expected_bad.append((number, reason))
        else:
            expected_rows.append(tuple(values))
    made, bad = parse_chunk(chunk, TABLE, DAY, 1, printed_by_postgres=False)
    assert sorted(as_frame(made).collect().select(*DIMENSION_KEYS, "aggregate").rows()) == sorted(expected_rows)
    assert [(b.line, b.reason) for b in bad] == expected_bad
    trusted, trusted_bad = parse_chunk(chunk, TABLE, DAY, 1, printed_by_postgres=True)
    assert trusted.num_rows + len(trusted_bad) == len(raw_lines)
    trusted.validate(full=True)  # valid Arrow: UTF-8 strings, codes inside their dictionaries
