"""Data contracts: a table's pandera (polars) schema, generated from the schema file its warehouse uses.

`Contract(name, fields, ...)` turns BigQuery JSON schema fields (name, type, mode) into a
`pandera.polars.DataFrameSchema`: each column's type, REQUIRED as not nullable, the primary key
unique (within the partition column, when given), plus the value rules a system states. It is
used twice: `enforce` splits a frame into the rows that keep the contract and the ones that
break it (each with the rule's name and the value, for the quarantine), and `dagster_type`
makes it the asset's type, the last guard: a frame that still breaks it fails the step before
the IO manager stores anything.

pandera imports pandas (a second per process): a contract builds its schema, and its type the
dagster-pandera type it delegates to, when first used, so loading the code location (every
run's process does) costs neither.
"""

from __future__ import annotations

import dataclasses
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import dagster as dg
import polars as pl

from ci_assets.lib.storage.frames import fields_schema

if TYPE_CHECKING:
    import pandera.polars as pa

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


class Contract:
    """A table's contract; `rules()` gives a system's value rules (pandera checks), called when the
    schema is first needed."""

    def __init__(
        self,
        name: str,
        fields: Sequence[Mapping[str, Any]],
        unique: Sequence[str] = (),
        rules: Callable[[], Mapping[str, Sequence[Any]]] | None = None,
    ):
        self.name, self.fields, self.unique, self._rules = name, list(fields), list(unique), rules
        self._schema: Any = None
        self._type: dg.DagsterType | None = None

    @property
    def schema(self) -> pa.DataFrameSchema:
        if self._schema is None:
            self._schema = _build(self.name, self.fields, self.unique, self._rules() if self._rules else {})
        return self._schema


def _build(
    name: str, fields: Sequence[Mapping[str, Any]], unique: Sequence[str], rules: Mapping[str, Sequence[Any]]
) -> pa.DataFrameSchema:
    import pandera.polars as pa

    unknown = set(rules) - {f["name"] for f in fields}
    if unknown:
        raise ValueError(f"{name}: rules for column(s) {sorted(unknown)} that the schema does not have")
    columns = {
        f["name"]: pa.Column(
            _dtype(f),
            nullable=f.get("mode", "NULLABLE") != "REQUIRED",
            checks=list(rules.get(f["name"], [])),
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
    import pandera.errors

    try:
        schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as err:
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


def enforce(contract: Contract, frame: pl.DataFrame) -> tuple[pl.DataFrame, list[Violation]]:
    """The rows that keep the contract, and one violation per broken rule of each row that does not
    (a repeated key sets aside every row that shares it: which one is right is not the contract's to say)."""
    violations = _violations(contract.schema, frame)
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


def _pandera_type(contract: Contract) -> dg.DagsterType:
    if contract._type is None:
        from dagster_pandera import pandera_schema_to_dagster_type

        with warnings.catch_warnings():
            # dagster-pandera's converter is the integration we build contracts on, by choice; it is
            # marked beta, and would say so for each table.
            warnings.simplefilter("ignore", dg.BetaWarning)
            contract._type = pandera_schema_to_dagster_type(contract.schema)
    return contract._type


def dagster_type(contract: Contract) -> dg.DagsterType:
    """The contract as an asset's type: its check is dagster-pandera's (each failed rule reported by
    column), built when a step first checks an output, so loading the code location imports no pandera."""

    def check(context: Any, value: Any) -> dg.TypeCheck:
        return _pandera_type(contract).type_check(context, value)

    return dg.DagsterType(
        type_check_fn=check,
        name=f"{contract.name}_contract",
        description=f"{contract.name}: its schema file's columns, types and REQUIRED, the key "
        f"({', '.join(contract.unique)}) unique, and its value rules (pandera, through dagster-pandera).",
        typing_type=pl.DataFrame,
        metadata={"schema": dg.MetadataValue.table_schema(fields_schema(contract.fields))},
    )
