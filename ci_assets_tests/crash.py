"""The crash tests' harness: a real process stopped in the middle of its write, read, then SIGKILLed.

`crash_mid_write(run, args, point, reader)` runs `run(*args)` in a new process (spawned, so it
shares nothing with the test's) that stands still at `point` — a function of the write path,
before or after its n-th call — with its files half-renamed, its transaction open, its messages
unacknowledged. While it stands there `reader()` reads what any reader would see (the old data or
the new, never a part); then the process group is SIGKILLed, as the kernel's OOM killer or a node
going away would: no `finally`, no `atexit`, no rollback but the servers' own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import multiprocessing
import os
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True)
class FreezePoint:
    target: str  # "package.module:Class.method" or "package.module:function"
    call: int = 1  # the n-th call stops
    after: bool = True  # stop once the call returned (else before it starts)


def _install(point: FreezePoint, marker: str) -> None:
    module, _, attribute = point.target.partition(":")
    owner: Any = importlib.import_module(module)
    *path, name = attribute.split(".")
    for part in path:
        owner = getattr(owner, part)
    original = getattr(owner, name)
    calls = 0

    def frozen(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == point.call and not point.after:
            _stand_still(marker)
        result = original(*args, **kwargs)
        if calls == point.call and point.after:
            _stand_still(marker)
        return result

    setattr(owner, name, frozen)


def _stand_still(marker: str) -> None:
    Path(marker).write_text(str(os.getpid()))
    while True:
        time.sleep(60)


def _child(run: Callable[..., object], args: tuple, point: FreezePoint, marker: str) -> None:
    os.setpgrp()  # the kill takes the run's own children (converter processes, threads' pools) with it
    _install(point, marker)
    run(*args)


def crash_mid_write(
    run: Callable[..., object],
    args: tuple,
    point: FreezePoint,
    reader: Callable[[], None] = lambda: None,
    timeout: float = 120,
) -> None:
    """`run` must be a module-level function (the new process imports it by name)."""
    with tempfile.TemporaryDirectory() as scratch:
        marker = str(Path(scratch) / "frozen")
        process = multiprocessing.get_context("spawn").Process(target=_child, args=(run, args, point, marker))
        process.start()
        try:
            deadline = time.monotonic() + timeout
            while not Path(marker).exists():
                if not process.is_alive():
                    raise AssertionError(f"the run ended (exit code {process.exitcode}) before reaching {point}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"the run did not reach {point} within {timeout} s")
                time.sleep(0.05)
            reader()
        finally:
            with contextlib.suppress(ProcessLookupError):  # the group may have ended on its own
                os.killpg(process.pid, signal.SIGKILL)  # type: ignore[arg-type]
            process.join(timeout=30)
    assert process.exitcode == -signal.SIGKILL, f"the run was not killed mid-write (exit code {process.exitcode})"
