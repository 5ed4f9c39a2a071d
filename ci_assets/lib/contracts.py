"""Data contracts: a table's pandera (polars) schema, generated from the schema file its warehouse uses.

`contract(name, fields, ...)` turns BigQuery JSON schema fields (name, type, mode) into a
`pandera.polars.DataFrameSchema`: each column's type, REQUIRED as not nullable, the primary key
unique (within the partition column, when given), plus the value rules a system states. It is
used twice: `enforce` splits a frame into the rows that keep the contract and the ones that
break it (each with the rule's name and the value, for the quarantine), and `dagster_type`
makes it the asset's type, the last guard: a frame that still breaks it fails the step before
the IO manager stores anything.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg
import pandera.polars as pa
import polars as pl

_POLARS = {
    "STRING": pl.String,
    "INTEGER": pl.Int64,
    "INT64": pl.Int64,
    "FLOAT": pl.Float64,
    "FLOAT64": pl.Float64,
    "NUMERIC": pl.Float64,
    "TIMESTAMP": pl.Datetime("us", "UTC"),
    "DATE": pl.Date,
    "BOOLEAN": pl.Boolean,
    "BOOL": pl.Boolean,
}


def _dtype(field: Mapping[str, Any]) -> Any:
    if field.get("mode") == "REPEATED" or field["type"] in ("RECORD", "STRUCT"):
        return None  # nested: the warehouse schema checks its shape; the contract checks presence
    return _POLARS[field["type"]]


def contract(
    name: str,
    fields: Sequence[Mapping[str, Any]],
    unique: Sequence[str] = (),
    rules: Mapping[str, Sequence[pa.Check]] | None = None,
) -> pa.DataFrameSchema:
    """The table's contract from its schema file's fields; `unique` columns (the primary key, and the
    partition column so a key is unique within its partition) and a system's value `rules`."""
    unknown = set(rules or {}) - {f["name"] for f in fields}
    if unknown:
        raise ValueError(f"{name}: rules for column(s) {sorted(unknown)} that the schema does not have")
    columns = {
        f["name"]: pa.Column(
            _dtype(f),
            nullable=f.get("mode", "NULLABLE") != "REQUIRED",
            checks=list((rules or {}).get(f["name"], [])),
            required=True,
        )
        for f in fields
    }
    return pa.DataFrameSchema(columns, unique=list(unique) or None, name=name, strict=True)


@dataclasses.dataclass(frozen=True)
class Violation:
    row: int  # the row's position in the frame checked
    rule: str  # the check's name, as pandera reports it (e.g. not_nullable, isin([...]))
    column: str
    value: str


def _violations(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> list[Violation]:
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    else:
        return []
    found = []
    for case in cases.iter_rows(named=True):
        if case["index"] is None:  # a frame-level failure (a missing column, a wrong type): no row to set aside
            raise ValueError(f"{schema.name} breaks its contract as a whole: {case['check']} on {case['column']}")
        value = case["failure_case"]
        found.append(Violation(int(case["index"]), str(case["check"]), str(case["column"]), _text(value)))
    return found


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def enforce(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Violation]]:
    """The rows that keep the contract, and one violation per broken rule of each row that does not
    (a repeated key sets aside every row that shares it: which one is right is not the contract's to say)."""
    violations = _violations(schema, frame)
    if not violations:
        return frame, []
    bad = sorted({v.row for v in violations})
    kept = frame.with_row_index("__row").filter(~pl.col("__row").is_in(bad)).drop("__row")
    return kept, violations


def rejected_by_rule(violations: Sequence[Violation]) -> dict[str, int]:
    """Rows each rule set aside (a row breaking two rules counts under both)."""
    counts: dict[str, set[int]] = {}
    for v in violations:
        counts.setdefault(f"{v.column}: {v.rule}", set()).add(v.row)
    return {rule: len(rows) for rule, rows in sorted(counts.items())}


def dagster_type(schema: pa.DataFrameSchema) -> dg.DagsterType:
    from dagster_pandera import pandera_schema_to_dagster_type

    with warnings.catch_warnings():
        # dagster-pandera's converter is the integration we build contracts on, by choice; it is
        # marked beta, and would say so once per table on every load of the code location.
        warnings.simplefilter("ignore", dg.BetaWarning)
        return pandera_schema_to_dagster_type(schema)
