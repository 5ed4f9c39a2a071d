"""Real work on the dagster-celery executor, with two celery worker processes over RabbitMQ: a month of
one aggregate type (dump, then Parquet) as one single-run backfill, and a week of every ActiveData
bucket as one run (a step per bucket); each step runs in a worker, not in the run's process. A
worker SIGKILLed in the middle of a step: celery gives the step to a worker again (late
acknowledgement), and the month's Parquet, or the week's, is exact.

Marked `topology` (`make topology`, which CI runs after `make test`): minutes of real work.
"""

import dataclasses
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import dagster as dg
import polars as pl
import pytest

from ci_assets_tests.celery_assets import CELERY_CONFIG, WORKER
from ci_assets_tests.conftest import REPO, RabbitMQ
from ci_assets_tests.services import processes
from ci_assets_tests.services.leftovers import stop_servers_under

pytestmark = pytest.mark.topology

DAYS = 30
TODAY = dt.datetime.now(dt.UTC).date()
FIRST, LAST = (TODAY - dt.timedelta(days=DAYS)).isoformat(), (TODAY - dt.timedelta(days=1)).isoformat()
WEEK = [(TODAY - dt.timedelta(days=n)).isoformat() for n in range(7, 0, -1)]


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
    seed = [sys.executable, "-c", "from ci_assets_tests.celery_assets import seed_activedata_week as s; "
            f"print(s({WEEK!r}))"]  # fmt: skip
    subprocess.run(seed, env=env, check=True, capture_output=True, timeout=300, cwd=REPO)
    env["PYTHONPATH"] = f"{config}:{REPO}"
    workers = [
        processes.start([*WORKER, "-n", f"w{i}@%h"], cwd=REPO, env=env, stdout=subprocess.DEVNULL) for i in (1, 2)
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
    return on_celery(world, "aggregates_on_celery", f"{FIRST}|{aggregate_type}", f"{LAST}|{aggregate_type}")


def week(world: dict) -> tuple[bool, list[dg.DagsterEvent]]:
    """The week of every ActiveData bucket as one run on the celery executor."""
    return on_celery(world, "activedata_on_celery", WEEK[0], WEEK[-1])


def on_celery(world: dict, job_name: str, first: str, last: str) -> tuple[bool, list[dg.DagsterEvent]]:
    """The partitions `first`..`last` of the job as one run on the celery executor: (success, its events)."""
    run_config = {"execution": {"config": {"broker": world["broker"], "backend": "rpc://"}}}
    tags = {"dagster/asset_partition_range_start": first, "dagster/asset_partition_range_end": last}
    job = dg.build_reconstructable_job("ci_assets_tests.celery_assets", job_name)
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


def activedata_rows(world: dict) -> dict[str, int]:
    root = world["home"] / "objects" / "ci-assets-lake" / "lake" / "activedata"
    return {str(f.relative_to(root)): pl.read_parquet(f).height for f in sorted(root.glob("*/*/data.parquet"))}


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


def test_a_week_of_activedata_spreads_its_buckets_over_the_workers_and_survives_a_killed_one(world: dict) -> None:
    success, events = week(world)
    assert success
    pids = step_pids(events)
    assert len(pids) == 9  # the eight buckets and Bugzilla's, a step each
    ran_in = set().union(*pids.values())
    assert os.getpid() not in ran_in and len(ran_in) == 2  # in the two workers, none here
    expected = activedata_rows(world)
    assert len(expected) == 9 * 7 and all(n > 0 for n in expected.values())
    killed = kill_a_step(world, "activedata__", lambda: week(world))
    assert killed.success
    assert len(killed.restarted) == 1  # one step started again, by another process
    assert activedata_rows(world) == expected  # the week exact, no day twice or short


def test_a_worker_killed_mid_step_gives_the_step_to_a_worker_again_and_the_month_is_exact(world: dict) -> None:
    clean, _ = month(world, "submission_date")
    assert clean
    expected = parquet_rows(world, "submission_date")
    killed = kill_a_step(world, "aggregates__parquet", lambda: month(world, "submission_date"))
    assert killed.success
    assert set(killed.restarted) == {"aggregates__parquet"}  # started again, by another process
    assert parquet_rows(world, "submission_date") == expected  # the month exact, no day twice or short


@dataclasses.dataclass
class Killed:
    success: bool
    pid: int
    restarted: dict[str, set[int]]  # the steps started more than once, in which processes


def ended(instance: dg.DagsterInstance, run_id: str) -> set[str]:
    """The steps of the run that succeeded or failed so far."""
    kinds = {dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE}
    return {e.step_key for e in instance.all_logs(run_id, of_type=kinds) if e.step_key}


def kill_a_step(world: dict, step: str, run: Callable[[], tuple[bool, list[dg.DagsterEvent]]]) -> Killed:
    """`run()` while a thread SIGKILLs the worker process of a step whose key starts with `step`,
    in the middle of its work: one that started 0.3 s ago and has not ended (a step that ends
    first is passed over for the next, so the kill never lands on an idle worker)."""
    killed: list[int] = []
    errors: list[BaseException] = []
    passed: set[str] = set()  # steps that ended before they could be killed

    def look_and_kill() -> None:
        with dg.DagsterInstance.from_config(str(world["instance"])) as instance:
            before = {r.run_id for r in instance.get_runs()}
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                for new in [r for r in instance.get_runs() if r.run_id not in before]:
                    for entry in instance.all_logs(new.run_id, of_type=dg.DagsterEventType.STEP_START):
                        if entry.step_key and entry.step_key.startswith(step) and entry.step_key not in passed:
                            time.sleep(max(0.0, 0.3 - (time.time() - entry.timestamp)))
                            if entry.step_key in ended(instance, new.run_id):
                                passed.add(entry.step_key)
                                continue
                            pid = entry.get_dagster_event().pid
                            os.kill(pid, signal.SIGKILL)
                            killed.append(pid)
                            return
                time.sleep(0.1)

    def kill() -> None:
        try:
            look_and_kill()
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    killer = threading.Thread(target=kill, daemon=True)
    killer.start()
    success, events = run()
    killer.join(timeout=10)
    assert not errors and killed, f"no step {step}* was seen running {errors}"
    restarted = {key: pids for key, pids in step_pids(events).items() if len(pids) > 1}
    assert all(killed[0] in pids for pids in restarted.values())
    return Killed(success, killed[0], restarted)
