"""Reading one ActiveData file: records with their lines, bad lines with their reasons."""

import gzip

from ci_assets.defs.activedata.records import read_records


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
