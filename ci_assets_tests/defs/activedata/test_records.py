"""Reading one ActiveData file: records with their lines, bad lines with their reasons."""

import gzip
import json

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_assets.defs.activedata.keys import parse_key
from ci_assets.defs.activedata.records import inflate, read_day, read_records

KEY = parse_key("tc.1623116:162311556.34.json.gz")


def test_records_keep_their_line_and_text_crlf_included() -> None:
    body = b'{"_id": "tc.1623116:162311556.34.0", "run": 1}\r\n{"_id": "tc.1623116:162311556.34.1"}\n'
    got = read_records(KEY, gzip.compress(body))
    assert got.ids == ["tc.1623116:162311556.34.0", "tc.1623116:162311556.34.1"]
    assert got.lines == [1, 2] and got.records[0] == '{"_id": "tc.1623116:162311556.34.0", "run": 1}'
    assert (got.bad, got.received) == ([], 2)


def test_bad_lines_are_named_by_line() -> None:
    lines = [
        b'{"_id": "tc.1623116:162311556.34.0"}',
        b"not json",
        b'{"no_id": 1}',
        b"[1, 2]",
        b'{"_id": 7}',
        b'{"_id": "tc.999.1"}',  # someone else's prefix: a record (the contract refuses it)
        b"",
    ]
    got = read_records(KEY, gzip.compress(b"\n".join(lines) + b"\n"))
    assert [(b.line, b.reason.split(" (")[0]) for b in got.bad] == [
        (2, "not JSON"),
        (3, "no _id"),
        (4, "a JSON list, not an object"),
        (5, "_id is not a string"),
        (7, "not JSON"),  # an empty line in the middle of a file is not a record either
    ]
    assert got.ids == ["tc.1623116:162311556.34.0", "tc.999.1"]
    assert got.received == 7


def test_a_file_that_is_not_gzip_is_one_bad_line() -> None:
    got = read_records(KEY, b'{"_id": "x"}\n')
    assert len(got.bad) == 1 and got.bad[0].line == 0 and "gzip" in got.bad[0].reason


def test_a_10_mb_line_and_hostile_bytes_leave_the_rest_of_the_file_read() -> None:
    """A 10 MB record is a record; a 10 MB line of NUL and non-UTF-8 bytes is one bad line; the lines
    around them are read; a gzip stream that ends early keeps what came before and says so."""
    huge = b'{"_id": "tc.1623116:162311556.34.1", "log": "' + b"x" * (10 << 20) + b'"}'
    garbage = b"\x00\xff\xfe" * ((10 << 20) // 3)
    lines = [b'{"_id": "tc.1623116:162311556.34.0"}', huge, garbage, b'{"_id": "tc.1623116:162311556.34.2"}']
    got = read_records(KEY, gzip.compress(b"\n".join(lines) + b"\n"))
    assert got.ids == [f"tc.1623116:162311556.34.{n}" for n in range(3)] and got.lines == [1, 2, 4]
    assert [b.line for b in got.bad] == [3] and got.received == 4
    cut = gzip.compress(b"\n".join([lines[0], lines[3]]) + b"\n")[:-12]
    early = read_records(KEY, cut)
    assert any("gzip" in b.reason or "end" in b.reason for b in early.bad), early.bad


@st.composite
def _record_line(draw: st.DrawFn) -> bytes:
    id_text = draw(st.one_of(st.text(max_size=12), st.sampled_from(["", "a\\b", 'q"uote', "é☃", "\u2028", "_id"])))
    other = draw(
        st.dictionaries(
            st.sampled_from(["n", "x", "_ids", "note"]), st.one_of(st.integers(), st.text(max_size=8)), max_size=3
        )
    )
    shape = draw(
        st.sampled_from(["plain", "number id", "no id", "twice", "id in a value", "escaped key", "list", "spaced"])
    )
    body = {**other, "_id": id_text}
    if shape == "number id":
        body["_id"] = draw(st.integers())
    elif shape == "no id":
        body.pop("_id")
    elif shape == "list":
        return json.dumps([body]).encode()
    text = json.dumps(body, ensure_ascii=draw(st.booleans()))
    if shape == "twice":
        text = text[:-1] + ', "_id": ' + json.dumps(draw(st.one_of(st.text(max_size=4), st.integers()))) + "}"
    elif shape == "id in a value":
        text = text[:-1] + ', "v": "\\"_id\\": \\"fake\\""}'
    elif shape == "escaped key":
        text = '{"\\u005fid": 5, "x\\"_id": "5"}'
    elif shape == "spaced":
        text = text.replace(":", " :\t ")
    return text.encode()


@st.composite
def _lines(draw: st.DrawFn) -> list[bytes]:
    kinds = st.one_of(
        _record_line(),
        st.sampled_from(
            [b"", b"not json", b"[1, 2]", b'{"_id": "a"', b"\xff\xfe", b'\xef\xbb\xbf{"_id": "bom"}', b" ", b"null"]
        ),
        st.binary(max_size=12),
    )
    return draw(st.lists(kinds, max_size=12))


@settings(max_examples=300, deadline=None)
@given(files=st.lists(st.tuples(_lines(), st.sampled_from([b"\n", b"\r\n"]), st.booleans(), st.booleans()), max_size=4))
def test_the_day_read_column_wise_equals_each_file_read_line_by_line(files: list) -> None:
    """Valid records with awkward ids, non-JSON, lists, ids that are numbers, repeated or hidden in
    values, CRLF, empty lines, non-UTF-8 bytes, a BOM, a truncated gzip: the same rows and bad lines."""
    inputs = []
    for n, (lines, newline, final_newline, truncate) in enumerate(files):
        data = gzip.compress(newline.join(lines) + (newline if final_newline else b""))
        inputs.append((f"tc.1.{n}.json.gz", data[:-6] if truncate and lines else data))
    frame, bad = read_day([(key, inflate(data)) for key, data in inputs])
    for key, data in inputs:
        expected = read_records(KEY, data)
        rows = frame.filter(pl.col("key") == key)
        assert rows["_id"].to_list() == expected.ids
        assert rows["line"].to_list() == expected.lines
        assert rows["record"].to_list() == expected.records
        assert [b for k, b in bad if k == key] == expected.bad
