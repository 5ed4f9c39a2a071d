"""Running the real `pg_dump`: choosing one as new as the server, and dumping one type and day.

pg_dump refuses servers newer than itself, and an older dump format may lack what a
newer server has; the embedded package ships PostgreSQL 18's, a machine may have its
own. The oldest one whose major version is at least the server's is used, and the
run says which.
"""

from __future__ import annotations

import dataclasses
import glob
import re
import shutil
import subprocess
from pathlib import Path

import psycopg

from ci_assets.lib.storage.postgres import pg_bin_dir


class PgDumpError(RuntimeError):
    """No usable pg_dump, or pg_dump failed."""


@dataclasses.dataclass(frozen=True)
class PgDump:
    path: str
    version: str  # e.g. "18.1"

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])

    def describe(self) -> str:
        return f"pg_dump {self.version} ({self.path})"


def probe(path: str) -> PgDump | None:
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"(\d+(?:\.\d+)*)", out)
    return PgDump(path, m.group(1)) if m else None


def candidates() -> list[PgDump]:
    machine = [shutil.which("pg_dump") or "", *glob.glob("/usr/lib/postgresql/*/bin/pg_dump")]
    paths = [str(pg_bin_dir() / "pg_dump"), *machine]
    found: dict[str, PgDump] = {}  # one per version: distro wrappers and their targets are the same pg_dump
    for path in dict.fromkeys(p for p in paths if p):
        dump = probe(path)
        if dump is not None:
            found.setdefault(dump.version, dump)
    return sorted(found.values(), key=lambda d: [int(x) for x in d.version.split(".")])


def server_major(dsn: str) -> int:
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SHOW server_version_num").fetchone()
    assert row is not None
    return int(row[0]) // 10000


def choose(server: int, explicit: str | None = None) -> PgDump:
    if explicit:
        dump = probe(explicit)
        if dump is None:
            raise PgDumpError(f"{explicit} is not a working pg_dump")
        if dump.major < server:
            raise PgDumpError(f"{dump.describe()} is older than the server (PostgreSQL {server}); it would refuse it")
        return dump
    found = candidates()
    usable = [d for d in found if d.major >= server]
    if not usable:
        seen = ", ".join(d.describe() for d in found) or "none"
        raise PgDumpError(f"no pg_dump is as new as the server (PostgreSQL {server}); found: {seen}")
    return usable[0]


def _regex(pattern: str) -> str:
    return "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"


def matching_tables(dsn: str, patterns: list[str]) -> dict[str, list[str]]:
    """pattern -> the relations pg_dump's `--table pattern` selects (`*` is any text, the rest literal)."""
    if not patterns:
        return {}
    with psycopg.connect(dsn) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.relname ~ %s "
                "AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
                ("|".join(f"({_regex(p)})" for p in patterns),),
            ).fetchall()
        ]
    compiled = {p: re.compile(_regex(p), re.DOTALL) for p in patterns}
    return {p: [n for n in names if regex.match(n)] for p, regex in compiled.items()}


# pg_dump's default gzip level (6) made the dump of a full day (108 tables, 1.8 GB of COPY text)
# take 50 s, ten times its conversion; level 1 takes 18 s for 14 % more bytes, and two jobs
# (one table each at a time, on one synchronized snapshot) 13.6 s (bench/aggregates_convert.py).
COMPRESSION_LEVEL = 1
JOBS = 2


def dump(binary: PgDump, dsn: str, patterns: list[str], out: Path) -> None:
    """`pg_dump --format directory --table p1 --table p2 ...` into `out` (which must not exist yet)."""
    command = [binary.path, "--dbname", dsn, "--format", "directory", "--file", str(out)]
    command += [f"--compress={COMPRESSION_LEVEL}", f"--jobs={JOBS}"]
    for pattern in patterns:
        command += ["--table", pattern]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PgDumpError(f"{binary.describe()} failed ({result.returncode}): {result.stderr.strip()[-2000:]}")
