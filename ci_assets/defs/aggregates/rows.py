"""COPY rows of an aggregate table become rows of the 13-column output (facts.md, "Output").

Almost every row is canonical jsonb text with exactly the seven dimension keys and no
escapes, and an integer array literal: `_copy_rows` (C, one pass without the GIL) takes
those, each dimension as a code into the chunk's dictionary of its values, and the aggregate
as bytes. The rest (escapes, other key sets, not JSON, NULL or empty histograms, lines that
are not two fields of UTF-8) are decided one by one: converted when they are sound,
otherwise returned as bad rows with their reason.

Rows travel as an Arrow table whose text columns are dictionary-encoded (`ARROW_SCHEMA`):
the Parquet writer writes each dictionary once and the codes, where a plain text column
would have every value hashed again to find its code. `as_frame` is the same rows for
polars, the contract's engine.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import numpy as np
import orjson
import polars as pl
import pyarrow as pa

from ci_assets.defs.aggregates import _copy_rows
from ci_assets.defs.aggregates.contracts import HISTOGRAM, SCHEMA_FILE
from ci_assets.defs.aggregates.copy_text import unescape
from ci_assets.defs.aggregates.names import TableName
from ci_assets.lib.storage.frames import fields_frame_schema, read_fields

DIMENSION_KEYS = ("os", "child", "label", "metric", "osVersion", "application", "architecture")
TABLE_COLUMNS = ("aggregate_type", "ds_nodash", "channel", "version")
FIELDS: list[dict[str, str]] = read_fields(SCHEMA_FILE)
OUTPUT_SCHEMA = fields_frame_schema(FIELDS)
# What the converter builds, in the seed's column order.
assert list(OUTPUT_SCHEMA) == ["ingest_date", *TABLE_COLUMNS, *DIMENSION_KEYS, "aggregate"], list(OUTPUT_SCHEMA)
_TEXT = pa.dictionary(pa.int32(), pa.string())
ARROW_SCHEMA = pa.schema(
    [("ingest_date", pa.dictionary(pa.int32(), pa.date32()))]
    + [(c, _TEXT) for c in (*TABLE_COLUMNS, *DIMENSION_KEYS)]
    + [("aggregate", pa.large_string())]
)
_HISTOGRAM = re.compile(HISTOGRAM)
_EPOCH = dt.date(1970, 1, 1)


@dataclasses.dataclass(frozen=True)
class BadRow:
    line: int  # 1-based line of the data file
    reason: str
    raw: str


def parse_chunk(
    chunk: bytes, table: TableName, ingest_date: dt.date, first_line: int, printed_by_postgres: bool = False
) -> tuple[pa.Table, list[BadRow]]:
    """`chunk` holds whole COPY lines of `table`, the first being line `first_line` of its file:
    its rows (`ARROW_SCHEMA`; the fast path's first, then the others in line order) and its bad rows.

    Every aggregate made keeps the contract's `aggregate` rule by construction. How each histogram
    is checked depends on what its bytes are known to be: `printed_by_postgres` (they came out of a
    gzip member whose CRC held, and the TOC typed the column bigint[]) needs only that each byte
    between the braces is a digit, a comma or a minus, which is exact over PostgreSQL's bigint[]
    output (a NULL, a nested array or a bounds decoration all bring other bytes); anything else is
    matched against the rule's whole pattern. A dimension value is taken as it stands only when no
    backslash is in the dimensions (jsonb escapes a quote inside a value, so without one the
    seven quoted values are exactly the seven keys') and it is UTF-8 without control characters."""
    lines, taken, codes, dictionaries, offsets, data, rejected = _copy_rows.parse(chunk, printed_by_postgres)
    # Arrays over the buffers as they are: pa.array would import pandas (seconds) to convert anything.
    codes = [np.frombuffer(c, np.int32) for c in codes]
    values = [_array(pa.string(), len(o) // 4 - 1, o, d) for o, d in dictionaries]
    aggregates = np.frombuffer(offsets, np.int64)
    bad: list[BadRow] = []
    slow: list[list[str]] = []
    for index, start, end in rejected:
        raw = bytes(chunk[start:end])
        row, reason = _line(raw)
        if reason:
            bad.append(BadRow(first_line + index, reason, raw.decode(errors="backslashreplace")))
        else:
            slow.append(row)
    if slow:
        codes, values = _with_slow_dimensions(codes, values, slow)
        data += "".join(row[-1] for row in slow).encode()
        lengths = np.cumsum([len(row[-1].encode()) for row in slow], dtype=np.int64)
        aggregates = np.concatenate([aggregates, aggregates[-1] + lengths])
    rows = taken + len(slow)
    zeros = np.zeros(rows, np.int32)
    columns = [
        _dictionary(zeros, _array(pa.date32(), 1, np.array([(ingest_date - _EPOCH).days], np.int32))),
        *(_dictionary(zeros, _strings([getattr(table, c)])) for c in TABLE_COLUMNS),
        *(_dictionary(c, v) for c, v in zip(codes, values, strict=True)),
        _array(pa.large_string(), rows, aggregates, data),
    ]
    assert lines == taken + len(rejected)
    return pa.Table.from_arrays(columns, schema=ARROW_SCHEMA), bad


def _array(kind: pa.DataType, length: int, *buffers: object) -> pa.Array:
    return pa.Array.from_buffers(kind, length, [None, *(pa.py_buffer(b) for b in buffers)])


def _strings(values: list[str]) -> pa.Array:
    encoded = [v.encode() for v in values]
    offsets = np.zeros(len(values) + 1, np.int32)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    return _array(pa.string(), len(values), offsets, b"".join(encoded))


def _dictionary(codes: np.ndarray, values: pa.Array) -> pa.DictionaryArray:
    kind = pa.dictionary(pa.int32(), values.type)
    return pa.DictionaryArray.from_buffers(kind, len(codes), [None, pa.py_buffer(codes)], values)


def _with_slow_dimensions(
    codes: list[np.ndarray], values: list[pa.Array], slow: list[list[str]]
) -> tuple[list[np.ndarray], list[pa.Array]]:
    """The dictionaries and codes with the per-row path's rows appended."""
    new_codes, new_values = [], []
    for k, (column, dictionary) in enumerate(zip(codes, values, strict=True)):
        index = {v: i for i, v in enumerate(dictionary.to_pylist())}
        extra = np.array([index.setdefault(row[k], len(index)) for row in slow], np.int32)
        new_codes.append(np.concatenate([column, extra]))
        new_values.append(_strings(list(index)))
    return new_codes, new_values


def as_frame(rows: pa.Table) -> pl.LazyFrame:
    """`rows` as polars sees them, of `OUTPUT_SCHEMA`. A column of one value (the table's name
    parts and the day, always; a dimension, sometimes) is a polars scalar, so a rule on it is
    checked once rather than on every row; the others are gathers of their dictionary by the
    codes, lazily, so a screen builds only the columns it reads."""
    arrays: dict[str, pa.Array] = {}
    columns: list[pl.Expr] = []
    for name, column in zip(rows.column_names, rows.columns, strict=True):
        array = column.chunks[0] if column.num_chunks == 1 else column.combine_chunks()
        if not pa.types.is_dictionary(array.type):
            arrays[name] = array
            columns.append(pl.col(name))
        elif len(array.dictionary) == 1:
            columns.append(pl.lit(array.dictionary[0].as_py(), OUTPUT_SCHEMA[name]).alias(name))
        else:
            arrays[f"{name} codes"] = array.indices
            columns.append(pl.lit(_series(name, array.dictionary)).gather(pl.col(f"{name} codes")).alias(name))
    frame = pl.from_arrow(pa.table(arrays))  # one conversion: polars' costs about as much per call as per column
    assert isinstance(frame, pl.DataFrame)
    return frame.lazy().select(columns)


def _series(name: str, array: pa.Array) -> pl.Series:
    series = pl.from_arrow(array)  # pl.Series(name, array, dtype) would convert value by value
    assert isinstance(series, pl.Series)
    return series.alias(name)


def _line(raw: bytes) -> tuple[list[str], str | None]:
    """A line the fast path did not take: its two fields decided by the per-row path."""
    try:
        text = raw.decode()
    except UnicodeDecodeError as e:
        return [], f"line is not UTF-8 ({e})"
    fields = text.split("\t")
    if len(fields) != 2:
        return [], f"line is {len(fields)} field(s), not 2 (dimensions, histogram)"
    dimensions, histogram = (None if f == "\\N" else f for f in fields)
    return _row(dimensions, histogram)


def _row(dimensions: str | None, histogram: str | None) -> tuple[list[str], str | None]:
    """One row the fast path did not take: its output values, or why it cannot have any."""
    if dimensions is None:
        return [], "dimensions is NULL"
    try:
        parsed = orjson.loads(unescape(dimensions))
    except orjson.JSONDecodeError as e:
        return [], f"dimensions is not JSON ({e})"
    if not isinstance(parsed, dict):
        return [], f"dimensions is a JSON {type(parsed).__name__}, not an object"
    missing = [k for k in DIMENSION_KEYS if k not in parsed]
    if missing:
        return [], f"dimensions lack key(s) {missing}"
    extra = sorted(set(parsed) - set(DIMENSION_KEYS))
    if extra:
        return [], f"dimensions have key(s) {extra} that the table has no column for"
    not_text = [k for k in DIMENSION_KEYS if not isinstance(parsed[k], str)]
    if not_text:
        return [], f"dimension value(s) {not_text} are not strings"
    if histogram is None:
        return [], "histogram is NULL"
    histogram = unescape(histogram)
    if any(v.strip("{} ").upper() == "NULL" for v in histogram.split(",")):
        return [], "histogram has NULL elements"
    if not _HISTOGRAM.match(histogram):
        return [], "histogram is not an array of integers"
    return [*(parsed[k] for k in DIMENSION_KEYS), "[" + histogram[1:-1] + "]"], None
