"""The one quarantine table every system sends its rejected inputs to.

A rejected input is never dropped: it gets a row saying where it came from
(`source`, `locator`), why it was refused, and enough of it to look at. Writing the
same rejection twice (a re-run) updates `seen_at` instead of adding a row.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

EXCERPT_CHARS = 2000

DDL = """
CREATE TABLE IF NOT EXISTS quarantine (
    source      text        NOT NULL,
    locator     text        NOT NULL,
    reason      text        NOT NULL,
    raw_excerpt text,
    detail      jsonb       NOT NULL DEFAULT '{}'::jsonb,
    partition   text,
    seen_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source, locator, reason)
);
CREATE INDEX IF NOT EXISTS quarantine_source_partition ON quarantine (source, partition);
"""


@dataclasses.dataclass(frozen=True)
class Rejected:
    locator: str
    reason: str
    raw: str | bytes | None = None
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)
    partition: str | None = None

    def excerpt(self) -> str | None:
        if self.raw is None:
            return None
        return storable(self.raw[: EXCERPT_CHARS * 4])[:EXCERPT_CHARS]


def storable(value: str | bytes) -> str:
    """Text PostgreSQL accepts whatever `value` holds, its odd parts visible as escapes: bytes that
    are not UTF-8 as `\\xff`, a lone surrogate as `\\ud800`, NUL as `\\x00` (a text or jsonb
    column refuses NUL, so one poison input would otherwise fail its whole batch)."""
    if isinstance(value, bytes):
        text = value.decode("utf-8", errors="backslashreplace")
    else:
        text = value.encode("utf-8", errors="backslashreplace").decode("utf-8")
    return text.replace("\x00", "\\x00")


def _storable_detail(value: Any) -> Any:
    if isinstance(value, str | bytes):
        return storable(value)
    if isinstance(value, dict):
        return {storable(str(k)): _storable_detail(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_storable_detail(v) for v in value]
    return value


def ensure_table(conn: psycopg.Connection) -> None:
    conn.execute(DDL)


def quarantine(conn: psycopg.Connection, source: str, rows: Iterable[Rejected]) -> int:
    """Record `rows` (in the caller's transaction); returns how many were given."""
    params = [
        (
            source,
            storable(r.locator),
            storable(r.reason[:2000]),
            r.excerpt(),
            Jsonb(_storable_detail(r.detail)),
            None if r.partition is None else storable(r.partition),
        )
        for r in rows
    ]
    if params:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO quarantine (source, locator, reason, raw_excerpt, detail, partition) "
                "VALUES (%s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (source, locator, reason) DO UPDATE SET "
                "seen_at = now(), detail = EXCLUDED.detail, partition = EXCLUDED.partition, "
                "raw_excerpt = EXCLUDED.raw_excerpt",
                params,
            )
    return len(params)


@dataclasses.dataclass(frozen=True)
class QuarantinedRow:
    locator: str
    reason: str
    raw_excerpt: str | None
    detail: dict[str, Any]
    partition: str | None
    seen_at: dt.datetime


def rows(conn: psycopg.Connection, source: str, partitions: Sequence[str] | None = None) -> list[QuarantinedRow]:
    sql = "SELECT locator, reason, raw_excerpt, detail, partition, seen_at FROM quarantine WHERE source = %s"
    args: list[Any] = [source]
    if partitions is not None:
        sql += " AND partition = ANY(%s)"
        args.append(list(partitions))
    return [QuarantinedRow(*r) for r in conn.execute(sql + " ORDER BY locator, reason", args).fetchall()]
