"""Every table of the graph carries its contract as its type, and each contract is its schema file."""

import datetime as dt
import json
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ci_assets.definitions import asset_graph
from ci_assets.lib import contract_type, contracts
from ci_assets.lib.storage.frames import field_dtype, fields_frame_schema

TABLE_IO_MANAGERS = {"lake_io_manager", "warehouse_io_manager"}


def _outputs() -> dict[str, dg.DagsterType]:
    found = {}
    for assets in asset_graph().assets or []:
        if isinstance(assets, dg.AssetsDefinition) and assets.is_executable:
            for key in assets.keys:
                output = assets.node_def.output_def_named(assets.get_output_name_for_asset_key(key))
                if output.io_manager_key in TABLE_IO_MANAGERS:
                    found[key.to_user_string()] = output.dagster_type
    return found


def _contracts() -> dict[str, contracts.Contract]:
    from ci_assets.defs.fxci.contracts import CONTRACTS as FXCI  # the pulse tables' drain writes them itself
    from ci_assets.defs.sources.contracts import DIMENSIONS, SOURCES  # documents the registry writes itself

    found = {t.contract.name: t.contract for t in _outputs().values() if isinstance(t, contract_type.ContractType)}
    return found | {c.name: c for c in [*FXCI.values(), SOURCES, DIMENSIONS]}


def test_every_table_the_io_managers_store_has_its_contract_as_its_type() -> None:
    untyped = sorted(key for key, t in _outputs().items() if not isinstance(t, contract_type.ContractType))
    assert untyped == []
    # fxci 4, aggregates 1, buildhub 2, activedata 3, the registry's 2.
    assert len(_contracts()) == 12


def _read_again(path: Path) -> list[dict[str, Any]]:
    """The schema file read independently of the platform's reader."""
    text = path.read_text()
    loaded = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return loaded["fields"] if isinstance(loaded, dict) else loaded


@pytest.mark.parametrize("name", sorted(_contracts()))
def test_each_contract_is_generated_from_its_schema_file(name: str) -> None:
    """Columns, their order, types (nested ones by their REQUIRED fields) and nullability: what the file says."""
    contract = _contracts()[name]
    assert contract.source is not None and contract.source.is_file()
    fields = _read_again(contract.source)
    columns = contract.schema.columns
    assert list(columns) == [f["name"] for f in fields]
    for field in fields:
        column = columns[field["name"]]
        assert column.nullable == (field.get("mode") != "REQUIRED"), field["name"]
        if field["type"] not in ("RECORD", "STRUCT") and field.get("mode") != "REPEATED":
            assert column.dtype.type == field_dtype(field), field["name"]
        else:
            nested = {
                r.name for r in contract.rules if r.column == field["name"] and r.name.startswith("not_nullable(")
            }
            required = {f"not_nullable({f['name']})" for f in field["fields"] if f.get("mode") == "REQUIRED"}
            assert nested == required, field["name"]


def test_a_contract_refuses_rules_for_columns_its_file_does_not_have(tmp_path: Path) -> None:
    path = tmp_path / "t.schema.yaml"
    path.write_text(yaml.safe_dump({"fields": [{"name": "a", "type": "STRING", "mode": "REQUIRED"}]}))
    with pytest.raises(ValueError, match=r"\['b'\]"):
        contracts.Contract.from_file("t", path, rules=[contracts.at_least("b", 0)])
    drifted = contracts.Contract.from_file("t", path)
    with pytest.raises(contracts.ContractError, match="missing column a; column b is not in the schema file"):
        contracts.enforce(drifted, pl.DataFrame({"b": [1]}))


_FIELDS = [
    {"name": "id", "type": "STRING", "mode": "REQUIRED"},
    {"name": "day", "type": "DATE", "mode": "REQUIRED"},
    {"name": "n", "type": "INTEGER", "mode": "NULLABLE"},
    {"name": "state", "type": "STRING", "mode": "NULLABLE"},
]
_DAYS = [dt.date(2026, 11, 1), dt.date(2026, 11, 2)]
_SMALL = contracts.Contract(
    "small",
    _FIELDS,
    unique=["id", "day"],
    rules=[contracts.at_least("n", 0), contracts.one_of("state", ["a", "b"])],
    partition="day",
)
_ROW = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["x", "y", "z", None]),
        "day": st.sampled_from([*_DAYS, dt.date(2026, 12, 1), None]),
        "n": st.one_of(st.none(), st.integers(-2, 2)),
        "state": st.sampled_from(["a", "b", "c", None]),
    }
)


@settings(max_examples=80, deadline=None)
@given(st.lists(_ROW, max_size=12))
def test_the_frame_and_the_streamed_enforcement_set_aside_the_same_rows(rows: list[dict[str, Any]]) -> None:
    """pandera on a frame, polars expressions on a LazyFrame: one contract, the same verdict on every row."""
    frame = pl.DataFrame(rows, schema=fields_frame_schema(_FIELDS))
    kept, violations = contracts.enforce(_SMALL, frame, _DAYS)
    screened = contracts.screen(_SMALL, frame.lazy(), _DAYS)
    assert screened.kept.collect().equals(kept)
    assert screened.count_broken() == len({v.row for v in violations}) == frame.height - kept.height
    assert contracts.broken_by_rule(screened.broken.collect()) == contracts.rejected_by_rule(violations)
    assert contract_type.dagster_type(_SMALL).type_check(None, kept).success


@settings(max_examples=80, deadline=None)
@given(st.lists(_ROW, max_size=12))
def test_keeps_says_what_pandera_says(rows: list[dict[str, Any]]) -> None:
    """A frame `keeps` (one polars pass) goes unchecked by pandera: it must be one pandera passes."""
    import pandera.errors

    frame = pl.DataFrame(rows, schema=fields_frame_schema(_FIELDS))
    try:
        _SMALL.schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors:
        passes = False
    else:
        passes = True
    assert contracts.keeps(_SMALL, frame) == passes
    assert contract_type.dagster_type(_SMALL).type_check(None, frame).success == passes


def test_a_frame_that_keeps_its_contract_never_imports_pandera() -> None:
    """A clean frame is enforced and type-checked without pandera (and pandas, ~1 s a process);
    one that breaks a rule brings it in to name the rule."""
    import subprocess
    import sys

    probe = (
        "import sys, datetime as dt, polars as pl\n"
        "from ci_assets.lib import contract_type, contracts\n"
        "from ci_assets.defs.activedata.contracts import CONTRACT\n"
        "from ci_assets.defs.activedata.assets import SCHEMA\n"
        "day = dt.date(2026, 11, 30)\n"
        "row = {'_id': 'tc.1.0', 'key': 'tc.1.json.gz', 'line': 1, 'arrival_day': day, 'record': '{}'}\n"
        "frame = pl.DataFrame([row], schema=SCHEMA)\n"
        "kept, violations = contracts.enforce(CONTRACT, frame, [day])\n"
        "assert kept.height == 1 and not violations\n"
        "assert contract_type.dagster_type(CONTRACT).type_check(None, kept).success\n"
        "print('pandera' in sys.modules)\n"
        "_, violations = contracts.enforce(CONTRACT, frame.with_columns(line=pl.lit(0, pl.Int64)), [day])\n"
        "print([v.rule for v in violations], 'pandera' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-2:] == ["False", "['greater_than_or_equal_to(1)'] True"]


def test_a_required_float_that_is_nan_is_missing() -> None:
    fields = [{"name": "x", "type": "FLOAT", "mode": "REQUIRED"}]
    contract = contracts.Contract("floats", fields)
    frame = pl.DataFrame({"x": [1.0, float("nan")]})
    assert not contracts.keeps(contract, frame)
    kept, violations = contracts.enforce(contract, frame)
    assert kept["x"].to_list() == [1.0] and [(v.row, v.rule) for v in violations] == [(1, "not_nullable")]
    assert not contract_type.dagster_type(contract).type_check(None, frame).success


def test_a_column_of_another_type_breaks_the_contract_as_a_whole() -> None:
    frame = pl.DataFrame({"id": ["x"], "day": ["2026-11-01"], "n": [1], "state": ["a"]})
    with pytest.raises(contracts.ContractError, match="column day is String, not Date"):
        contracts.enforce(_SMALL, frame)
    check = contract_type.dagster_type(_SMALL).type_check(None, frame.lazy())
    assert not check.success and "column day is String" in check.description


def test_the_type_takes_a_frame_enforce_returned_as_screened(monkeypatch: pytest.MonkeyPatch) -> None:
    """An asset's output that `enforce` returned is not screened again (one pass less a run); any
    other frame is, even an equal copy, and so is the same frame once rows were added in place."""
    rows = [{"id": "x", "day": _DAYS[0], "n": 1, "state": "a"}, {"id": "y", "day": _DAYS[1], "n": None, "state": None}]
    kept, violations = contracts.enforce(_SMALL, pl.DataFrame(rows, schema=fields_frame_schema(_FIELDS)), _DAYS)
    assert kept.height == 2 and not violations
    screens: list[int] = []
    monkeypatch.setattr(contract_type, "keeps", lambda *a: screens.append(a[1].height) or contracts.keeps(*a))
    check = contract_type.dagster_type(_SMALL).type_check
    assert check(None, kept).success and screens == []
    assert check(None, kept.clone()).success and screens == [2]
    assert contracts.proven(_SMALL, kept) and not contracts.proven(contracts.Contract("other", _FIELDS), kept)
    kept.extend(kept.clone())  # every key twice now
    assert not check(None, kept).success and screens == [2, 4]
