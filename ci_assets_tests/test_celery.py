"""Steps on a real celery worker, over the machine's RabbitMQ (the dagster-celery executor)."""

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psycopg
import pytest

from ci_assets.scaleout.probe import celery_probe
from ci_assets_tests.celery_jobs import ROWS, celery_writer
from ci_assets_tests.conftest import REPO, RabbitMQ
from ci_assets_tests.services import processes


@pytest.fixture
def worker(rabbitmq: RabbitMQ, tmp_path: Path) -> Iterator[dict]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    config_dir = tmp_path / "celery_config"
    config_dir.mkdir()
    (config_dir / "dagster_celery_config.py").write_text(f"broker_url = {rabbitmq.url!r}\nresult_backend = 'rpc://'\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": f"{config_dir}:{REPO}"}
    proc = processes.start(
        [sys.executable, "-m", "celery", "-A", "dagster_celery.app", "worker", "-Q", "dagster", "-c", "2",
         "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    time.sleep(3)
    assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else "worker exited"
    try:
        yield {"home": home, "broker": rabbitmq.url, "pid": proc.pid}
    finally:
        processes.stop(proc)


def test_a_multi_step_run_executes_its_steps_in_the_celery_worker(worker: dict, monkeypatch) -> None:
    monkeypatch.setenv("DAGSTER_HOME", str(worker["home"]))
    run_config = {
        "execution": {"config": {"broker": worker["broker"], "backend": "rpc://"}},
        "ops": {"fan_out": {"config": {"steps": 4}}},
    }
    job = dg.reconstructable(celery_probe)
    with dg.DagsterInstance.get() as instance, dg.execute_job(job, instance=instance, run_config=run_config) as result:
        assert result.success
        steps = result.output_for_node("gather")
    assert [s["step"] for s in steps] == [0, 1, 2, 3]
    assert all(s["pid"] != os.getpid() for s in steps)  # none ran in this process


def test_a_worker_killed_mid_step_fails_the_run_and_a_retry_completes(
    worker: dict, fresh_postgres: str, tmp_path: Path, monkeypatch
) -> None:
    """The step's worker process is SIGKILLed between its two commits (as the OOM killer would)."""
    monkeypatch.setenv("DAGSTER_HOME", str(worker["home"]))
    hold, pid_file = tmp_path / "hold", tmp_path / "step.pid"
    hold.touch()
    run_config = {
        "execution": {"config": {"broker": worker["broker"], "backend": "rpc://"}},
        "ops": {"write_rows": {"config": {"dsn": fresh_postgres, "hold_file": str(hold), "pid_file": str(pid_file)}}},
    }
    job = dg.reconstructable(celery_writer)
    with dg.DagsterInstance.get() as instance:
        killer = threading.Thread(target=kill_when_half_written, args=(fresh_postgres, pid_file), daemon=True)
        killer.start()
        with dg.execute_job(job, instance=instance, run_config=run_config, raise_on_error=False) as failed:
            assert not failed.success
            # The run's failure names the step and why: "[write_rows]: ... WorkerLostError ... SIGKILL".
            [said] = [str(e.event_specific_data) for e in failed.all_events if e.is_failure and not e.is_step_event]
            assert "[write_rows]" in said and "WorkerLostError" in said and "SIGKILL" in said, said
            killed_pid = int(pid_file.read_text())
            run_id = failed.run_id
        killer.join(timeout=5)
        assert rows(fresh_postgres) == (50, 50, {killed_pid})  # the first commit, nothing of the second

        hold.unlink()
        retry = dg.ReexecutionOptions.from_failure(run_id, instance)
        with dg.execute_job(job, instance=instance, run_config=run_config, reexecution_options=retry) as again:
            assert again.success
            assert again.output_for_node("count_rows") == ROWS
    count, distinct, pids = rows(fresh_postgres)
    assert count == distinct == ROWS and len(pids) == 2  # completed by the retry, no row twice


def rows(dsn: str) -> tuple[int, int, set[int]]:
    with psycopg.connect(dsn) as conn:
        count, distinct = conn.execute("SELECT count(*), count(DISTINCT n) FROM celery_rows").fetchone()
        pids = {p for (p,) in conn.execute("SELECT DISTINCT pid FROM celery_rows")}
    return count, distinct, pids


def kill_when_half_written(dsn: str, pid_file: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if pid_file.exists() and rows(dsn)[0] == ROWS // 2:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
                return
        except psycopg.errors.UndefinedTable:
            pass
        time.sleep(0.1)
