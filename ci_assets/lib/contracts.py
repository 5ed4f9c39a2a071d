"""Data contracts: a table's pandera (polars) schema, generated from the schema file its warehouse uses.

`Contract.from_file` reads a schema file (BigQuery's JSON fields, or YAML with them under
`fields`) and turns it into a `pandera.polars.DataFrameSchema`: each column's type, REQUIRED as
not nullable (in a RECORD too), the primary key unique, plus the value rules a system states
(`Rule`: one definition that is both a pandera check and a polars expression). It is used twice:

- `enforce` (a frame) and `screen` (a LazyFrame, streamed: a contract never makes a large table
  one frame in memory) split the rows that keep it from the ones that break it, each with the
  rule's name and the value, for the quarantine; a partition's rows must also fall in the
  partitions being written.
- `contract_type.dagster_type` makes it the asset's type, the last guard: a frame that still
  breaks it fails the step before the IO manager stores anything (a LazyFrame or a Parquet file
  is checked for its columns and types, as pandera checks a LazyFrame).

Both first ask `keeps`: the contract as polars expressions over the whole frame, one pass. Only a
frame that breaks something goes to pandera, which names each broken rule by row and column
(about a second for a million rows, and pandas' import, a second per process, that a clean frame
never pays). pandera imports pandas: a contract builds its schema, and its type the
dagster-pandera type it delegates to, when first used, so loading the code location (every run's
process does) costs neither.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from ci_assets.lib import quarantine
from ci_assets.lib.storage.frames import field_dtype, read_fields

if TYPE_CHECKING:
    import pandera.polars as pa

IN_PARTITION = "in_partition"
UNIQUE = "unique"
BROKEN = "__broken"  # the rules a screened row breaks ("column: rule"), in `Screened.broken`


class ContractError(ValueError):
    """A frame breaks its contract as a whole (a missing column, a wrong type): no row to set aside."""


@dataclasses.dataclass(frozen=True)
class Rule:
    """A value rule on one column: `holds(column)` is true where a value keeps it. A null keeps every
    rule (whether a column may be null is the schema's REQUIRED). `name` is what the quarantine,
    metadata and the type check show."""

    column: str
    name: str
    holds: Callable[[pl.Expr], pl.Expr]
    field: str | None = None  # in a RECORD column: the field the rule is about (the value shown)

    def expr(self) -> pl.Expr:
        column = pl.col(self.column)
        return column.is_null() | self.holds(column)

    def check(self) -> pa.Check:
        import pandera.polars as pa

        return pa.Check(lambda data: data.lazyframe.select(self.expr()), name=self.name, error=self.name)


def at_least(column: str, bound: float) -> Rule:
    return Rule(column, f"greater_than_or_equal_to({bound})", lambda c: c >= bound)


def one_of(column: str, values: Sequence[str]) -> Rule:
    return Rule(column, f"isin({list(values)})", lambda c: c.is_in(list(values)))


def matches(column: str, pattern: str, name: str) -> Rule:
    return Rule(column, name, lambda c: c.str.contains(pattern))


def _nested_required(field: Mapping[str, Any]) -> list[Rule]:
    """A RECORD's REQUIRED fields as rules on its column (a null record is its own REQUIRED's matter)."""
    if field["type"] not in ("RECORD", "STRUCT") or field.get("mode") == "REPEATED":
        return []
    return [
        Rule(
            field["name"],
            f"not_nullable({sub['name']})",
            lambda c, s=sub["name"]: c.struct.field(s).is_not_null(),
            field=sub["name"],
        )
        for sub in field["fields"]
        if sub.get("mode") == "REQUIRED"
    ]


def _checked_dtype(field: Mapping[str, Any]) -> pl.DataType | None:
    # Nested columns: their fields' REQUIRED are rules, their shape the warehouse schema's to check.
    if field.get("mode") == "REPEATED" or field["type"] in ("RECORD", "STRUCT"):
        return None
    return field_dtype(field)


class Contract:
    """A table's contract: its schema file's fields, its key, its value rules, its partition column."""

    def __init__(
        self,
        name: str,
        fields: Sequence[Mapping[str, Any]],
        unique: Sequence[str] = (),
        rules: Sequence[Rule] = (),
        partition: str | None = None,
        source: Path | None = None,
    ):
        self.name, self.fields, self.unique, self.partition, self.source = (
            name,
            list(fields),
            list(unique),
            partition,
            source,
        )
        columns = {f["name"] for f in self.fields}
        unknown = sorted({r.column for r in rules} - columns) + (
            [partition] if partition not in columns | {None} else []
        )
        if unknown:
            raise ValueError(f"{name}: rules for column(s) {unknown} that the schema does not have")
        self.rules = [r for f in self.fields for r in _nested_required(f)] + list(rules)
        self._schema: Any = None
        self._building = threading.RLock()  # the schema is built once, whichever thread asks

    @classmethod
    def from_file(cls, name: str, path: Path, **kwargs: Any) -> Contract:
        return cls(name, read_fields(path), source=path, **kwargs)

    @property
    def required(self) -> list[str]:
        return [f["name"] for f in self.fields if f.get("mode") == "REQUIRED"]

    @property
    def schema(self) -> pa.DataFrameSchema:
        with self._building:
            if self._schema is None:
                import pandera.polars as pa

                columns = {
                    f["name"]: pa.Column(
                        _checked_dtype(f),
                        nullable=f["name"] not in self.required,
                        checks=[r.check() for r in self.rules if r.column == f["name"]],
                        required=True,
                    )
                    for f in self.fields
                }
                self._schema = pa.DataFrameSchema(columns, unique=self.unique or None, name=self.name, strict=True)
            return self._schema

    def check_columns(self, schema: pl.Schema) -> None:
        """Raise ContractError unless the frame has exactly the contract's columns, of its types."""
        expected = {f["name"]: _checked_dtype(f) for f in self.fields}
        problems = [f"missing column {c}" for c in expected if c not in schema]
        problems += [f"column {c} is not in the schema file" for c in schema if c not in expected]
        problems += [
            f"column {c} is {schema[c]}, not {dtype}"
            for c, dtype in expected.items()
            if dtype is not None and c in schema and schema[c] != dtype
        ]
        if problems:
            raise ContractError(f"{self.name} breaks its contract as a whole: {'; '.join(problems)}")


@dataclasses.dataclass(frozen=True)
class Violation:
    row: int  # the row's position in the frame checked
    rule: str  # the check's name, as pandera reports it (e.g. not_nullable, isin([...]))
    column: str
    value: str

    @property
    def reason(self) -> str:
        return f"{self.column}: {self.rule} (value {self.value})"


def text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _violations(contract: Contract, frame: pl.DataFrame) -> list[Violation]:
    import pandera.errors

    schema = contract.schema
    nested = {(r.column, r.name): r.field for r in contract.rules if r.field}
    try:
        schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as err:
        cases = err.failure_cases
    else:
        return []
    found = []
    for case in cases.iter_rows(named=True):
        if case["index"] is None:
            raise ContractError(f"{schema.name} breaks its contract as a whole: {case['check']} on {case['column']}")
        if case["check"] == "multiple_fields_uniqueness":  # pandera names the schema; say which key
            case |= {"column": ",".join(contract.unique), "check": UNIQUE}
        value, field = case["failure_case"], nested.get((case["column"], case["check"]))
        if field is not None and isinstance(value, str):  # a RECORD's failure case is the record, as JSON
            value = json.loads(value).get(field)
        found.append(Violation(int(case["index"]), str(case["check"]), str(case["column"]), text(value)))
    return found


def _outside(contract: Contract, frame: pl.DataFrame, days: Collection[Any] | None) -> list[Violation]:
    if days is None or contract.partition is None:
        return []
    column = contract.partition
    outside = frame.select(pl.col(column), pl.int_range(pl.len()).alias("__row")).filter(
        ~pl.col(column).is_in(list(days)) | pl.col(column).is_null()
    )
    return [Violation(row, IN_PARTITION, column, text(value)) for value, row in outside.iter_rows()]


def keeps(contract: Contract, frame: pl.DataFrame, days: Collection[Any] | None = None) -> bool:
    """Whether every row keeps the contract: `screen`'s expressions in one pass, no pandera (its
    validation costs a million-row frame a second, and most frames break nothing)."""
    screened = screen(contract, frame.lazy(), days)
    return bool(screened.frame.select(screened.ok.fill_null(False).all()).collect().item())


def enforce(
    contract: Contract, frame: pl.DataFrame, days: Collection[Any] | None = None
) -> tuple[pl.DataFrame, list[Violation]]:
    """The rows that keep the contract, and one violation per broken rule of each row that does not
    (a repeated key sets aside every row that shares it: which one is right is not the contract's to
    say). With `days`, a row whose partition column is not one of them breaks `in_partition`. A frame
    that `keeps` it is returned as it is; pandera names what the others break."""
    if keeps(contract, frame, days):
        return _proven(contract, frame), []
    violations = _violations(contract, frame) + _outside(contract, frame, days)
    if not violations:
        return _proven(contract, frame), []
    bad = sorted({v.row for v in violations})
    kept = frame.with_row_index("__row").filter(~pl.col("__row").is_in(bad)).drop("__row")
    return _proven(contract, kept), violations


# The frames `enforce` returned, by id: (the frame, weakly; its contract; its shape then). The
# asset's type (contract_type.py) takes such a frame as checked rather than screening it again.
_PROOFS: dict[int, tuple[weakref.ref[pl.DataFrame], Contract, tuple[int, tuple[Any, ...]]]] = {}
_proofs_lock = threading.Lock()


def _shape(frame: pl.DataFrame) -> tuple[int, tuple[Any, ...]]:
    return frame.height, tuple(frame.schema.items())


def _proven(contract: Contract, frame: pl.DataFrame) -> pl.DataFrame:
    key = id(frame)

    def forget(_: object) -> None:
        with _proofs_lock:
            if key in _PROOFS and _PROOFS[key][0]() is None:
                del _PROOFS[key]

    with _proofs_lock:
        _PROOFS[key] = (weakref.ref(frame, forget), contract, _shape(frame))
    return frame


def proven(contract: Contract, frame: pl.DataFrame) -> bool:
    """Whether `frame` is one `enforce` returned for `contract`, of the same rows and columns
    still. (A value set in place, `frame[row, column] = v` or `replace_column` with the same
    name, type and length, is not seen: polars otherwise changes a frame by making a new one,
    and the platform's assets never set values in place.)"""
    with _proofs_lock:
        proof = _PROOFS.get(id(frame))
    return proof is not None and proof[0]() is frame and proof[1] is contract and proof[2] == _shape(frame)


@dataclasses.dataclass(frozen=True)
class Screened:
    frame: pl.LazyFrame
    ok: pl.Expr  # true where a row keeps the contract
    named: pl.Expr  # the rules a row breaks, as "column: rule"

    @property
    def kept(self) -> pl.LazyFrame:
        return self.frame.filter(self.ok)

    @property
    def broken(self) -> pl.LazyFrame:
        """The rows that break the contract, with the rules each breaks in column `__broken`."""
        return self.frame.filter(~self.ok).with_columns(self.named.list.drop_nulls().alias(BROKEN))

    def count_broken(self) -> int:
        """How many rows break it: one streamed pass, nothing held but the count."""
        return int(self.frame.select((~self.ok).sum()).collect(engine="streaming").item() or 0)


def _present(column: str, dtype: pl.DataType) -> pl.Expr:
    """REQUIRED as pandera reads it: a float's NaN is as missing as a null."""
    value = pl.col(column)
    return value.is_not_null() & value.is_not_nan() if dtype.is_float() else value.is_not_null()


def screen(
    contract: Contract, frame: pl.LazyFrame, days: Collection[Any] | None = None, proven: Sequence[Rule] = ()
) -> Screened:
    """`enforce` for a LazyFrame, as polars expressions a streaming engine evaluates in one pass.
    `proven`: rules the frame's producer already checked with the rule itself (not checked again)."""
    schema = frame.collect_schema()
    contract.check_columns(schema)
    tests = [(c, "not_nullable", _present(c, schema[c])) for c in contract.required]
    tests += [(r.column, r.name, r.expr()) for r in contract.rules if r not in proven]
    if contract.unique:
        tests.append((",".join(contract.unique), UNIQUE, ~pl.struct(contract.unique).is_duplicated()))
    if days is not None and contract.partition is not None:
        column = pl.col(contract.partition)
        tests.append((contract.partition, IN_PARTITION, column.is_not_null() & column.is_in(list(days))))
    ok = pl.all_horizontal([holds for _, _, holds in tests]) if tests else pl.lit(True)
    named = pl.concat_list([pl.when(~holds).then(pl.lit(f"{c}: {rule}")) for c, rule, holds in tests] or [pl.lit(None)])
    return Screened(frame, ok, named)


def rejections(
    frame: pl.DataFrame,
    violations: Sequence[Violation],
    locate: Callable[[dict[str, Any]], str],
    partition: Callable[[dict[str, Any]], str | None] = lambda row: None,
) -> list[quarantine.Rejected]:
    """The quarantine's rows for what `enforce` set aside from `frame`: one per broken rule of a row,
    with the rule, the column, the value and the whole row."""
    positions = sorted({v.row for v in violations})
    rows = dict(zip(positions, frame[positions].iter_rows(named=True), strict=True)) if positions else {}
    return [
        quarantine.Rejected(
            locator=locate(rows[v.row]),
            reason=v.reason,
            raw=json.dumps(rows[v.row], default=str),
            detail={"rule": v.rule, "column": v.column, "value": v.value},
            partition=partition(rows[v.row]),
        )
        for v in violations
    ]


def split(
    contract: Contract, frame: pl.DataFrame, days: Collection[Any] | None = None, proven: Sequence[Rule] = ()
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`screen` for a chunk of a stream already in memory: (the rows that keep the contract, the
    others with their rules). Per chunk, so a key's uniqueness cannot be judged: refused for a
    contract with a key."""
    ok, broken = sieve(contract, frame.lazy(), days, proven)
    return (frame if ok is None else frame.filter(ok)), broken


def sieve(
    contract: Contract, frame: pl.LazyFrame, days: Collection[Any] | None = None, proven: Sequence[Rule] = ()
) -> tuple[pl.Series | None, pl.DataFrame]:
    """`split` for a chunk whose rows are held elsewhere (an Arrow table, say) and seen through
    `frame`: which rows keep the contract (None when all do, the usual case) and the others with
    their rules. Only the columns the contract reads are computed."""
    if contract.unique:
        raise ValueError(f"{contract.name} has a key: its uniqueness needs the whole frame, not a chunk")
    screened = screen(contract, frame, days, proven)
    ok = screened.frame.select(screened.ok.alias("ok")).collect()["ok"]
    if ok.all():
        return None, _NOTHING
    return ok, screened.broken.collect()


_NOTHING = pl.DataFrame()


def rejected_by_rule(violations: Sequence[Violation]) -> dict[str, int]:
    """Rows each rule set aside (a row breaking two rules counts under both)."""
    counts: dict[str, set[int]] = {}
    for v in violations:
        counts.setdefault(f"{v.column}: {v.rule}", set()).add(v.row)
    return {rule: len(rows) for rule, rows in sorted(counts.items())}


def broken_by_rule(broken: pl.DataFrame) -> dict[str, int]:
    """`rejected_by_rule` for screened rows."""
    if broken.is_empty():
        return {}
    counts = broken.select(pl.col(BROKEN).explode().value_counts(sort=True)).unnest(BROKEN)
    return dict(sorted(zip(counts[BROKEN].to_list(), counts["count"].to_list(), strict=True)))
