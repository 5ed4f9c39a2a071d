"""Files a process writes before they take their place, named after the process that writes them.

A run SIGKILLed in the middle of a write (the OOM killer, a node going away) runs no `finally`:
its half-written files stay where they were staged. Each carries its writer's pid, so the next
writer in the same folder can tell a file whose writer is gone from one still being written,
and removes the former (`sweep`) before it stages its own (`owned_name`).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def owned_name(marker: str, name: str = "") -> str:
    """`<marker><pid>-<random>-<name>`: unique, and telling which process wrote it."""
    return f"{marker}{os.getpid()}-{uuid.uuid4().hex}-{name}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def sweep(folder: Path, marker: str) -> list[Path]:
    """Remove the files under `marker` in `folder` whose writer has died; returns them."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return removed
    for entry in entries:
        if not entry.name.startswith(marker):
            continue
        pid = entry.name[len(marker) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            Path(entry.path).unlink(missing_ok=True)
            removed.append(Path(entry.path))
    return removed
