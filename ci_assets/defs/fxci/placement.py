"""The pulse tables exactly once across partitions (lib/first_seen.py): each task and each run lives
in the day partition that first took it in, whatever day a redelivery arrives.

A drain claims its rows' keys before it writes them, and marks them stored after the write, before
the ack:
- a key no drain has claimed is this day's;
- a key claimed but not marked stored (a drain died between its claim and its write) is written now,
  into the day that claimed it, so nothing is lost and nothing lands twice;
- a key already stored is a duplicate: a redelivery, or Taskcluster's repeated `task-exception` for
  a run it already resolved. It is not written again, so the first resolution stands and no other
  day's partition gets a second copy.
Why keep the first partition rather than move the row: a day's partition, once materialized and
read downstream, never loses rows because a message was redelivered later.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import psycopg

from ci_assets.defs.fxci.contracts import PRIMARY_KEYS
from ci_assets.lib import first_seen

PARTITION = "submission_date"


@dataclasses.dataclass(frozen=True)
class Placed:
    """A table's drained rows placed: what to write under which day, and which rows were already stored."""

    by_day: dict[dt.date, pl.DataFrame]
    already_stored: list[bool]  # per input row
    keys: list[str]  # per input row
    stored_by: list[str | None]  # per input row: the run that stored it, if one did


def keys_of(table: str, frame: pl.DataFrame) -> list[str]:
    columns = [pl.col(c).cast(pl.String) for c in PRIMARY_KEYS[table]]
    return frame.select(pl.concat_str(columns, separator="/")).to_series().to_list()


def ledger_name(table: str) -> str:
    return f"fxci/{table}"


def place(conn: psycopg.Connection, table: str, frame: pl.DataFrame, day: dt.date) -> Placed:
    """Claim the rows' keys for `day` where no drain has (committed before anything is written)."""
    keys = keys_of(table, frame)
    claims = first_seen.claim(conn, ledger_name(table), keys, [day] * len(keys))
    already = [c.stored for c in claims]
    stored_by = [c.stored_by for c in claims]
    placed = frame.with_columns(pl.Series(PARTITION, [c.partition for c in claims], dtype=pl.Date))
    placed = placed.filter(~pl.Series(already, dtype=pl.Boolean))
    by_day = {part[PARTITION][0]: part for part in placed.partition_by(PARTITION, maintain_order=True)}
    return Placed(by_day, already, keys, stored_by)


def mark_stored(conn: psycopg.Connection, table: str, placed: Placed, run_id: str) -> None:
    written = [k for k, already in zip(placed.keys, placed.already_stored, strict=True) if not already]
    first_seen.mark_stored(conn, ledger_name(table), written, run_id)
