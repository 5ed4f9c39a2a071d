"""The tables' schema file is seed 004's table, and the converter builds exactly it."""

import re
from pathlib import Path

import polars as pl

from ci_assets.defs.aggregates.rows import DIMENSION_KEYS, FIELDS, OUTPUT_SCHEMA
from ci_assets.lib.reference import shared_reference_dir

SEED = "004_6b08e0a417ea4d4b.txt"


def test_schema_file_is_the_seeds_table_when_the_seed_is_here() -> None:
    shared = shared_reference_dir(Path(__file__))
    seed = shared.parent / "seeds" / SEED if shared else None
    if seed is not None and seed.is_file():  # a bare clone (CI) has no shared/; the next test still runs
        rows = re.findall(r"^(\w+) \| (\w+) \| (\w+)$", seed.read_text(), re.M)
        assert [(f["name"], f["type"], f["mode"]) for f in FIELDS] == rows
    assert [f["name"] for f in FIELDS][:2] == ["ingest_date", "aggregate_type"]
    assert {k: FIELDS[0][k] for k in ("name", "type", "mode")} == {
        "name": "ingest_date",
        "type": "DATE",
        "mode": "REQUIRED",
    }


def test_output_schema_is_the_file_in_order_with_the_seven_dimensions() -> None:
    assert list(OUTPUT_SCHEMA) == [f["name"] for f in FIELDS]
    assert OUTPUT_SCHEMA["ingest_date"] == pl.Date and all(OUTPUT_SCHEMA[f["name"]] == pl.String for f in FIELDS[1:])
    assert set(DIMENSION_KEYS) == {"os", "child", "label", "metric", "osVersion", "application", "architecture"}
