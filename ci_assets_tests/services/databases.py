"""Throwaway databases on the machine's PostgreSQL (tests and benchmarks)."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """A new empty database, dropped (with its connections) on exit; yields its DSN."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
