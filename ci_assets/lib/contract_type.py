"""A contract (contracts.py) as an asset's Dagster type: the last guard before the IO manager stores.

A frame is screened with the contract's own polars expressions (`contracts.keeps`, one pass);
one that breaks something goes to dagster-pandera's check, which reports each failed rule by
column. A frame that `contracts.enforce` returned (the usual asset's output) was screened there
already: it is not screened again. A range's partitions (a mapping) are each checked; a LazyFrame or a converted Parquet
file is checked for its columns and types, as pandera checks a LazyFrame. The dagster-pandera
type is built when a frame first needs it, so neither loading the code location nor a run whose
frames keep their contracts imports pandera (and pandas).
"""

from __future__ import annotations

import contextlib
import threading
import warnings
import weakref
from collections.abc import Mapping
from typing import Any

import dagster as dg
import polars as pl

from ci_assets.lib.contracts import Contract, ContractError, keeps, proven
from ci_assets.lib.storage.frames import fields_schema

_building = threading.Lock()  # each contract's types are built once, whichever thread asks
_pandera_types: weakref.WeakKeyDictionary[Contract, dg.DagsterType] = weakref.WeakKeyDictionary()
# One per contract: Dagster wants type names unique.
_asset_types: weakref.WeakKeyDictionary[Contract, ContractType] = weakref.WeakKeyDictionary()


def _pandera_type(contract: Contract) -> dg.DagsterType:
    with _building:
        if contract not in _pandera_types:
            from dagster_pandera import pandera_schema_to_dagster_type

            with warnings.catch_warnings():
                # dagster-pandera's converter is the integration we build contracts on, by choice; it is
                # marked beta, and would say so for each table.
                warnings.simplefilter("ignore", dg.BetaWarning)
                _pandera_types[contract] = pandera_schema_to_dagster_type(contract.schema)
        return _pandera_types[contract]


def _type_check(contract: Contract, context: Any, value: Any, where: str = "") -> dg.TypeCheck:
    from ci_assets.lib.storage.streamed import ParquetFile

    if isinstance(value, Mapping):  # a range's partitions, each checked
        for key, part in value.items():
            result = _type_check(contract, context, part, f" (partition {key})")
            if not result.success:
                return result
        return dg.TypeCheck(success=True)
    if isinstance(value, pl.DataFrame):
        if proven(contract, value):  # `enforce` screened this very frame (one pass less per run)
            return dg.TypeCheck(success=True)
        with contextlib.suppress(ContractError):  # a missing column or a wrong type: pandera's report says which
            if keeps(contract, value):
                return dg.TypeCheck(success=True)
        result = _pandera_type(contract).type_check(context, value)
        if not result.success:
            return dg.TypeCheck(False, f"{result.description}{where}", result.metadata)
        return result
    if isinstance(value, ParquetFile):
        value = pl.scan_parquet(value.path)
    if isinstance(value, pl.LazyFrame):
        try:
            contract.check_columns(value.collect_schema())
        except ContractError as e:
            return dg.TypeCheck(False, f"{e}{where}")
        return dg.TypeCheck(success=True)
    return dg.TypeCheck(False, f"{contract.name}: a {type(value).__name__} is not a table{where}")


class ContractType(dg.DagsterType):
    """An asset's type made from its contract (kept, so the graph can be checked against its schema files)."""

    def __init__(self, contract: Contract):
        self.contract = contract
        super().__init__(
            type_check_fn=lambda context, value: _type_check(contract, context, value),
            name=f"{contract.name}_contract",
            description=f"{contract.name}: its schema file's columns, types and REQUIRED"
            + (f", the key ({', '.join(contract.unique)}) unique" if contract.unique else "")
            + (", the rules " + "; ".join(f"{r.column}: {r.name}" for r in contract.rules) if contract.rules else "")
            + " (one polars pass; pandera, through dagster-pandera, reports what a frame breaks).",
            typing_type=Any,
            metadata={"schema": dg.MetadataValue.table_schema(fields_schema(contract.fields))},
        )


def dagster_type(contract: Contract) -> dg.DagsterType:
    """The contract as an asset's type (one per contract)."""
    with _building:
        if contract not in _asset_types:
            _asset_types[contract] = ContractType(contract)
        return _asset_types[contract]
