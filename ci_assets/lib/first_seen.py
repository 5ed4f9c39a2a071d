"""Exactly once across partitions: a key (a run, a record `_id`) belongs to the partition that first
claimed it, whatever day it arrives again.

A system claims its rows' keys (committed) before it stores them; a key some partition already
claimed keeps that partition, so a later arrival is a duplicate there instead of a second row in
another partition. `stored` says a claim's write finished, for inputs that cannot be read again
once acknowledged (pulse messages): a claim without it is written into the claiming partition.
`stored_by` names the run that wrote it, so a run that finds rows a killed run stored can count
them as its own (lib/reconciliation.py, `unreported_runs`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

import psycopg

DDL = """
CREATE TABLE IF NOT EXISTS first_seen (
    table_name text    NOT NULL,
    key        text    NOT NULL,
    partition  date    NOT NULL,
    stored     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (table_name, key)
);
ALTER TABLE first_seen ADD COLUMN IF NOT EXISTS stored_by text;
"""


@dataclasses.dataclass(frozen=True)
class Claim:
    partition: dt.date
    stored: bool
    stored_by: str | None = None  # the run that wrote it


def claim(conn: psycopg.Connection, table: str, keys: Sequence[str], days: Sequence[dt.date]) -> list[Claim]:
    """Each key's claim (one per input row): its own day's where no partition had claimed it (the
    earliest day when it comes on several), committed before the caller stores anything."""
    conn.execute(DDL)
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO first_seen (table_name, key, partition) "
            "SELECT %s, k, d FROM unnest(%s::text[], %s::date[]) AS u(k, d) ORDER BY d ON CONFLICT DO NOTHING",
            (table, list(keys), list(days)),
        )
        cur.execute(
            "SELECT key, partition, stored, stored_by FROM first_seen WHERE table_name = %s AND key = ANY(%s)",
            (table, list(set(keys))),
        )
        found = {key: Claim(day, stored, by) for key, day, stored, by in cur.fetchall()}
    conn.commit()
    return [found[k] for k in keys]


def mark_stored(conn: psycopg.Connection, table: str, keys: Sequence[str], run_id: str | None = None) -> None:
    conn.execute(
        "UPDATE first_seen SET stored = true, stored_by = %s WHERE table_name = %s AND key = ANY(%s) AND NOT stored",
        (run_id, table, list(set(keys))),
    )
    conn.commit()


def claimed_elsewhere(conn: psycopg.Connection, table: str, keys: Sequence[str], partition: dt.date) -> list[str]:
    """Of `keys` stored in `partition`, those another partition claimed first: each is in two
    partitions (or in the wrong one). The cross-partition half of a uniqueness check."""
    conn.execute(DDL)
    rows = conn.execute(
        "SELECT key FROM first_seen WHERE table_name = %s AND key = ANY(%s) AND partition <> %s ORDER BY key",
        (table, list(set(keys)), partition),
    ).fetchall()
    return [r[0] for r in rows]
