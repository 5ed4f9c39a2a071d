"""COPY rows of an aggregate table become rows of the 13-column output (facts.md, "Output").

Almost every row is canonical jsonb text with exactly the seven dimension keys and no
escapes, and an integer array literal; those go through one vectorised regex each. The
rest (escapes, other key sets, not JSON, NULL or empty histograms) are decided one by
one: converted when they are sound, otherwise returned as bad rows with their reason.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import orjson
import polars as pl

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
_RAW_SCHEMA = {"dimensions": pl.String, "histogram": pl.String}
# jsonb prints keys shortest first, then bytewise: exactly the order of DIMENSION_KEYS,
# each as `"key": "value"` joined by `, `. A row in that shape, with no escapes, splits
# on `", "` into seven pieces that each begin with their key.
_PREFIXES = ['{"os": "'] + [f'{k}": "' for k in DIMENSION_KEYS[1:]]
_HISTOGRAM = re.compile(HISTOGRAM)


@dataclasses.dataclass(frozen=True)
class BadRow:
    line: int  # 1-based line of the data file
    reason: str
    raw: str


def parse_chunk(
    chunk: bytes, table: TableName, ingest_date: dt.date, first_line: int, printed_by_postgres: bool = False
) -> tuple[pl.DataFrame, list[BadRow]]:
    """`chunk` holds whole COPY lines of `table`, the first being line `first_line` of its file.

    Every aggregate made keeps the contract's `aggregate` rule by construction. How each histogram
    is checked depends on what its bytes are known to be: `printed_by_postgres` (they came out of a
    gzip member whose CRC held, and the TOC typed the column bigint[]) needs only the shape checks
    that are exact over PostgreSQL's bigint[] output (`printed_histogram_keeps_the_rule`); anything
    else is matched against the rule's whole pattern, byte by byte."""
    raw = read_copy(chunk)
    # Each line is one row: COPY escapes newlines and tabs inside values, a two-column table
    # has no empty lines, and a line with another number of fields fails the read above.
    constants = [pl.lit(ingest_date).alias("ingest_date")] + [
        pl.lit(getattr(table, c), pl.String).alias(c) for c in TABLE_COLUMNS
    ]
    split = raw.lazy().with_columns(
        pl.col("dimensions").str.split_exact('", "', len(DIMENSION_KEYS) - 1).alias("piece")
    )
    converted = (
        split.unnest("piece")
        .select(
            *constants,
            *_dimension_values(),
            _aggregate(),
            _is_canonical(printed_by_postgres).fill_null(False).alias("sound"),
        )
        .collect(engine="streaming")
    )
    sound = converted.get_column("sound")
    if sound.all():  # the usual case: no filter, so no copy of the chunk
        return converted.drop("sound"), []
    fast = converted.filter(sound).drop("sound")
    sound = sound.not_()
    slow_rows, bad = [], []
    for index, (dimensions, histogram) in zip(sound.arg_true(), raw.filter(sound).iter_rows(), strict=True):
        line = first_line + int(index)
        values, reason = _row(dimensions, histogram)
        if reason:
            bad.append(BadRow(line, reason, f"{dimensions}\t{histogram}"))
        else:
            slow_rows.append(values)
    slow = pl.DataFrame(slow_rows, schema=[*DIMENSION_KEYS, "aggregate"], orient="row").select(
        *constants, *DIMENSION_KEYS, "aggregate"
    )
    return pl.concat([fast, slow]), bad


def read_copy(chunk: bytes) -> pl.DataFrame:
    """The chunk's two COPY columns as text, escapes unresolved; `\\N` is NULL."""
    return pl.read_csv(chunk, separator="\t", has_header=False, quote_char=None, schema=_RAW_SCHEMA, null_values="\\N")


def _pieces() -> list[pl.Expr]:
    return [pl.col(f"field_{i}") for i in range(len(DIMENSION_KEYS))]


def _is_canonical(printed_by_postgres: bool) -> pl.Expr:
    # The column is jsonb (checked from the TOC), so a quote inside a value is escaped:
    # no backslash means none is, and seven pieces that begin with their keys, the last
    # closing the object with no quote in its value, are exactly the seven keys.
    pieces, histogram = _pieces(), pl.col("histogram")
    last_value = pieces[-1].str.slice(len(_PREFIXES[-1]), pieces[-1].str.len_bytes() - len(_PREFIXES[-1]) - 2)
    canonical = (
        ~pl.col("dimensions").str.contains("\\", literal=True)
        & pieces[-1].str.ends_with('"}')
        & ~last_value.str.contains('"', literal=True)
    )
    for piece, prefix in zip(pieces, _PREFIXES, strict=True):
        canonical &= piece.str.starts_with(prefix)
    if printed_by_postgres:
        return canonical & printed_histogram_keeps_the_rule(histogram)
    return canonical & histogram.str.contains(HISTOGRAM)


def printed_histogram_keeps_the_rule(histogram: pl.Expr) -> pl.Expr:
    """The contract's histogram pattern, for text PostgreSQL printed for a bigint[] value.

    That text is `{}` or integers and NULLs in braces, nested once per dimension, optionally
    after a bounds decoration (`[0:1]={1,2}`); its integers are already canonical (no leading
    zeros, no `+`). Of those, the pattern keeps exactly the ones that start with a brace but
    not two (one dimension, no decoration) and hold no `N` (no NULL): three literal searches
    in place of a regex over every byte. Tested equal to the pattern on PostgreSQL's own
    output of generated arrays."""
    one_dimension = histogram.str.starts_with("{") & ~histogram.str.starts_with("{{")
    return one_dimension & ~histogram.str.contains("N", literal=True)


def _dimension_values() -> list[pl.Expr]:
    values = [piece.str.slice(len(prefix)) for piece, prefix in zip(_pieces(), _PREFIXES, strict=True)]
    values[-1] = values[-1].str.slice(0, values[-1].str.len_bytes() - 2)  # the closing `"}`
    return [v.alias(k) for v, k in zip(values, DIMENSION_KEYS, strict=True)]


def _aggregate() -> pl.Expr:
    # The original converter's character swap, `{0,2,0}` -> `[0,2,0]`, on sound rows.
    histogram = pl.col("histogram")
    inner = histogram.str.slice(1, histogram.str.len_bytes() - 2)
    return pl.concat_str(pl.lit("["), inner, pl.lit("]")).alias("aggregate")


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
