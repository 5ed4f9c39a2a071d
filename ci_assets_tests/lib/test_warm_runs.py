"""WarmRunLauncher on a real instance: runs start in a worker that was waiting, one run a worker,
and a run can be terminated or found dead like under Dagster's own launcher."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.launcher.base import WorkerStatus

from ci_assets.lib import warm_runs
from ci_assets.lib.warm_runs import PID_TAG, WarmRunLauncher
from ci_assets_tests.lib import warm_jobs

LAUNCHER = "run_launcher:\n  module: ci_assets.lib.warm_runs\n  class: WarmRunLauncher\ntelemetry:\n  enabled: false\n"


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    (tmp_path / "dagster.yaml").write_text(LAUNCHER)
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert isinstance(instance.run_launcher, WarmRunLauncher)
        yield instance
        instance.run_launcher.dispose()


def waiting_worker(instance: dg.DagsterInstance, timeout: float = 30) -> warm_runs._Worker:
    """The oldest worker waiting (they are started once the run that took the last one ends)."""
    deadline = time.monotonic() + timeout
    while not instance.run_launcher._waiting:
        assert time.monotonic() < deadline, "no worker started to wait"
        time.sleep(0.05)
    return instance.run_launcher._waiting[0]


def launch(instance: dg.DagsterInstance, name: str) -> dg.DagsterRun:
    job = dg.reconstructable(getattr(warm_jobs, name))
    definition = job.get_definition()
    run = instance.create_run_for_job(job_def=definition, job_code_origin=job.get_python_origin())
    instance.launch_run(run.run_id, workspace=None)  # type: ignore[arg-type]
    return run


def finished(instance: dg.DagsterInstance, run_id: str, timeout: float = 60) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = instance.get_run_by_id(run_id)
        if run and run.is_finished:
            return run
        time.sleep(0.1)
    raise AssertionError(f"run {run_id} did not finish in {timeout}s")


def test_the_second_run_starts_in_the_worker_that_waited_for_it(instance: dg.DagsterInstance) -> None:
    first = finished(instance, launch(instance, "quick").run_id)
    assert first.status == dg.DagsterRunStatus.SUCCESS
    waiting = waiting_worker(instance)
    waiting_pid = waiting.process.pid
    time.sleep(0.5)
    assert waiting.process.poll() is None  # it waits, importing, for a run

    second = finished(instance, launch(instance, "quick").run_id)
    assert second.status == dg.DagsterRunStatus.SUCCESS
    assert int(second.tags[PID_TAG]) == waiting_pid != int(first.tags[PID_TAG])
    logged = [e.message for e in instance.all_logs(second.run_id) if e.message and e.message.startswith("pid ")]
    assert logged == [f"pid {waiting_pid}"]  # the op ran in that worker
    # What the worker loaded before its run is out of the collector's sight (warm_runs.settle).
    (frozen,) = [int(e.message.split()[1]) for e in instance.all_logs(second.run_id) if e.message.startswith("frozen ")]
    assert frozen > 100_000


def test_a_worker_older_than_the_code_is_not_used(instance: dg.DagsterInstance, monkeypatch) -> None:
    finished(instance, launch(instance, "quick").run_id)
    stale = waiting_worker(instance)
    monkeypatch.setattr(warm_runs, "package_signature", lambda: frozenset({("changed.yaml", 1, 1)}))
    run = finished(instance, launch(instance, "quick").run_id)
    assert run.status == dg.DagsterRunStatus.SUCCESS
    assert stale.process.poll() is not None and int(run.tags[PID_TAG]) != stale.process.pid
    assert all(w.process.poll() is None for w in instance.run_launcher._waiting)  # replaced, waiting


def test_a_terminated_run_is_canceled(instance: dg.DagsterInstance) -> None:
    run = launch(instance, "slow")
    deadline = time.monotonic() + 60
    while not any(e.dagster_event and e.dagster_event.event_type_value == "STEP_START"
                  for e in instance.all_logs(run.run_id)):  # fmt: skip
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert instance.run_launcher.terminate(run.run_id)
    assert finished(instance, run.run_id).status == dg.DagsterRunStatus.CANCELED


def test_a_worker_that_died_is_reported_to_run_monitoring(instance: dg.DagsterInstance) -> None:
    run = launch(instance, "slow")
    run = instance.get_run_by_id(run.run_id)
    assert instance.run_launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
    os.kill(int(run.tags[PID_TAG]), signal.SIGKILL)
    deadline = time.monotonic() + 10
    while (health := instance.run_launcher.check_run_worker_health(run)).status == WorkerStatus.RUNNING:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert health.status in (WorkerStatus.FAILED, WorkerStatus.NOT_FOUND), health


def test_any_file_of_the_package_changing_retires_a_worker(tmp_path: Path) -> None:
    """Not only modules: an extension, a template, a schema file, one added or removed."""
    for name in ("m.py", "_ext.cpython-311-x86_64-linux-gnu.so", "templates/page.html", "schema.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("v1")
    before = warm_runs.package_signature(tmp_path)
    for change in (
        lambda: (tmp_path / "_ext.cpython-311-x86_64-linux-gnu.so").write_text("v2!"),
        lambda: os.utime(tmp_path / "templates/page.html", ns=(1, 1)),
        lambda: (tmp_path / "new.sql").write_text("select 1"),
        lambda: (tmp_path / "schema.yaml").unlink(),
    ):
        change()
        after = warm_runs.package_signature(tmp_path)
        assert after != before
        before = after
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"compiled")  # Python's cache is not the code
    assert warm_runs.package_signature(tmp_path) == before
