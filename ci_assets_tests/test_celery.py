"""Steps on a real celery worker, over the machine's RabbitMQ (the dagster-celery executor)."""

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from ci_assets.scaleout.probe import celery_probe
from ci_assets_tests.conftest import REPO, RabbitMQ


@pytest.fixture
def worker(rabbitmq: RabbitMQ, tmp_path: Path) -> Iterator[dict]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    config_dir = tmp_path / "celery_config"
    config_dir.mkdir()
    (config_dir / "dagster_celery_config.py").write_text(f"broker_url = {rabbitmq.url!r}\nresult_backend = 'rpc://'\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": f"{config_dir}:{REPO}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dagster_celery.app", "worker", "-Q", "dagster", "-c", "2",
         "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    time.sleep(3)
    assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else "worker exited"
    try:
        yield {"home": home, "broker": rabbitmq.url, "pid": proc.pid}
    finally:
        proc.terminate()
        proc.wait(timeout=30)


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
