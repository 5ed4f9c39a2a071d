"""The records of one ActiveData file: one JSON object per line, each with its `_id`.

A line that is not JSON, not an object, or has no string `_id` is a bad line (with its
file key and line number), never dropped; whether an `_id` starts with the file's key is
the records' contract's to say (contracts.py).

Two paths, one answer: `read_columns` takes every line `_json_lines` (C) can prove orjson
would read as a record, straight into Arrow-layout buffers, and leaves the rest to
`read_records`, the per-line path through orjson, which is the definition.

The download thread that fetched a file reads it here (day_files.py); the C pass runs without
the GIL, and so does the inflate of a file that is one whole gzip member (nearly all of them).
"""

from __future__ import annotations

import dataclasses
import itertools
import zlib
from array import array
from collections.abc import Iterable

import orjson
from isal import igzip, isal_zlib

from ci_assets.defs.activedata import _json_lines  # built by uv sync (pyproject's ext-modules)

# One file's records as columns (day_files.Columns' fields): `_id`s, their int64 offsets, line
# numbers (int64), records' text, their int64 offsets, and the bad lines as (line, reason, raw).
Parts = tuple[bytes, bytes, bytes, bytes, bytes, list[tuple[int, str, bytes]]]


@dataclasses.dataclass(frozen=True)
class BadLine:
    line: int  # 1-based; 0 for the whole file
    reason: str
    raw: bytes


@dataclasses.dataclass
class FileRecords:
    ids: list[str] = dataclasses.field(default_factory=list)
    lines: list[int] = dataclasses.field(default_factory=list)
    records: list[bytes] = dataclasses.field(default_factory=list)  # each record's JSON text (UTF-8: orjson read it)
    bad: list[BadLine] = dataclasses.field(default_factory=list)

    @property
    def received(self) -> int:
        return len(self.ids) + len(self.bad)


def _text(data: bytes) -> bytes | BadLine:
    # One whole gzip member, the usual file, inflates without the GIL (igzip.decompress holds it:
    # 0.2 s a day that the download threads' boto3 waited on); anything else (several members,
    # bytes after the member, a cut file) is igzip.decompress's to read or refuse, as before.
    inflate = isal_zlib.decompressobj(wbits=31)
    try:
        text = inflate.decompress(data)
    except isal_zlib.error:
        text = None
    if text is not None and inflate.eof and not inflate.unused_data:
        return text
    try:
        return igzip.decompress(data)
    except (OSError, EOFError, zlib.error, isal_zlib.error) as e:  # isal's own for a damaged stream
        return BadLine(0, f"not a whole gzip file ({e})", data[:200])


def read_records(data: bytes) -> FileRecords:
    """The per-line path: every line through orjson."""
    text = _text(data)
    if isinstance(text, BadLine):
        return FileRecords(bad=[text])
    return _records_of(text)


def _records_of(text: bytes) -> FileRecords:
    out = FileRecords()
    lines = text.split(b"\n")
    if lines and lines[-1] in (b"", b"\r"):
        lines.pop()  # the newline that ends the last record
    if b"\r" in text:  # the seed says CR-delimited; accept CRLF too
        lines = [raw.removesuffix(b"\r") for raw in lines]
    # A million lines a day: the loop's names are local, and `type() is` (orjson makes exact types).
    ids, numbers, records, bad = out.ids, out.lines, out.records, out.bad
    for number, line in enumerate(lines, start=1):
        verdict = _verdict(number, line)
        if type(verdict) is str:
            ids.append(verdict)
            numbers.append(number)
            records.append(line)
        else:
            bad.append(verdict)
    return out


def _verdict(number: int, line: bytes, loads=orjson.loads, not_json=orjson.JSONDecodeError) -> str | BadLine:
    """The line's `_id`, or why it is a bad line."""
    try:
        record = loads(line)
    except not_json as e:
        return BadLine(number, f"not JSON ({e})", line)
    if type(record) is not dict:
        return BadLine(number, f"a JSON {type(record).__name__}, not an object", line)
    record_id = record.get("_id")
    if type(record_id) is not str or not record_id:
        return BadLine(number, "no _id" if record_id is None else "_id is not a string", line)
    return record_id


def read_columns(data: bytes) -> Parts:
    """`read_records` as columns, the same records and bad lines: the lines the C pass takes go
    straight into the buffers; each other line is decided by `_verdict`. Should one of those be a
    record after all (an `_id` with escapes, a number past the pass's bounds), the file's text is
    read again by the per-line path, so the records stay in line order."""
    text = _text(data)
    if isinstance(text, BadLine):
        return b"", _offsets([]), b"", b"", _offsets([]), [(text.line, text.reason, text.raw)]
    *taken, others = _json_lines.read_lines(text)
    bad = []
    for number, start, end in others:
        verdict = _verdict(number, text[start:end])
        if type(verdict) is str:
            return as_columns(_records_of(text))
        bad.append((verdict.line, verdict.reason, verdict.raw))
    return (*taken, bad)


def _offsets(lengths: Iterable[int]) -> bytes:
    return array("q", itertools.accumulate(lengths, initial=0)).tobytes()


def as_columns(found: FileRecords) -> Parts:
    ids = "".join(found.ids)
    if ids.isascii():  # a character is a byte: no need to encode each `_id`
        id_offsets = _offsets(map(len, found.ids))
        encoded = ids.encode()
    else:
        each = [i.encode() for i in found.ids]
        id_offsets, encoded = _offsets(map(len, each)), b"".join(each)
    bad = [(b.line, b.reason, b.raw) for b in found.bad]
    records = b"".join(found.records)
    return encoded, id_offsets, array("q", found.lines).tobytes(), records, _offsets(map(len, found.records)), bad
