"""How an asset partition maps to rows of a frame and to a place in storage.

A single-run backfill hands an IO manager one frame for many partitions; these
helpers split it by the `partition_expr` column(s) so each partition is stored
exactly as if it had been materialized alone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import dagster as dg
import polars as pl

PartitionExpr = str | Mapping[str, str] | None


class PartitionSplitError(ValueError):
    """Rows that do not belong to any partition the run is writing."""


def dimensions(partitions_def: dg.PartitionsDefinition) -> list[tuple[str | None, dg.PartitionsDefinition]]:
    """(dimension name, definition) pairs in the order Dagster joins multi-partition keys."""
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        return [(d.name, d.partitions_def) for d in partitions_def.partitions_defs]
    return [(None, partitions_def)]


def key_parts(partitions_def: dg.PartitionsDefinition, partition_key: str) -> list[str]:
    if isinstance(partitions_def, dg.MultiPartitionsDefinition):
        by_dim = partitions_def.get_partition_key_from_str(partition_key).keys_by_dimension
        return [by_dim[name] for name, _ in dimensions(partitions_def)]
    return [partition_key]


def partition_columns(partitions_def: dg.PartitionsDefinition, partition_expr: PartitionExpr) -> list[str] | None:
    """The column holding each dimension's value, or None when the asset names none."""
    if partition_expr is None:
        return None
    dims = dimensions(partitions_def)
    if isinstance(partition_expr, str):
        if len(dims) != 1:
            raise ValueError(
                f"partition_expr {partition_expr!r} names one column but the asset has "
                f"{len(dims)} partition dimensions; give a mapping of dimension -> column"
            )
        return [partition_expr]
    missing = [name for name, _ in dims if name not in partition_expr]
    if missing:
        raise ValueError(f"partition_expr {dict(partition_expr)} has no column for dimension(s) {missing}")
    return [partition_expr[str(name)] for name, _ in dims]


def hive_segments(
    partitions_def: dg.PartitionsDefinition, partition_key: str, partition_expr: PartitionExpr
) -> list[str]:
    """`name=value` path segments, one per dimension, values percent-escaped."""
    columns = partition_columns(partitions_def, partition_expr)
    names = [str(name) if name else "partition" for name, _ in dimensions(partitions_def)]
    if columns is not None:
        names = columns
    values = key_parts(partitions_def, partition_key)
    return [f"{quote(n, safe='')}={quote(v, safe='')}" for n, v in zip(names, values, strict=True)]


def _format(value: Any, definition: dg.PartitionsDefinition) -> str:
    if isinstance(value, dt.date) and isinstance(definition, dg.TimeWindowPartitionsDefinition):
        return value.strftime(definition.fmt)
    return str(value)


def split_frame(
    df: pl.DataFrame,
    partitions_def: dg.PartitionsDefinition,
    partition_keys: Sequence[str],
    partition_expr: PartitionExpr,
    asset_label: str,
) -> dict[str, pl.DataFrame]:
    """One frame per partition key of the run; keys with no rows get an empty frame."""
    columns = partition_columns(partitions_def, partition_expr)
    if columns is None:
        if len(partition_keys) == 1:
            return {partition_keys[0]: df}
        raise PartitionSplitError(
            f"{asset_label} wrote {len(partition_keys)} partitions in one run but declares no "
            "'partition_expr' metadata to split its frame by; add it or return {partition_key: frame}"
        )
    absent = [c for c in columns if c not in df.columns]
    if absent:
        raise PartitionSplitError(f"{asset_label}: partition column(s) {absent} are not in the output frame")

    defs = [d for _, d in dimensions(partitions_def)]
    # Group on the raw values (cheap, few groups) except for datetimes, which must
    # first be bucketed into their partition's format or every instant is a group.
    group_cols: list[str] = []
    temp: list[pl.Expr] = []
    for i, (column, definition) in enumerate(zip(columns, defs, strict=True)):
        dtype = df.schema[column]
        if isinstance(dtype, pl.Datetime) and isinstance(definition, dg.TimeWindowPartitionsDefinition):
            dim_keys = sorted({key_parts(partitions_def, k)[i] for k in partition_keys})
            name = f"__ci_assets_partition_{i}"
            temp.append(_window_key(column, dtype, definition, dim_keys).alias(name))
            group_cols.append(name)
        else:
            group_cols.append(column)
    frame = df.with_columns(temp) if temp else df

    wanted = set(partition_keys)
    out: dict[str, list[pl.DataFrame]] = {key: [] for key in partition_keys}
    strays: list[str] = []
    for values, group in _groups(frame, group_cols):
        if any(v is None for v in values):
            strays.append("<null>")
            continue
        parts = [_format(v, d) for v, d in zip(values, defs, strict=True)]
        key = "|".join(parts) if len(parts) > 1 else parts[0]
        if key not in wanted:
            strays.append(key)
            continue
        out[key].append(group.drop([c for c in group_cols if c.startswith("__ci_assets_")]))
    if strays:
        sample = ", ".join(sorted(set(strays))[:5])
        raise PartitionSplitError(
            f"{asset_label}: rows for partitions this run is not writing ({sample}); "
            f"the run covers {len(partition_keys)} partition(s) starting {partition_keys[0]!r}"
        )
    empty = df.clear()
    return {
        key: (frames[0] if len(frames) == 1 else pl.concat(frames) if frames else empty) for key, frames in out.items()
    }


def _window_key(
    column: str, dtype: pl.Datetime, definition: dg.TimeWindowPartitionsDefinition, keys: list[str]
) -> pl.Expr:
    """The partition key of each timestamp, found among the run's windows by binary search;
    a timestamp in none of them keeps its own text, so it shows up as a stray."""
    windows = sorted((definition.time_window_for_partition_key(k), k) for k in keys)
    zone = dtype.time_zone

    def as_column(t: dt.datetime) -> dt.datetime:
        return t.astimezone(dt.UTC).replace(tzinfo=None) if zone is None else t

    starts = pl.lit(pl.Series([as_column(w.start) for w, _ in windows], dtype=dtype))
    ends = pl.lit(pl.Series([as_column(w.end) for w, _ in windows], dtype=dtype))
    labels = pl.lit(pl.Series([k for _, k in windows], dtype=pl.String))
    index = (starts.search_sorted(pl.col(column), side="right").cast(pl.Int64) - 1).clip(lower_bound=0)
    inside = (pl.col(column) >= starts.gather(index)) & (pl.col(column) < ends.gather(index))
    return pl.when(inside).then(labels.gather(index)).otherwise(pl.col(column).dt.to_string())


def _groups(frame: pl.DataFrame, columns: list[str]) -> list[tuple[tuple[Any, ...], pl.DataFrame]]:
    """(values, rows) per distinct value of `columns`.

    A backfill's frame usually arrives grouped by partition already (one day after
    another); then each group is a zero-copy slice, and only a shuffled frame pays
    for `partition_by`'s copy.
    """
    runs = frame.select(pl.struct(columns).rle().alias("run")).unnest("run").unnest("value")
    if runs.select(columns).n_unique() == runs.height:
        starts = runs["len"].cum_sum() - runs["len"]
        return [
            (tuple(row[c] for c in columns), frame.slice(start, length))
            for row, start, length in zip(runs.iter_rows(named=True), starts, runs["len"], strict=True)
        ]
    return list(frame.partition_by(columns, as_dict=True, maintain_order=True).items())
