"""Real dumps converted: every row accounted for, bad rows and bad files refused with their reason."""

import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from ci_assets.defs.aggregates.convert import convert
from ci_assets.defs.aggregates.copy_text import DataFileError, line_chunks, unescape
from ci_assets.defs.aggregates.dump_plan import DumpError, plan_dump
from ci_assets.defs.aggregates.rows import OUTPUT_SCHEMA
from ci_assets_tests.defs.aggregates.conftest import DAY, DIRTY, DIRTY_ROWS, ESCAPED_LABEL, ODD_NAMES, Source, file_of


def _convert(directory: Path, tmp_path: Path, chunk_bytes: int = 1 << 20):
    out = tmp_path / "out.parquet"
    return convert(plan_dump(directory, "submission_date", DAY), DAY, out, chunk_bytes=chunk_bytes), out


def test_a_day_converts_to_the_seed_columns_with_every_row_accounted_for(
    source: Source, submission_dump: Path, tmp_path: Path
) -> None:
    conversion, out = _convert(submission_dump, tmp_path, chunk_bytes=4096)  # many chunks per file
    frame = pl.read_parquet(out)
    assert frame.schema == OUTPUT_SCHEMA
    assert frame.height == conversion.rows == source.good_rows("submission_date")
    assert conversion.copy_rows == conversion.rows + conversion.bad_rows
    assert frame["ingest_date"].unique().to_list() == [DAY]
    assert set(frame["channel"]) <= {"nightly", "aurora", "beta", "release"}
    assert frame["aggregate"].str.json_decode(pl.List(pl.Int64)).null_count() == 0
    # The excluded tables are named, each with its reason; nothing of them is in the output.
    assert {x.tag for x in conversion.excluded} == set(ODD_NAMES)
    assert all("does not match" in x.reason for x in conversion.excluded)
    # Bad rows: their file line and reason; the escaped one converted exactly.
    dirty = next(t for t in conversion.tables if t.tag == DIRTY)
    assert len(dirty.bad) == len(DIRTY_ROWS) and all(b.line > 0 for b in dirty.bad)
    for _, _, expected in DIRTY_ROWS:
        assert sum(expected in b.reason for b in dirty.bad) == 1, expected
    escaped = frame.filter(pl.col("metric") == "E")
    assert escaped["label"].to_list() == [ESCAPED_LABEL] and escaped["aggregate"].to_list() == ["[5,0,7]"]
    assert frame.filter(pl.col("metric") == "B")["aggregate"].to_list() == ["[]"]  # kept, as the original does


def test_values_come_from_the_json_and_the_table_name(source: Source, submission_dump: Path, tmp_path: Path) -> None:
    _, out = _convert(submission_dump, tmp_path)
    frame = pl.read_parquet(out)
    with gzip.open(file_of(submission_dump, "submission_date_aurora_71_20191201"), "rt") as f:
        dims, histogram = f.readline().rstrip("\n").split("\t")
    want = json.loads(dims)
    row = frame.filter(
        (pl.col("channel") == "aurora") & (pl.col("version") == "71"),
        *[pl.col(k) == v for k, v in want.items()],
    )
    assert row.height == 1
    assert row.row(0, named=True) == {
        "ingest_date": DAY,
        "aggregate_type": "submission_date",
        "ds_nodash": "20191201",
        "channel": "aurora",
        "version": "71",
        **want,
        "aggregate": "[" + histogram[1:-1] + "]",
    }


def test_copy_escapes() -> None:
    assert unescape(r"a\tb\\n\nc\\\\") == "a\tb\\n\nc\\\\"
    assert unescape(r"\101\x42") == "AB"


@pytest.mark.parametrize(
    ("damage", "error", "match"),
    [
        (lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]), DataFileError, "decompressed whole"),
        (
            lambda p: p.write_bytes(p.read_bytes()[:20] + b"\x00" * 40 + p.read_bytes()[60:]),
            DataFileError,
            "decompressed whole",
        ),
        (lambda p: p.write_bytes(gzip.compress(b'{"os": "x"}\t{1}\n')), DataFileError, "end-of-data"),
    ],
    ids=["truncated", "corrupt", "no end line"],
)
def test_a_damaged_data_file_fails_the_whole_conversion(
    dump_copy: Path, tmp_path: Path, damage, error, match: str
) -> None:
    damage(file_of(dump_copy, DIRTY))
    with pytest.raises(error, match=match):
        _convert(dump_copy, tmp_path)
    assert not (tmp_path / "out.parquet").exists()  # no partial output


def test_rows_that_are_not_json_are_quarantined_by_line(dump_copy: Path, tmp_path: Path) -> None:
    good = '{"os": "Linux", "child": "false", "label": "", "metric": "M", "osVersion": "5.4", "application": "Firefox", "architecture": "x86"}'  # noqa: E501
    lines = [f"{good}\t{{1,2}}", "not json at all\t{1}", '{"os": \t{1}', "[1, 2]\t{3}", "\\."]
    file_of(dump_copy, DIRTY).write_bytes(gzip.compress(("\n".join(lines) + "\n\n").encode()))
    conversion, _ = _convert(dump_copy, tmp_path)
    dirty = next(t for t in conversion.tables if t.tag == DIRTY)
    assert (dirty.copy_rows, dirty.rows) == (4, 1)
    assert [(b.line, b.reason.split(" (")[0]) for b in dirty.bad] == [
        (2, "dimensions is not JSON"),
        (3, "dimensions is not JSON"),
        (4, "dimensions is a JSON list, not an object"),
    ]


def test_a_dump_that_is_not_whole_is_refused(dump_copy: Path, tmp_path: Path) -> None:
    extra = dump_copy / "9999.dat.gz"
    extra.write_bytes(gzip.compress(b"\\.\n"))
    with pytest.raises(DumpError, match=r"\['9999.dat'\] are not in toc.dat"):
        plan_dump(dump_copy, "submission_date", DAY)
    extra.unlink()
    file_of(dump_copy, DIRTY).unlink()
    with pytest.raises(DumpError, match="not there; the dump is incomplete"):
        plan_dump(dump_copy, "submission_date", DAY)


def test_a_toc_of_another_version_or_no_toc_at_all_is_refused(dump_copy: Path) -> None:
    toc = dump_copy / "toc.dat"
    data = bytearray(toc.read_bytes())
    data[5:8] = bytes([1, 11, 0])  # archive version 1.11, older than PostgreSQL 12's
    toc.write_bytes(bytes(data))
    with pytest.raises(DumpError, match=r"1\.11\.0 is older"):
        plan_dump(dump_copy, "submission_date", DAY)
    data[5:8] = bytes([1, 17, 0])  # a future pg_dump's: its layout is unknown, so it is not guessed at
    toc.write_bytes(bytes(data))
    with pytest.raises(DumpError, match=r"1\.17\.0 is newer"):
        plan_dump(dump_copy, "submission_date", DAY)
    toc.write_bytes(b"COPY public.x (dimensions, histogram) FROM stdin;\n")
    with pytest.raises(DumpError, match="no PGDMP magic"):
        plan_dump(dump_copy, "submission_date", DAY)
    toc.unlink()
    with pytest.raises(DumpError, match=r"has no toc\.dat"):
        plan_dump(dump_copy, "submission_date", DAY)


def test_line_chunks_keep_whole_rows_and_drop_the_end_line(dump_copy: Path) -> None:
    path = file_of(dump_copy, DIRTY)
    with gzip.open(path, "rb") as f:
        whole = f.read()
    chunks = list(line_chunks(path, chunk_bytes=1000))
    assert len(chunks) > 3 and all(c.endswith(b"\n") for c in chunks)
    assert b"".join(chunks) + b"\\.\n" == whole.rstrip(b"\n") + b"\n"
