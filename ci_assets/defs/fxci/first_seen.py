"""Exactly once across partitions for the pulse tables: each task and each run lives in the day
partition that first took it in, whatever day a redelivery arrives.

A drain claims its rows' keys here (committed) before it writes them, and marks them stored after
the write, before the ack:
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

DDL = """
CREATE SCHEMA IF NOT EXISTS fxci;
CREATE TABLE IF NOT EXISTS fxci.first_seen (
    table_name      text    NOT NULL,
    key             text    NOT NULL,
    submission_date date    NOT NULL,
    stored          boolean NOT NULL DEFAULT false,
    PRIMARY KEY (table_name, key)
);
"""
PARTITION = "submission_date"


@dataclasses.dataclass(frozen=True)
class Placed:
    """A table's drained rows placed: what to write under which day, and which rows were already stored."""

    by_day: dict[dt.date, pl.DataFrame]
    already_stored: list[bool]  # per input row
    keys: list[str]  # per input row


def keys_of(table: str, frame: pl.DataFrame) -> list[str]:
    columns = [pl.col(c).cast(pl.String) for c in PRIMARY_KEYS[table]]
    return frame.select(pl.concat_str(columns, separator="/")).to_series().to_list()


def place(conn: psycopg.Connection, table: str, frame: pl.DataFrame, day: dt.date) -> Placed:
    """Claim the rows' keys for `day` where no drain has (committed before anything is written)."""
    keys = keys_of(table, frame)
    conn.execute(DDL)
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO fxci.first_seen (table_name, key, submission_date) "
            "SELECT %s, k, %s FROM unnest(%s::text[]) AS k ON CONFLICT DO NOTHING",
            (table, day, list(dict.fromkeys(keys))),
        )
        cur.execute(
            "SELECT key, submission_date, stored FROM fxci.first_seen WHERE table_name = %s AND key = ANY(%s)",
            (table, keys),
        )
        found = {key: (claimed, stored) for key, claimed, stored in cur.fetchall()}
    conn.commit()
    already = [found[k][1] for k in keys]
    placed = frame.with_columns(pl.Series(PARTITION, [found[k][0] for k in keys], dtype=pl.Date))
    placed = placed.filter(~pl.Series(already, dtype=pl.Boolean))
    by_day = {part[PARTITION][0]: part for part in placed.partition_by(PARTITION, maintain_order=True)}
    return Placed(by_day, already, keys)


def mark_stored(conn: psycopg.Connection, table: str, placed: Placed) -> None:
    written = [k for k, already in zip(placed.keys, placed.already_stored, strict=True) if not already]
    conn.execute(
        "UPDATE fxci.first_seen SET stored = true WHERE table_name = %s AND key = ANY(%s) AND NOT stored",
        (table, written),
    )
    conn.commit()
