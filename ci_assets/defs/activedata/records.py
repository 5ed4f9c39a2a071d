"""The records of one ActiveData file: one JSON object per line, each with its `_id`.

A line that is not JSON, not an object, or has no string `_id` is a bad line (with its
file key and line number), never dropped; whether an `_id` starts with the file's key is
the records' contract's to say (contracts.py).

Standard library and orjson only: line_parser.py loads this file by its path in a process of
its own, which never imports Dagster.
"""

from __future__ import annotations

import dataclasses
import zlib

import orjson
from isal import igzip


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


def read_records(data: bytes) -> FileRecords:
    out = FileRecords()
    try:
        text = igzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        out.bad.append(BadLine(0, f"not a whole gzip file ({e})", data[:200]))
        return out
    lines = text.split(b"\n")
    if lines and lines[-1] in (b"", b"\r"):
        lines.pop()  # the newline that ends the last record
    if b"\r" in text:  # the seed says CR-delimited; accept CRLF too
        lines = [raw.removesuffix(b"\r") for raw in lines]
    # A million lines a day: the loop's names are local, and `type() is` (orjson makes exact types).
    loads, not_json = orjson.loads, orjson.JSONDecodeError
    ids, numbers, records, bad = out.ids, out.lines, out.records, out.bad
    for number, line in enumerate(lines, start=1):
        try:
            record = loads(line)
        except not_json as e:
            bad.append(BadLine(number, f"not JSON ({e})", line))
            continue
        if type(record) is not dict:
            bad.append(BadLine(number, f"a JSON {type(record).__name__}, not an object", line))
            continue
        record_id = record.get("_id")
        if type(record_id) is not str or not record_id:
            bad.append(BadLine(number, "no _id" if record_id is None else "_id is not a string", line))
            continue
        ids.append(record_id)
        numbers.append(number)
        records.append(line)
    return out
