"""Real work on the dagster-celery executor: a month of one aggregate type (dump, then Parquet) as one
single-run backfill, with two celery worker processes over RabbitMQ; each step runs in a worker,
not in the run's process. A worker SIGKILLed in the middle of the Parquet step: celery gives the
step to a worker again (late acknowledgement), and the month's Parquet is exact.

Marked `topology` (`make topology`, which CI runs after `make test`): minutes of real work.
"""

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import dagster as dg
import polars as pl
import pytest

from ci_assets_tests.conftest import REPO, RabbitMQ
from ci_assets_tests.services import processes
from ci_assets_tests.services.leftovers import stop_servers_under

pytestmark = pytest.mark.topology

DAYS = 30
TODAY = dt.datetime.now(dt.UTC).date()
FIRST, LAST = (TODAY - dt.timedelta(days=DAYS)).isoformat(), (TODAY - dt.timedelta(days=1)).isoformat()
# Late acknowledgement: a task whose worker dies is given to a worker again instead of failing.
CELERY_CONFIG = """
broker_url = {broker!r}
result_backend = "rpc://"
task_acks_late = True
task_reject_on_worker_lost = True
worker_prefetch_multiplier = 1
"""


@pytest.fixture(scope="module")
def world(rabbitmq: RabbitMQ, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    root = tmp_path_factory.mktemp("celery_assets")
    home, instance, config = root / "ci_home", root / "dagster_home", root / "celery_config"
    for folder in (instance, config):
        folder.mkdir()
    (instance / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (config / "dagster_celery_config.py").write_text(CELERY_CONFIG.format(broker=rabbitmq.url))
    env = {**os.environ, "CI_ASSETS_HOME": str(home), "CI_ASSETS_ENV": "local", "DAGSTER_HOME": str(instance)}
    seed = [sys.executable, "-c", "from ci_assets.defs.aggregates.demo import seed_demo; from ci_assets.defs"
            ".resources import resources_for; print(seed_demo(resources_for(), days=30))"]  # fmt: skip
    subprocess.run(seed, env=env, check=True, capture_output=True, timeout=300)
    env["PYTHONPATH"] = f"{config}:{REPO}"
    command = [sys.executable, "-m", "celery", "-A", "dagster_celery.app", "worker", "-Q", "dagster", "-c", "1",
               "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip
    workers = [
        processes.start([*command, "-n", f"w{i}@%h"], cwd=REPO, env=env, stdout=subprocess.DEVNULL) for i in (1, 2)
    ]
    time.sleep(3)
    try:
        yield {"home": home, "instance": instance, "broker": rabbitmq.url, "env": env}
    finally:
        for worker in workers:
            processes.stop(worker)
        stop_servers_under(root)


def month(world: dict, aggregate_type: str) -> tuple[bool, list[dg.DagsterEvent]]:
    """The month of `aggregate_type` as one run on the celery executor: (success, its events)."""
    run_config = {"execution": {"config": {"broker": world["broker"], "backend": "rpc://"}}}
    tags = {
        "dagster/asset_partition_range_start": f"{FIRST}|{aggregate_type}",
        "dagster/asset_partition_range_end": f"{LAST}|{aggregate_type}",
    }
    job = dg.build_reconstructable_job("ci_assets_tests.celery_assets", "aggregates_on_celery")
    with (
        dg.DagsterInstance.from_config(str(world["instance"])) as instance,
        dg.execute_job(job, instance=instance, run_config=run_config, tags=tags, raise_on_error=False) as result,
    ):
        # What the instance recorded (every attempt's events, from whichever worker ran it).
        return result.success, [e.get_dagster_event() for e in instance.all_logs(result.run_id) if e.is_dagster_event]


def parquet_rows(world: dict, aggregate_type: str) -> dict[str, int]:
    root = world["home"] / "objects" / "ci-assets-lake" / "lake" / "aggregates" / "parquet"
    files = sorted(root.glob(f"ingest_date=*/aggregate_type={aggregate_type}/data.parquet"))
    return {f.parent.parent.name: pl.read_parquet(f).height for f in files}


def step_pids(events: list[dg.DagsterEvent]) -> dict[str, set[int]]:
    found: dict[str, set[int]] = {}
    for event in events:
        if event.event_type == dg.DagsterEventType.STEP_START:
            found.setdefault(event.step_key, set()).add(event.pid)
    return found


def test_a_month_of_aggregates_runs_its_steps_in_the_celery_workers(world: dict) -> None:
    success, events = month(world, "build_id")
    assert success
    pids = step_pids(events)
    assert set(pids) == {"aggregates__dump", "aggregates__parquet"}
    assert all(os.getpid() not in p for p in pids.values())  # each step ran in a worker, not here
    rows = parquet_rows(world, "build_id")
    assert len(rows) == DAYS and all(n > 0 for n in rows.values())


def test_a_worker_killed_mid_step_gives_the_step_to_a_worker_again_and_the_month_is_exact(world: dict) -> None:
    clean, _ = month(world, "submission_date")
    assert clean
    expected = parquet_rows(world, "submission_date")
    killed: list[int] = []
    errors: list[BaseException] = []

    def kill_the_parquet_step() -> None:
        try:
            look_and_kill()
        except BaseException as err:  # noqa: BLE001 - reported by the test below
            errors.append(err)

    def look_and_kill() -> None:
        with dg.DagsterInstance.from_config(str(world["instance"])) as instance:
            before = {r.run_id for r in instance.get_runs()}
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and not killed:
                for run in [r for r in instance.get_runs() if r.run_id not in before]:
                    for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START):
                        if entry.step_key == "aggregates__parquet":
                            time.sleep(0.3)  # in the middle of the conversion
                            pid = entry.get_dagster_event().pid
                            os.kill(pid, signal.SIGKILL)
                            killed.append(pid)
                            return
                time.sleep(0.2)

    killer = threading.Thread(target=kill_the_parquet_step, daemon=True)
    killer.start()
    success, events = month(world, "submission_date")
    killer.join(timeout=10)
    assert not errors and killed, f"the Parquet step was never seen running {errors}"
    assert success
    started_in = step_pids(events)["aggregates__parquet"]
    assert len(started_in) == 2 and killed[0] in started_in  # started again, by another process
    assert parquet_rows(world, "submission_date") == expected  # the month exact, no day twice or short
