"""A month of aggregates (both types, 30 days each) on the dagster-celery executor, on one celery
worker process against two, over the machine's RabbitMQ: the wall time of the backfill, and where
it goes.

The month is what a backfill of `aggregates_on_celery` launches: one single-run backfill per
aggregate type (a run per type, each a dump step then a Parquet step), both runs at once, each in
its own process as the run launcher starts them. Each mode starts from a fresh demo world (the same
30 days of dumps) and a fresh SQLite instance; the workers run `-c 1` with late acknowledgement, as
in `ci_assets_tests/test_celery_assets.py`.

Where the time goes, from the runs' own events: each step's time inside its worker (STEP_START ->
STEP_SUCCESS), and how long steps waited for a free worker.

    python bench/celery_month.py [--days 30]
"""

import argparse
import datetime as dt
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import dagster as dg

from ci_assets_tests.celery_assets import CELERY_CONFIG, WORKER
from ci_assets_tests.services import processes
from ci_assets_tests.services.leftovers import stop_servers_under

REPO = Path(__file__).resolve().parent.parent
TYPES = ("build_id", "submission_date")


def run_type(instance_dir: str, broker: str, first: str, last: str, aggregate_type: str) -> None:
    """One type's month as one run, in a process of its own (as the run launcher would start it)."""
    run_config = {
        "execution": {"config": {"broker": broker, "backend": "rpc://"}},
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }
    tags = {
        "dagster/asset_partition_range_start": f"{first}|{aggregate_type}",
        "dagster/asset_partition_range_end": f"{last}|{aggregate_type}",
    }
    job = dg.build_reconstructable_job("ci_assets_tests.celery_assets", "aggregates_on_celery")
    with (
        dg.DagsterInstance.from_config(instance_dir) as instance,
        dg.execute_job(job, instance=instance, run_config=run_config, tags=tags) as result,
    ):
        assert result.success


def timeline(instance_dir: str) -> list[dict]:
    """Each run's RUN_START and RUN_SUCCESS, and (step, started, finished, pid) of its steps."""
    runs = []
    with dg.DagsterInstance.from_config(instance_dir) as instance:
        for run in instance.get_runs():
            found: dict[str, dict] = {}
            marks = {}
            for record in instance.all_logs(run.run_id):
                event = record.dagster_event
                if event is None:
                    continue
                if event.event_type_value in ("PIPELINE_START", "PIPELINE_SUCCESS"):
                    marks[event.event_type_value] = record.timestamp
                if not event.step_key:
                    continue
                if event.event_type_value == "STEP_START":
                    found[event.step_key] = {"start": record.timestamp, "pid": event.pid}
                elif event.event_type_value == "STEP_SUCCESS":
                    found[event.step_key]["end"] = record.timestamp
            steps = [(k, s["start"], s["end"], s["pid"]) for k, s in found.items()]
            runs.append({"start": marks["PIPELINE_START"], "end": marks["PIPELINE_SUCCESS"], "steps": steps})
    return runs


def one_mode(workers: int, days: int, broker: str, root: Path) -> dict:
    home, instance, config = root / "ci_home", root / "dagster_home", root / "celery_config"
    for folder in (instance, config):
        folder.mkdir(parents=True)
    (instance / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    (config / "dagster_celery_config.py").write_text(CELERY_CONFIG.format(broker=broker))
    env = {**os.environ, "CI_ASSETS_HOME": str(home), "CI_ASSETS_ENV": "local", "DAGSTER_HOME": str(instance)}
    seed = [sys.executable, "-c", "from ci_assets.defs.aggregates.demo import seed_demo; from ci_assets.defs"
            f".resources import resources_for; print(seed_demo(resources_for(), days={days}))"]  # fmt: skip
    subprocess.run(seed, env=env, check=True, capture_output=True, timeout=600)
    env["PYTHONPATH"] = f"{config}:{REPO}"
    pool = [
        processes.start([*WORKER, "-n", f"w{i}@%h"], cwd=REPO, env=env, stdout=subprocess.DEVNULL)
        for i in range(workers)
    ]
    today = dt.datetime.now(dt.UTC).date()
    first, last = (today - dt.timedelta(days=days)).isoformat(), (today - dt.timedelta(days=1)).isoformat()
    os.environ.update(CI_ASSETS_HOME=str(home), CI_ASSETS_ENV="local", DAGSTER_HOME=str(instance))
    with dg.DagsterInstance.from_config(str(instance)) as made:  # its databases, before two runs race to make them
        made.get_runs()
        made.get_event_records(dg.EventRecordsFilter(dg.DagsterEventType.ASSET_MATERIALIZATION), limit=1)
    try:
        time.sleep(4)  # the workers connected
        context = multiprocessing.get_context("spawn")
        runs = [context.Process(target=run_type, args=(str(instance), broker, first, last, t)) for t in TYPES]
        t0, launched = time.perf_counter(), time.time()
        for run in runs:
            run.start()
        for run in runs:
            run.join(timeout=1800)
        wall = time.perf_counter() - t0
        assert all(r.exitcode == 0 for r in runs), [r.exitcode for r in runs]
    finally:
        for worker in pool:
            processes.stop(worker)
        stop_servers_under(root)
    runs = timeline(str(instance))
    return {"wall": wall, "launched": launched, "runs": runs}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30)
    args = parser.parse_args()
    ctl = "rabbitmqctl"
    vhost = f"ci_assets_bench_{uuid.uuid4().hex[:8]}"
    subprocess.run([ctl, "-q", "add_vhost", vhost], check=True)
    subprocess.run([ctl, "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True)
    broker = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    figures = {}
    subprocess.run([sys.executable, "-c", "import ci_assets.definitions"], check=True)  # a warm page cache for both
    try:
        for workers in (1, 2):
            with tempfile.TemporaryDirectory(prefix="bench-celery-month-") as tmp:
                figures[workers] = one_mode(workers, args.days, broker, Path(tmp))
    finally:
        subprocess.run([ctl, "-q", "delete_vhost", vhost], check=False)
    print(f"{args.days} days of both aggregate types (2 runs, 4 steps) on the celery executor, this 2-core machine")
    for workers, found in figures.items():
        steps = [step for run in found["runs"] for step in run["steps"]]
        inside = sum(end - start for _, start, end, _ in steps)
        startup = max(run["start"] for run in found["runs"]) - found["launched"]
        print(
            f"  {workers} worker(s): backfill {found['wall']:6.1f} s; steps' time in workers {inside:6.1f} s "
            f"in {len({pid for *_, pid in steps})} process(es); the runs' processes up after {startup:.1f} s"
        )
        for run in found["runs"]:
            mark = run["start"]
            for step, start, end, pid in sorted(run["steps"], key=lambda s: s[1]):
                print(f"      {step:22s} waited {start - mark:5.1f} s, ran {end - start:6.1f} s  (pid {pid})")
                mark = end
            print(f"      {'run ends':22s} after {run['end'] - mark:5.1f} s")
    one, two = figures[1]["wall"], figures[2]["wall"]
    print(f"  two workers against one: {one / two:.2f}x")


if __name__ == "__main__":
    main()
