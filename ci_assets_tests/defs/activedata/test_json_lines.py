"""ActiveData's C pass over a file's lines (`_json_lines`, through `read_columns`) against the
per-line path through orjson (`read_records`), which defines what a record is: on any bytes, the
same records, line numbers, text and bad lines with their reasons."""

import gzip
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_assets.defs.activedata.records import _json_lines, as_columns, read_columns, read_records

_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**80), 2**80),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
)
_VALUE = st.recursive(
    _SCALAR,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8,
)
# Raw JSON text json.dumps never writes: numbers near and past a double's range, leading zeros,
# surrogate escapes, an escaped `_id` key, deep nesting, trailing commas, non-JSON literals.
_RAW_TEXTS = (
    [
        "1e400", "1e308", "1E+300", "-0", "01", "1.", ".5", "-", "9" * 310, "9" * 300, "1" + "0" * 300 + "e1",
        '"\\ud800"', '"\\ud83d\\ude00"', '"\\udc00x"', '"\\/"', '"\\x"', '"\\u00e9"', "NaN", "Infinity", "tru",
        "[" * 64 + "]" * 64, "[" * 65 + "]" * 65, "[" * 1025 + "]" * 1025, "[1,]", "{}", '{"a":1,}', "[1 2]",
    ]
)  # fmt: skip
_RAW = st.sampled_from(_RAW_TEXTS)
_ID = st.one_of(
    st.text("ab.:1", max_size=3).map(json.dumps),
    st.text("ab.:1", max_size=3).map(json.dumps),
    st.text(max_size=6).map(json.dumps),
    st.sampled_from(["", "tc.1:2.3", "é", 5, None, [1]]).map(json.dumps),
    st.text(max_size=4).map(lambda t: json.dumps(t, ensure_ascii=False)),
    _RAW,
)


@st.composite
def _record(draw: st.DrawFn) -> bytes:
    fields = [
        (json.dumps(k), json.dumps(v))
        for k, v in draw(st.dictionaries(st.text(max_size=4), _VALUE, max_size=3)).items()
    ]
    fields += [(json.dumps(draw(st.text(max_size=3))), draw(_RAW)) for _ in range(draw(st.integers(0, 1)))]
    for _ in range(draw(st.integers(0, 3))):  # zero to three `_id`s (the last one counts), maybe escaped
        key = draw(st.sampled_from(['"_id"', '"_id"', '"_id"', '"\\u005fid"', '"_i"']))
        fields.insert(draw(st.integers(0, len(fields))), (key, draw(_ID)))
    space = draw(st.sampled_from(["", " ", "\t", "\r", "  "]))
    text = "{" + space + ",".join(f"{k}{space}:{space}{v}" for k, v in fields) + space + "}"
    return text.encode()


@st.composite
def _damaged(draw: st.DrawFn) -> bytes:
    line = bytearray(draw(_record()))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(line)))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        byte = draw(st.sampled_from([0, 0x1F, 0x22, 0x5C, 0x7B, 0x7D, 0x2C, 0x80, 0xC3, 0xED, 0xFF]))
        if kind == "insert":
            line.insert(at, byte)
        elif at < len(line):
            if kind == "delete":
                del line[at]
            else:
                line[at] = byte
    return bytes(line)


_LINE = st.one_of(_record(), _record(), _damaged(), st.binary(max_size=12), st.just(b""), st.just(b"\r"))


@settings(max_examples=400, deadline=None)
@given(st.lists(_LINE, max_size=6), st.sampled_from([b"\n", b"\r\n"]), st.sampled_from([b"", b"\n", b"\r", b"\r\n"]))
def test_any_lines_read_as_the_per_line_path_reads_them(lines: list[bytes], newline: bytes, end: bytes) -> None:
    data = gzip.compress(newline.join(lines) + end)
    assert read_columns(data) == as_columns(read_records(data))


@pytest.mark.parametrize("raw", _RAW_TEXTS)
def test_each_text_json_dumps_never_writes_as_a_value_and_as_the_id(raw: str) -> None:
    lines = [b'{"_id": "a", "x": %s}', b'{"x": 1, "_id": %s}', b'{"_id": "a", "y": [0, {"z": %s}]}']
    data = gzip.compress(b"\n".join(line % raw.encode() for line in lines) + b"\n")
    assert read_columns(data) == as_columns(read_records(data))


def test_the_pass_takes_the_lines_it_can_prove_and_leaves_the_others() -> None:
    taken = b'{"_id": "tc.1:2.3", "result": {"ok": true, "t": [1.5e3, -0, null]}, "msg": "a\\"b\\u00e9"}'
    left = [
        b'{"_id": "tc.\\u0031"}',  # an escaped `_id`: a record, read by orjson
        b'{"_id": "a", "n": 1e400}',  # orjson refuses the number
        b'{"_id": "a", "_id": 5}',  # the last `_id` counts
        b'{"_id": "a", "\\u005fid": "b"}',  # and this is one, spelt with an escape
        b'{"_id": "a"} x',
        b"[" * 65 + b"]" * 65,
    ]
    ids, _, lines, records, _, others = _json_lines.read_lines(b"\n".join([taken, *left]) + b"\n")
    assert (ids, lines, records) == (b"tc.1:2.3", (1).to_bytes(8, "little"), taken)
    assert [number for number, _, _ in others] == [2, 3, 4, 5, 6, 7]


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"], ids=["LF", "CRLF"])
def test_a_mixed_file_a_crlf_file_and_a_truncated_one_read_the_same_both_ways(newline: bytes) -> None:
    lines = [b'{"_id": "tc.1:2.0", "ok": true}', b"not json", b'{"no_id": 1}', b"", b'{"_id": "tc.1:2.4"}']
    whole = gzip.compress(newline.join(lines) + newline)
    for data in (whole, whole[: len(whole) // 2]):
        columns = read_columns(data)
        assert columns == as_columns(read_records(data))
    assert read_columns(whole)[0] == b"tc.1:2.0tc.1:2.4"
    assert [line for line, _, _ in read_columns(whole)[5]] == [2, 3, 4]
    assert [line for line, _, _ in read_columns(whole[: len(whole) // 2])[5]] == [0]  # the whole file
