"""The aggregates contract: from schema.yaml, screened in one streamed pass, rows that break it quarantined."""

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_assets.defs.aggregates.contracts import CONTRACT
from ci_assets.defs.aggregates.parquet_asset import PartitionOutcome, _rejections
from ci_assets.defs.aggregates.rows import OUTPUT_SCHEMA
from ci_assets.lib import contract_type, contracts
from ci_assets.lib.storage.streamed import ParquetFile

DAY = dt.date(2019, 12, 1)


def _row(**changes: object) -> dict[str, object]:
    row: dict[str, object] = dict.fromkeys(OUTPUT_SCHEMA)
    row |= {"ingest_date": DAY, "aggregate_type": "build_id", "ds_nodash": "20191201", "channel": "nightly"}
    row |= {"version": "72", "metric": "GC_MS", "aggregate": "[0,2,0]"}
    return row | changes


def _file(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "day.parquet"
    pl.DataFrame(rows, schema=OUTPUT_SCHEMA).write_parquet(path)
    return path


def _frame(rows: list[dict[str, object]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=OUTPUT_SCHEMA)


def test_rows_that_break_a_rule_are_kept_from_the_file_and_quarantined_with_it() -> None:
    rows = [
        _row(metric="KEPT_1"),
        _row(channel="esr"),  # a value outside its set
        _row(aggregate="{0,2}"),  # a malformed aggregate
        _row(aggregate="[1,x]"),
        _row(ingest_date=dt.date(2019, 12, 2)),  # a date outside the partition
        _row(ingest_date=None),  # a NULL in a REQUIRED column
        _row(aggregate_type="daily"),
        _row(metric="KEPT_2", aggregate=None),  # NULLABLE: a null keeps every rule
    ]
    kept, broken = contracts.split(CONTRACT, _frame(rows), [DAY])
    assert kept["metric"].to_list() == ["KEPT_1", "KEPT_2"]
    assert contracts.broken_by_rule(broken) == {
        "aggregate: json_integer_array": 2,
        "aggregate_type: isin(['build_id', 'submission_date'])": 1,
        "channel: isin(['nightly', 'aurora', 'beta', 'release'])": 1,
        "ingest_date: in_partition": 2,
        "ingest_date: not_nullable": 1,
    }
    outcome = PartitionOutcome(f"{DAY}|build_id", "day.parquet", None, broken, "", "file:///dump/")
    assert _rejections(outcome) == []  # a day without tables has no rows to account for
    from ci_assets.defs.aggregates.convert import Conversion

    outcome.conversion = Conversion(tables=[], excluded=[])
    rejected = _rejections(outcome)
    assert len(rejected) == 6
    esr = next(r for r in rejected if "esr" in r.reason)
    assert esr.locator == "file:///dump/build_id_esr_72_20191201" and esr.partition == f"{DAY}|build_id"
    assert esr.reason == "channel: isin(['nightly', 'aurora', 'beta', 'release']) (value esr)"
    assert json.loads(esr.raw)["channel"] == "esr"


def test_a_clean_chunk_passes_as_it_is() -> None:
    frame = _frame([_row(), _row(channel="release")])
    kept, broken = contracts.split(CONTRACT, frame, [DAY])
    assert kept is frame and broken.is_empty()


def test_a_file_with_other_columns_fails_the_type_and_is_never_stored(tmp_path: Path) -> None:
    """The last guard: the contract as the asset's type refuses what the screen would not have let through."""
    good, bad = _file(tmp_path, [_row()]), tmp_path / "bad.parquet"
    pl.DataFrame([_row()]).drop("aggregate").write_parquet(bad)
    asset_type = contract_type.dagster_type(CONTRACT)
    assert asset_type.type_check(None, {"a": ParquetFile(str(good))}).success
    refused = asset_type.type_check(None, {"a": ParquetFile(str(good)), "b": ParquetFile(str(bad))})
    assert not refused.success and "missing column aggregate" in refused.description
    assert "(partition b)" in refused.description
    with pytest.raises(contracts.ContractError, match="missing column aggregate"):
        contracts.screen(CONTRACT, pl.scan_parquet(bad))


def _is_integer_array(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    # The converter swaps a histogram's braces for brackets: no whitespace; empty is an array too.
    spaced = any(c in text for c in " \t\n\r")
    return isinstance(value, list) and all(type(v) is int for v in value) and not spaced


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(max_size=20),
        st.sampled_from(["[01]", "[1, 2]", "[]", "[-0]", "[1.0]", "[1e3]", "[1,]", "[[1]]", '["1"]', "[-]"]),
        st.lists(st.integers(-(10**6), 10**6), max_size=6).map(lambda v: json.dumps(v, separators=(",", ":"))),
    )
)
def test_the_aggregate_rule_keeps_exactly_the_json_integer_arrays(text: str) -> None:
    screened = contracts.screen(CONTRACT, pl.DataFrame([_row(aggregate=text)], schema=OUTPUT_SCHEMA).lazy(), [DAY])
    assert (screened.count_broken() == 0) == _is_integer_array(text), text


_DIMENSIONS = (
    '{"os": "Windows_NT", "child": "false", "label": "", "metric": "GC_MS", "osVersion": "10.0", '
    '"application": "Firefox", "architecture": "x86"}'
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="{}[],-0123456789 N", max_size=16),
        st.lists(st.integers(-(10**9), 10**9), max_size=5).map(lambda v: "{" + ",".join(map(str, v)) + "}"),
    )
)
def test_the_converter_only_makes_aggregates_that_keep_the_rule(histogram: str) -> None:
    """The rule is checked once, on the histogram: the converter's rows never need it checked again."""
    from ci_assets.defs.aggregates.names import TableName
    from ci_assets.defs.aggregates.rows import as_frame, parse_chunk

    table = TableName("build_id", "nightly", "72", "20191201")
    line = f"{_DIMENSIONS}\t{histogram}\n".encode()
    rows, bad = parse_chunk(line, table, DAY, 1)
    assert rows.num_rows + len(bad) == 1
    if rows.num_rows:
        screened = contracts.screen(CONTRACT, as_frame(rows), [DAY])
        assert screened.count_broken() == 0, rows["aggregate"][0]


_BIGINT = st.integers(-(2**63), 2**63 - 1)
_ELEMENT = st.one_of(_BIGINT.map(str), _BIGINT.map(lambda v: f" +{v:03d} " if v >= 0 else str(v)), st.just("NULL"))


def _literal(elements: list[str], dimensions: int, bounds: bool) -> str:
    """A bigint[] input literal: `dimensions` deep (rectangular), maybe with a bounds decoration."""
    text = "{" + ",".join(elements) + "}"
    for _ in range(dimensions - 1 if elements else 0):  # PostgreSQL has no empty sub-arrays
        text = "{" + ",".join([text] * 2) + "}"
    if bounds and dimensions == 1 and elements:
        text = f"[3:{2 + len(elements)}]={text}"
    return text


_LITERALS = st.lists(
    st.builds(_literal, st.lists(_ELEMENT, max_size=5), st.integers(1, 3), st.booleans()), min_size=1, max_size=20
)


@pytest.fixture(scope="module")
def printer(postgres_dsn: str):
    import psycopg

    with psycopg.connect(postgres_dsn, autocommit=True) as conn:
        yield lambda literals: [
            r[0] for r in conn.execute("SELECT v::bigint[]::text FROM unnest(%s::text[]) v", (literals,)).fetchall()
        ]


@settings(max_examples=150, deadline=None)
@given(_LITERALS)
def test_the_printed_histogram_check_is_the_rule_on_what_postgresql_prints(printer, literals: list[str]) -> None:
    """The converter's cheap check on a checksummed file is exact: on every bigint[] text the real
    PostgreSQL prints (NULLs, 2-3 dimensions, bounds, empty, any bigint), it keeps the same
    histograms as the rule's whole pattern, and the rows it makes are the same."""
    import re

    from ci_assets.defs.aggregates.contracts import HISTOGRAM
    from ci_assets.defs.aggregates.names import TableName
    from ci_assets.defs.aggregates.rows import parse_chunk

    printed = printer(literals)
    table = TableName("build_id", "nightly", "72", "20191201")
    chunk = "".join(f"{_DIMENSIONS}\t{h}\n" for h in printed).encode()
    fast, fast_bad = parse_chunk(chunk, table, DAY, 1, printed_by_postgres=True)
    slow, slow_bad = parse_chunk(chunk, table, DAY, 1, printed_by_postgres=False)
    exact = ["[" + h[1:-1] + "]" for h in printed if re.fullmatch(HISTOGRAM, h)]
    assert sorted(fast["aggregate"].to_pylist()) == sorted(exact), printed
    assert fast.equals(slow) and fast_bad == slow_bad
