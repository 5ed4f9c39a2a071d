"""The PostgreSQL resource: a configured DSN, or the embedded server started on first use."""

import subprocess
from pathlib import Path

import psycopg
import pytest

from ci_assets.lib.storage.postgres import PostgresResource, pg_bin_dir


def test_dsn_connection_commits_on_success_and_rolls_back_on_error(postgres_dsn: str) -> None:
    pg = PostgresResource(dsn=postgres_dsn)
    assert not pg.is_embedded
    with pg.connect() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS resource_probe (id int PRIMARY KEY)")
    with pytest.raises(psycopg.errors.UniqueViolation), pg.connect() as conn:
        conn.execute("INSERT INTO resource_probe VALUES (1)")
        conn.execute("INSERT INTO resource_probe VALUES (1)")
    with pg.connect() as conn:
        assert conn.execute("SELECT count(*) FROM resource_probe").fetchone() == (0,)


def test_embedded_server_starts_on_first_use_and_is_shared(tmp_path: Path) -> None:
    pgdata = tmp_path / "postgres"
    first = PostgresResource(embedded_dir=str(pgdata), keep_running=False)
    assert not pgdata.exists()  # nothing starts until the resource is used
    with first.connect() as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        database = conn.execute("SELECT current_database()").fetchone()[0]
    assert version.startswith("18") and database == "ci_assets"
    assert (pgdata / "PG_VERSION").read_text().strip() == "18"
    second = PostgresResource(embedded_dir=str(pgdata), keep_running=False, database="other")
    with second.connect() as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "other"
    assert first.uri().split("?")[1] == second.uri().split("?")[1]  # one server, two databases


def test_embedded_package_ships_pg_dump_18() -> None:
    out = subprocess.run([str(pg_bin_dir() / "pg_dump"), "--version"], capture_output=True, text=True, check=True)
    assert "18." in out.stdout
