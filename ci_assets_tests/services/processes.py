"""Servers the tests start as processes: each in a process group of its own, stopped within a bounded
grace (the signal it honours, then SIGKILL of the whole group), so a teardown never waits on a server
that ignores its signal, and nothing it forked outlives it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence
from typing import Any

GRACE_SECONDS = 10.0


def start(args: Sequence[str], **popen: Any) -> subprocess.Popen:
    """`subprocess.Popen` in a new session, so `stop` can reach the server's children too."""
    return subprocess.Popen(list(args), start_new_session=True, **popen)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, grace: float = GRACE_SECONDS) -> int:
    """`sig` to the process group, `grace` seconds to exit, then SIGKILL to the group; its exit code."""
    if process.poll() is None:
        _signal_group(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=grace)
    # The group may hold children even when its leader is gone.
    _signal_group(process.pid, signal.SIGKILL)
    return process.wait()


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
