"""The records of ActiveData files: one JSON object per line, each with its `_id`.

A line that is not JSON, not an object, or has no string `_id` is a bad line (with its
file key and line number), never dropped; whether an `_id` starts with the file's key is
the records' contract's to say (contracts.py).

A day's files are read at once, column-wise (`read_day`): polars parses every line in Rust and
takes a line as a record without Python looking at it when that is certain — the line is JSON,
holds no backslash (so no escape can hide a key or a quote), names `_id` once, and its `_id` is a
plain non-empty string. Every other line goes through `parse_line`, the per-line rules, so the
rows and the bad lines are exactly those of reading each line by itself (`read_records`; a
property test holds the two equal).
"""

from __future__ import annotations

import dataclasses
import gzip
import zlib
from collections.abc import Sequence

import orjson
import polars as pl

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


@dataclasses.dataclass(frozen=True)
class FileText:
    """A file inflated: its text when it is UTF-8 (the fast path), else its lines as bytes."""

    text: str | None
    lines: list[bytes] | None
    bad: BadLine | None  # the whole file could not be read


def inflate(data: bytes) -> FileText:
    try:
        raw = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        return FileText(None, None, BadLine(0, f"not a whole gzip file ({e})", data[:200]))
    try:
        return FileText(raw.decode(), None, None)
    except UnicodeDecodeError:  # some line is not UTF-8: this file is read line by line
        return FileText(None, _split(raw), None)


def _split(raw: bytes) -> list[bytes]:
    lines = raw.split(b"\n")
    if lines and lines[-1] in (b"", b"\r"):
        lines.pop()  # the newline that ends the last record
    return [line.removesuffix(b"\r") for line in lines]  # the seed says CR-delimited; accept CRLF too


def parse_line(number: int, line: bytes) -> tuple[str, str] | BadLine:
    """(`_id`, record text), or why the line is not a record."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        return BadLine(number, f"not JSON ({e})", line)
    if not isinstance(record, dict):
        return BadLine(number, f"a JSON {type(record).__name__}, not an object", line)
    record_id = record.get("_id")
    if not isinstance(record_id, str) or not record_id:
        return BadLine(number, "no _id" if record_id is None else "_id is not a string", line)
    return record_id, line.decode()


def read_records(key: Key, data: bytes) -> FileRecords:
    """One file, line by line: the reference the day's column-wise read is held to."""
    out = FileRecords()
    inflated = inflate(data)
    if inflated.bad is not None:
        out.bad.append(inflated.bad)
        return out
    lines = inflated.lines if inflated.lines is not None else _split((inflated.text or "").encode())
    for number, line in enumerate(lines, start=1):
        parsed = parse_line(number, line)
        if isinstance(parsed, BadLine):
            out.bad.append(parsed)
        else:
            out.ids.append(parsed[0])
            out.lines.append(number)
            out.records.append(parsed[1])
    return out


DAY_SCHEMA = {"key": pl.String, "line": pl.Int64, "_id": pl.String, "record": pl.String}


def read_day(files: Sequence[tuple[str, FileText]]) -> tuple[pl.DataFrame, list[tuple[str, BadLine]]]:
    """Every file's records as one frame (key, line, `_id`, record; files in the order given, lines
    in order) and the bad lines by key."""
    texts = [(i, key, f.text) for i, (key, f) in enumerate(files) if f.text is not None]
    lines = _lines(texts)
    ids = pl.col("text").str.json_path_match("$._id")
    certain = (
        ids.is_not_null()
        & (ids != "")
        & ~pl.col("text").str.contains("\\", literal=True)
        & (pl.col("text").str.count_matches('"_id"', literal=True) == 1)
        & (pl.col("text").str.extract(r'"_id"\s*:\s*"([^"]*)"', 1) == ids)
    ).fill_null(False)
    lines = lines.with_columns(_id=ids, certain=certain)
    fast = lines.filter("certain").select("file", "key", "line", "_id", pl.col("text").alias("record"))

    slow_rows: list[tuple[int, str, int, str, str]] = []
    bad: list[tuple[int, str, BadLine]] = []

    def by_line(file: int, key: str, numbered: Sequence[tuple[int, bytes]]) -> None:
        for number, line in numbered:
            parsed = parse_line(number, line)
            if isinstance(parsed, BadLine):
                bad.append((file, key, parsed))
            else:
                slow_rows.append((file, key, number, parsed[0], parsed[1]))

    for file, key, number, text in lines.filter(~pl.col("certain")).select("file", "key", "line", "text").iter_rows():
        by_line(file, key, [(number, text.encode())])
    for file, (key, f) in enumerate(files):
        if f.bad is not None:
            bad.append((file, key, f.bad))
        elif f.lines is not None:
            by_line(file, key, list(enumerate(f.lines, start=1)))
    slow = pl.DataFrame(slow_rows, schema={"file": pl.Int64, **DAY_SCHEMA}, orient="row")
    frame = pl.concat([fast, slow]).sort("file", "line").drop("file")
    bad.sort(key=lambda item: (item[0], item[2].line))
    return frame, [(key, line) for _, key, line in bad]


def _lines(texts: Sequence[tuple[int, str, str | None]]) -> pl.DataFrame:
    """One row per line (file, key, line number, text), as `_split` would cut them."""
    files = pl.DataFrame(texts, schema={"file": pl.Int64, "key": pl.String, "text": pl.String}, orient="row")
    exploded = (
        files.with_columns(pl.col("text").str.split("\n"))
        .with_columns(count=pl.col("text").list.len(), line=pl.int_ranges(1, pl.col("text").list.len() + 1))
        .explode("text", "line")
    )
    ends_file = (pl.col("line") == pl.col("count")) & pl.col("text").is_in(["", "\r"])
    return exploded.filter(~ends_file).select(
        "file", "key", pl.col("line").cast(pl.Int64), pl.col("text").str.strip_suffix("\r")
    )
