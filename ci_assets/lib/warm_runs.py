"""Runs that start in a process which has already imported Dagster and the code location.

Dagster's own launcher asks the code server to start each run, and the code server spawns a
fresh interpreter for it (`multiprocessing`'s spawn context, fixed in `dagster._grpc.server`):
every run pays Dagster's import (~1 s here) and the code location's (~0.5 s) before doing
anything. `WarmRunLauncher` keeps run workers waiting (two by default) with both imported: a
launch hands one the run's `dagster api execute_run` arguments, and another is started to take
its place. Each worker runs exactly one run in a process of its own, by that very command (the
one Dagster's launchers run), so a run behaves as under Dagster's launcher (its events, its
interrupt handling, its exit code).

A waiting worker holds the code as it was when it started: a launch after any file of the
package changed (a module, a compiled extension, a template, a schema file) replaces it with a
fresh one (the run starts cold, the next warm).

The launcher is Dagster's documented extension point for where runs execute ("Run launchers",
https://docs.dagster.io/deployment/run-launcher); its base classes and the run command's
arguments are imported from where Dagster's own launchers import them (DockerRunLauncher's source
on that site: `dagster._core.launcher.base`, `dagster._serdes`, `dagster._grpc.types`).
Workers are children of the process that launches (the daemon, behind the run queue); one
waiting for a run exits when that process goes away (its stdin closes).
"""

from __future__ import annotations

import contextlib
import gc
import os
import select
import signal
import subprocess
import sys
import threading
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import Field

# The documented extension point's imports (see the module's docstring).
from dagster._core.launcher.base import CheckRunHealthResult, LaunchRunContext, RunLauncher, WorkerStatus
from dagster._grpc.types import ExecuteRunArgs
from dagster._serdes import ConfigurableClass, ConfigurableClassData

PID_TAG = "ci_assets/run_worker_pid"
# What a waiting worker imports before it is given a run: what every run of this code location
# needs (not pandera and pandas: a contract asks for it only of a frame that breaks something).
PRELOAD = ("ci_assets.definitions",)
_SOURCES = Path(__file__).resolve().parents[1]  # the ci_assets package
_REFILL_AFTER_SECONDS = 5
# Two: a worker takes a few seconds to load, and runs often come in twos and threes (a sensor's
# tick, a backfill's first runs); each waiting one holds ~250 MB.
_DEFAULT_WAITING = 2


class _Worker:
    def __init__(self) -> None:
        self.loaded = package_signature()  # what it will load: the package as it is now, or newer
        ready_read, ready_write = os.pipe()  # it writes a byte there once it waits, all loaded
        command = [sys.executable, "-m", "ci_assets.lib.warm_runs", str(ready_write)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, text=True, pass_fds=(ready_write,))
        os.close(ready_write)
        self._ready = os.fdopen(ready_read, "rb", buffering=0)

    def wait_ready(self, timeout: float) -> None:
        """Until it waits with everything loaded (or has died, or `timeout` passed)."""
        select.select([self._ready], [], [], timeout)

    def hand(self, execute_run_args: str) -> int:
        assert self.process.stdin is not None
        self.process.stdin.write(execute_run_args + "\n")
        self.process.stdin.close()
        self._ready.close()
        return self.process.pid

    def discard(self) -> None:
        self.process.kill()
        self.process.wait()
        self._ready.close()


def package_signature(root: Path = _SOURCES) -> frozenset[tuple[str, int, int]]:
    """Every file of the package by path, size and modification time: any change to what a
    worker may load (a module, an extension, a template, a YAML or SQL file; one added or gone)."""
    found = set()
    for path in root.rglob("*"):
        if "__pycache__" not in path.parts and path.is_file():
            stat = path.stat()
            found.add((str(path.relative_to(root)), stat.st_size, stat.st_mtime_ns))
    return frozenset(found)


class WarmRunLauncher(RunLauncher, ConfigurableClass):
    """Launches each run in a run worker that is already waiting, then starts the next."""

    def __init__(self, inst_data: ConfigurableClassData | None = None, waiting: int = _DEFAULT_WAITING) -> None:
        self._inst_data = inst_data
        self._lock = threading.Lock()
        self._size = waiting
        self._waiting: list[_Worker] = []  # oldest first
        self._disposed = False
        self._launched: dict[str, subprocess.Popen] = {}
        self._owner: weakref.ref[dg.DagsterInstance] | None = None
        super().__init__()

    @property
    def inst_data(self) -> ConfigurableClassData | None:
        return self._inst_data

    @classmethod
    def config_type(cls) -> dict:
        return {"waiting": Field(int, is_required=False, default_value=_DEFAULT_WAITING)}

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]) -> WarmRunLauncher:
        return cls(inst_data=inst_data, waiting=config_value.get("waiting", _DEFAULT_WAITING))

    def register_instance(self, instance: dg.DagsterInstance) -> None:
        super().register_instance(instance)
        self._owner = weakref.ref(instance)  # the instance this launcher serves (Dagster registers it)

    def instance(self) -> dg.DagsterInstance:
        found = self._owner() if self._owner else None
        if found is None:
            raise RuntimeError("WarmRunLauncher is used without its instance")
        return found

    def launch_run(self, context: LaunchRunContext) -> None:
        run = context.dagster_run
        instance = self.instance()
        arguments = ExecuteRunArgs(
            job_origin=run.job_code_origin,  # type: ignore[arg-type]
            run_id=run.run_id,
            instance_ref=instance.get_ref(),
        )
        with self._lock:
            self._launched = {r: p for r, p in self._launched.items() if p.poll() is None}  # reaps the finished
            worker = self._take_worker()
            pid = worker.hand(dg.serialize_value(arguments))
            self._launched[run.run_id] = worker.process
        instance.add_run_tags(run.run_id, {PID_TAG: str(pid)})
        threading.Thread(target=self._refill, args=(worker.process,), daemon=True).start()

    def _refill(self, launched: subprocess.Popen) -> None:
        """Replace the worker taken once its run is done or has had a few seconds alone, one worker
        loading at a time: loading takes a whole core for seconds, which a short run (and the UI
        showing it) or another loading worker would share."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            launched.wait(timeout=_REFILL_AFTER_SECONDS)
        while True:
            with self._lock:
                if self._disposed or len(self._waiting) >= self._size:
                    return
                worker = _Worker()
                self._waiting.append(worker)
            worker.wait_ready(timeout=120)

    def _take_worker(self) -> _Worker:
        now = package_signature() if self._waiting else None  # one look at the package a launch
        while self._waiting:
            worker = self._waiting.pop(0)
            if worker.process.poll() is None and worker.loaded == now:
                return worker
            worker.discard()
        return _Worker()

    def terminate(self, run_id: str) -> bool:
        instance = self.instance()
        run = instance.get_run_by_id(run_id)
        if not run or run.is_finished or PID_TAG not in run.tags:
            return False
        instance.report_run_canceling(run)
        try:
            os.kill(int(run.tags[PID_TAG]), signal.SIGINT)  # the worker turns it into Dagster's interrupt
        except ProcessLookupError:
            return False
        return True

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: Any) -> CheckRunHealthResult:
        process = self._launched.get(run.run_id)
        if process is not None:
            code = process.poll()
            if code is None:
                return CheckRunHealthResult(WorkerStatus.RUNNING)
            del self._launched[run.run_id]
            if code == 0:
                return CheckRunHealthResult(WorkerStatus.SUCCESS)
            return CheckRunHealthResult(WorkerStatus.FAILED, f"run worker exited with code {code}")
        pid = run.tags.get(PID_TAG)
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.UNKNOWN, "no run worker recorded")
        try:
            os.kill(int(pid), 0)  # launched by another process of this machine: alive or not
        except ProcessLookupError:
            return CheckRunHealthResult(WorkerStatus.NOT_FOUND, f"run worker {pid} is gone")
        return CheckRunHealthResult(WorkerStatus.RUNNING)

    def dispose(self) -> None:
        with self._lock:
            self._disposed = True
            for worker in self._waiting:
                worker.discard()
            self._waiting = []


def settle() -> None:
    """Put what is loaded so far (Dagster and the code location: about 300,000 objects) out of
    the garbage collector's sight. They live as long as the process; left in its
    oldest generation, each full collection during the run would scan them all, every thread
    stopped meanwhile (0.16 to 0.18 s each, in two runs of three of bench/activedata_read.py's)."""
    gc.collect()  # what is already garbage is not kept forever
    gc.freeze()


def _wait_for_a_run() -> None:
    """Import, then run the run whose `dagster api execute_run` arguments arrive, by that command."""
    import importlib
    import runpy

    for module in PRELOAD:
        importlib.import_module(module)
    settle()
    ready = int(sys.argv[1])
    with contextlib.suppress(BrokenPipeError):  # handed its run before it was ready: nobody asks
        os.write(ready, b"r")
    os.close(ready)
    arguments = sys.stdin.readline().strip()
    if not arguments:
        return  # the launcher went away before giving this worker a run
    sys.argv = ["dagster", "api", "execute_run", arguments]
    runpy.run_module("dagster", run_name="__main__", alter_sys=True)  # exits with the command's code


if __name__ == "__main__":
    _wait_for_a_run()
