"""The records of one ActiveData file: one JSON object per line, each with its `_id`.

A line that is not JSON, not an object, or has no string `_id` is a bad line (with its
file key and line number), never dropped; whether an `_id` starts with the file's key is
the records' contract's to say (contracts.py).
"""

from __future__ import annotations

import dataclasses
import gzip
import zlib

import orjson

from ci_assets.defs.activedata.keys import Key


@dataclasses.dataclass(frozen=True)
class BadLine:
    line: int  # 1-based; 0 for the whole file
    reason: str
    raw: bytes


@dataclasses.dataclass
class FileRecords:
    ids: list[str] = dataclasses.field(default_factory=list)
    lines: list[int] = dataclasses.field(default_factory=list)
    records: list[str] = dataclasses.field(default_factory=list)  # each record's JSON text
    bad: list[BadLine] = dataclasses.field(default_factory=list)

    @property
    def received(self) -> int:
        return len(self.ids) + len(self.bad)


def read_records(key: Key, data: bytes) -> FileRecords:
    out = FileRecords()
    try:
        text = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        out.bad.append(BadLine(0, f"not a whole gzip file ({e})", data[:200]))
        return out
    lines = text.split(b"\n")
    if lines and lines[-1] in (b"", b"\r"):
        lines.pop()  # the newline that ends the last record
    for number, raw in enumerate(lines, start=1):
        line = raw.removesuffix(b"\r")  # the seed says CR-delimited; accept CRLF too
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            out.bad.append(BadLine(number, f"not JSON ({e})", line))
            continue
        if not isinstance(record, dict):
            out.bad.append(BadLine(number, f"a JSON {type(record).__name__}, not an object", line))
            continue
        record_id = record.get("_id")
        if not isinstance(record_id, str) or not record_id:
            out.bad.append(BadLine(number, "no _id" if record_id is None else "_id is not a string", line))
            continue
        out.ids.append(record_id)
        out.lines.append(number)
        out.records.append(line.decode())
    return out
