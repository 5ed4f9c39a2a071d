"""Reading one ActiveData file: records with their lines, bad lines with their reasons."""

import gzip
import zlib

from hypothesis import given, settings
from hypothesis import strategies as st
from isal import igzip, isal_zlib

from ci_assets.defs.activedata.records import _text, read_records


def test_records_keep_their_line_and_text_crlf_included() -> None:
    body = b'{"_id": "tc.1623116:162311556.34.0", "run": 1}\r\n{"_id": "tc.1623116:162311556.34.1"}\n'
    got = read_records(gzip.compress(body))
    assert got.ids == ["tc.1623116:162311556.34.0", "tc.1623116:162311556.34.1"]
    assert got.lines == [1, 2] and got.records[0] == b'{"_id": "tc.1623116:162311556.34.0", "run": 1}'
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
    got = read_records(gzip.compress(b"\n".join(lines) + b"\n"))
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
    got = read_records(b'{"_id": "x"}\n')
    assert len(got.bad) == 1 and got.bad[0].line == 0 and "gzip" in got.bad[0].reason


def test_a_10_mb_line_and_hostile_bytes_leave_the_rest_of_the_file_read() -> None:
    """A 10 MB record is a record; a 10 MB line of NUL and non-UTF-8 bytes is one bad line; the lines
    around them are read; a gzip stream that ends early keeps what came before and says so."""
    huge = b'{"_id": "tc.1623116:162311556.34.1", "log": "' + b"x" * (10 << 20) + b'"}'
    garbage = b"\x00\xff\xfe" * ((10 << 20) // 3)
    lines = [b'{"_id": "tc.1623116:162311556.34.0"}', huge, garbage, b'{"_id": "tc.1623116:162311556.34.2"}']
    got = read_records(gzip.compress(b"\n".join(lines) + b"\n"))
    assert got.ids == [f"tc.1623116:162311556.34.{n}" for n in range(3)] and got.lines == [1, 2, 4]
    assert [b.line for b in got.bad] == [3] and got.received == 4
    cut = gzip.compress(b"\n".join([lines[0], lines[3]]) + b"\n")[:-12]
    early = read_records(cut)
    assert any("gzip" in b.reason or "end" in b.reason for b in early.bad), early.bad


def _igzip_answer(data: bytes) -> bytes | str:
    try:
        return igzip.decompress(data)
    except (OSError, EOFError, zlib.error, isal_zlib.error):  # isal_zlib.error: a damaged stream
        return "refused"


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.binary(max_size=300), min_size=1, max_size=3),
    st.binary(max_size=8),
    st.integers(min_value=0, max_value=40),
    st.integers(min_value=0, max_value=400),
)
def test_a_file_inflates_as_igzip_reads_it_whatever_its_gzip_form(
    members: list[bytes], tail: bytes, cut: int, flip: int
) -> None:
    """The inflate that runs without the GIL takes only one whole member; every other form (several
    members, bytes after one, a cut or damaged file) gets igzip.decompress's own answer, and a
    file it refuses is one bad line (a damaged stream raised isal's own error, which failed the
    step, until this test found it)."""
    whole = b"".join(gzip.compress(m) for m in members)
    for data in (whole, whole + tail, whole[: max(0, len(whole) - cut)], _flipped(whole, flip)):
        got = _text(data)
        expected = _igzip_answer(data)
        assert (got if isinstance(got, bytes) else "refused") == expected


def _flipped(data: bytes, at: int) -> bytes:
    at %= len(data)
    return data[:at] + bytes([data[at] ^ 0x5A]) + data[at + 1 :]
