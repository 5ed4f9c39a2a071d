"""The key inventory: every object key a system has discovered in a bucket, by the day it arrived.

One table for every system (`inventory.object_keys`, keyed by system, bucket and key). It is
what a day's partition reads (`keys_for_days`), and the key+ETag cache: a key ingested at its
current ETag (`cached`) is not downloaded again until the object changes. Recording a key that
is already there at the same ETag changes nothing, so listing, re-listing and event
notifications can all report the same key without a day running twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import psycopg

from ci_assets.lib import quarantine
from ci_assets.lib.storage.object_store import ObjectInfo

SCHEMA = "inventory"
TABLE = f"{SCHEMA}.object_keys"
# What became of a key the last time its day ran (NULL: not run yet at its current ETag).
State = Literal["ingested", "duplicate", "rejected", "gone"]

DDL = f"""
CREATE SCHEMA IF NOT EXISTS {SCHEMA};
CREATE TABLE IF NOT EXISTS {TABLE} (
    system         text        NOT NULL,
    bucket         text        NOT NULL,
    key            text        NOT NULL,
    etag           text        NOT NULL,
    size           bigint      NOT NULL,
    last_modified  timestamptz NOT NULL,
    arrival_day    date        NOT NULL,
    discovered_at  timestamptz NOT NULL DEFAULT now(),
    state          text,
    ingested_etag  text,
    ingested_at    timestamptz,
    PRIMARY KEY (system, bucket, key)
) WITH (fillfactor = 70);  -- room for the state update to stay on the page (HOT, no index churn)
CREATE INDEX IF NOT EXISTS object_keys_day ON {TABLE} (system, bucket, arrival_day);
ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS ingested_by text;  -- the run that marked it
"""


def arrival_day(info: ObjectInfo) -> dt.date:
    """The UTC day the object was last written: the partition its key belongs to."""
    return info.last_modified.astimezone(dt.UTC).date()


Outcome = tuple[str, str, State]  # key, etag, what became of it


@dataclasses.dataclass(frozen=True)
class KeyRow:
    key: str
    etag: str
    size: int
    arrival_day: dt.date
    cached: bool  # ingested already at this ETag
    state: str | None
    ingested_by: str | None = None  # the run that stored it: a killed run never reported it


@dataclasses.dataclass(frozen=True)
class KeyInventory:
    """One system's keys in the shared table."""

    system: str

    @contextlib.contextmanager
    def days_held(self, conn: psycopg.Connection, bucket: str, days: Sequence[dt.date]) -> Iterator[None]:
        """Hold the bucket's `days` for one run at a time, on `conn` (autocommit), until the block ends.

        A day's partition is read from its keys and replaced whole: two runs of the same day at
        once (a sensor's request and a retry, or the UI's) could otherwise store the older key
        set last, over the newer, after the newer run marked its keys ingested. The second run
        waits, then reads every key. Days are taken in order, so multi-day runs never deadlock;
        a killed run's locks go with its connection.
        """
        keys = [f"ci_assets.inventory/{self.system}/{bucket}/{day.isoformat()}" for day in sorted(set(days))]
        for key in keys:
            conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (key,))
        try:
            yield
        finally:
            for key in reversed(keys):
                conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (key,))

    def ensure_schema(self, conn: psycopg.Connection) -> None:
        # Two runs may start at once on a fresh database; serialise the DDL.
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('ci_assets.inventory.ddl'))")
        conn.execute(DDL)
        quarantine.ensure_table(conn)

    def record(self, conn: psycopg.Connection, bucket: str, objects: Sequence[ObjectInfo]) -> list[tuple[str, dt.date]]:
        """Upsert discovered keys; (key, arrival day) of those that are new or carry a new ETag
        (a changed object no longer matches its cache entry, so its day runs again).

        A key keeps the day it first arrived on when it is written again: that day's partition is
        replaced whole with the new content, so its records live in one partition, never in the
        old day's and again in the new one's (exactly once across partitions)."""
        if not objects:
            return []
        latest = {o.key: o for o in objects}  # one row per key, the last report wins
        rows = conn.execute(
            f"""
            INSERT INTO {TABLE} AS k (system, bucket, key, etag, size, last_modified, arrival_day)
            SELECT %s, %s, * FROM unnest(%s::text[], %s::text[], %s::bigint[], %s::timestamptz[], %s::date[])
            ON CONFLICT (system, bucket, key) DO UPDATE SET
                etag = EXCLUDED.etag, size = EXCLUDED.size, state = NULL,
                last_modified = EXCLUDED.last_modified
            WHERE k.etag IS DISTINCT FROM EXCLUDED.etag
            RETURNING key, arrival_day
            """,
            (
                self.system,
                bucket,
                list(latest),
                [o.etag for o in latest.values()],
                [o.size for o in latest.values()],
                [o.last_modified for o in latest.values()],
                [arrival_day(o) for o in latest.values()],
            ),
        ).fetchall()
        return [(r[0], r[1]) for r in rows]

    def _rows(self, conn: psycopg.Connection, bucket: str, column: str, values: Sequence[Any]) -> list[KeyRow]:
        rows = conn.execute(
            f"SELECT key, etag, size, arrival_day, ingested_etag IS NOT DISTINCT FROM etag, state, "
            f"ingested_by FROM {TABLE} WHERE system = %s AND bucket = %s AND {column} = ANY(%s) ORDER BY key",
            (self.system, bucket, list(values)),
        ).fetchall()
        return [KeyRow(*r) for r in rows]

    def keys_for_days(self, conn: psycopg.Connection, bucket: str, days: Sequence[dt.date]) -> list[KeyRow]:
        return self._rows(conn, bucket, "arrival_day", days)

    def keys_by_name(self, conn: psycopg.Connection, bucket: str, keys: Sequence[str]) -> list[KeyRow]:
        return self._rows(conn, bucket, "key", keys)

    def mark(
        self, conn: psycopg.Connection, bucket: str, outcomes: Sequence[Outcome], run_id: str | None = None
    ) -> None:
        """(key, etag, state) of each key a run considered: the cache entry that spares the next
        download (a key that was gone is asked for again next time), and the run that decided it."""
        if not outcomes:
            return
        conn.execute(
            f"""
            UPDATE {TABLE} AS k SET state = o.state, ingested_at = now(), ingested_by = %s,
                ingested_etag = CASE WHEN o.state = 'gone' THEN NULL ELSE o.etag END
            FROM unnest(%s::text[], %s::text[], %s::text[]) AS o(key, etag, state)
            WHERE k.system = %s AND k.bucket = %s AND k.key = o.key
            """,
            (
                run_id,
                [o[0] for o in outcomes],
                [o[1] for o in outcomes],
                [o[2] for o in outcomes],
                self.system,
                bucket,
            ),
        )
