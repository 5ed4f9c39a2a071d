"""toc.dat read as pg_dump's archive format, on real dumps by PostgreSQL 18's and the machine's pg_dump."""

import gzip
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_assets.defs.aggregates.toc import TocError, data_files, parse, read
from ci_assets.lib.storage.postgres import pg_bin_dir

TABLES = {
    "build_id_nightly_40_20151029": [('{"os": "Linux", "metric": "GC_MS", "label": ""}', "{0,2,0,2,2}")],
    "build_id_aurora_41_20151029": [('{"os": "Windows_NT", "metric": "A\\tB"}', "{1,2}"), ('{"os": "Darwin"}', None)],
    "submission_date_beta_39_20151029": [('{"os": "Darwin"}', "{5}")],
}
PG_DUMPS = {"pg_dump 18 (embedded)": str(pg_bin_dir() / "pg_dump"), "pg_dump of the machine": shutil.which("pg_dump")}


@pytest.fixture(scope="module")
def source(postgres_dsn: str) -> str:
    with psycopg.connect(postgres_dsn) as conn:
        for table, rows in TABLES.items():
            conn.execute(f"CREATE TABLE {table} (dimensions jsonb, histogram bigint[])")
            conn.execute(f"CREATE INDEX ON {table} USING gin (dimensions jsonb_path_ops)")
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO {table} VALUES (%s, %s)", rows)
        conn.execute("CREATE TABLE table_update_dates (tablename text PRIMARY KEY, submission_dates text[])")
    return postgres_dsn


@pytest.mark.parametrize("pg_dump", list(PG_DUMPS), ids=list(PG_DUMPS))
def test_each_data_file_maps_to_its_own_table(source: str, tmp_path: Path, pg_dump: str) -> None:
    binary = PG_DUMPS[pg_dump]
    assert binary, f"{pg_dump} is not installed"
    url = urlparse(source)
    out = tmp_path / "dump"
    subprocess.run(
        [
            binary,
            "-h",
            str(url.hostname),
            "-p",
            str(url.port),
            "-U",
            str(url.username),
            "-d",
            url.path.lstrip("/"),
            "--format",
            "directory",
            "--table",
            "build_id_*_20151029*",
            "-f",
            str(out),
        ],
        check=True,
        capture_output=True,
    )
    header, entries = read(out)
    assert header.format == 3 and header.version >= (1, 14, 0)
    files = data_files(entries)
    assert {f"{name}.gz" for name in files} == {p.name for p in out.glob("*.dat.gz")}
    assert {e.tag for e in files.values()} == {"build_id_nightly_40_20151029", "build_id_aurora_41_20151029"}
    for name, entry in files.items():
        assert entry.namespace == "public" and entry.copy_stmt.startswith(f"COPY public.{entry.tag} ")
        with gzip.open(out / f"{name}.gz", "rt") as f:
            lines = f.read().rstrip("\n").split("\n")
        assert lines[-1] == "\\." and len(lines) - 1 == len(TABLES[entry.tag])  # its own rows, not a neighbour's
    assert {e.desc for e in entries} >= {"TABLE", "TABLE DATA", "INDEX"}


def test_what_is_not_a_toc_is_refused_clearly(tmp_path: Path) -> None:
    with pytest.raises(TocError, match="no PGDMP magic"):
        parse(b"not a dump at all")
    with pytest.raises(TocError, match="ends early"):
        parse(b"PGDMP\x01\x10\x00\x04\x08\x03\x01\x00\x0d")


@pytest.fixture(scope="module")
def real_toc(source: str, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    url = urlparse(source)
    out = tmp_path_factory.mktemp("toc") / "dump"
    command = [str(PG_DUMPS["pg_dump of the machine"]), "-h", str(url.hostname), "-p", str(url.port)]
    command += ["-U", str(url.username), "-d", url.path.lstrip("/"), "--format", "directory", "-f", str(out)]
    subprocess.run([*command, "--table", "build_id_*_20151029*"], check=True, capture_output=True)
    return (out / "toc.dat").read_bytes()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_a_damaged_toc_is_a_toc_error_naming_the_offset(real_toc: bytes, data: st.DataObject) -> None:
    """A valid header with damaged entries (bytes overwritten or cut anywhere after it) is read
    or refused with TocError; never a bare OverflowError, UnicodeDecodeError or ValueError."""
    header, _ = parse(real_toc)
    start = header.entries_at
    at = data.draw(st.integers(start, len(real_toc) - 1))
    damage = data.draw(st.binary(min_size=1, max_size=8))
    damaged = real_toc[:at] + damage + real_toc[at + len(damage) :]
    if data.draw(st.booleans()):
        damaged = damaged[: data.draw(st.integers(start, len(damaged)))]
    try:
        parse(damaged)
    except TocError as err:
        assert "offset" in str(err), err
