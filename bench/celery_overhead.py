"""A 200-step run of light steps on the dagster-celery executor (1 and 2 workers) against the
in-process executor, over the machine's RabbitMQ: throughput, and the time the engine adds a step.

Each mode runs the same job graph (fan out N light steps, gather) into one persistent
(SQLite) instance; the workers are real `celery worker` processes on a fresh vhost.

Where a step's time goes, from the run's own events (the worker stamps STEP_START and
STEP_SUCCESS): inside the step (STEP_START -> STEP_SUCCESS: the step's start-up in the worker,
its body, its output stored) and between two steps on the same worker (the task's delivery by
the broker, its deserialisation, rebuilding the job and its plan before STEP_START). The broker
alone is timed with `celery.ping` tasks sent through the same queue and answered by a worker.

    python bench/celery_overhead.py [--steps 200]
"""

import argparse
import itertools
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path

import dagster as dg

from ci_assets.scaleout.probe import celery_probe, inprocess_probe

REPO = Path(__file__).resolve().parent.parent


def _run(job: dg.JobDefinition, instance: dg.DagsterInstance, steps: int, broker: str | None) -> tuple[float, str]:
    config: dict = {
        "ops": {"fan_out": {"config": {"steps": steps}}},
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }
    if broker:
        config["execution"] = {"config": {"broker": broker, "backend": "rpc://"}}
    t0 = time.perf_counter()
    with dg.execute_job(dg.reconstructable(job), instance=instance, run_config=config) as result:
        assert result.success and len(result.output_for_node("gather")) == steps
        run_id = result.run_id
    return time.perf_counter() - t0, run_id


def _breakdown(instance: dg.DagsterInstance, run_id: str) -> dict[str, float]:
    """Median seconds inside a light step, and between consecutive steps on one worker process."""
    starts, ends, pids = {}, {}, {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event is None or not (event.step_key or "").startswith("light_step"):
            continue
        if event.event_type_value == "STEP_START":
            starts[event.step_key], pids[event.step_key] = record.timestamp, event.pid
        elif event.event_type_value == "STEP_SUCCESS":
            ends[event.step_key] = record.timestamp
    inside = [ends[k] - starts[k] for k in starts]
    lanes: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for key, pid in pids.items():
        lanes[pid].append((starts[key], ends[key]))
    between = []
    for spans in lanes.values():
        spans.sort()
        between += [later[0] - earlier[1] for earlier, later in itertools.pairwise(spans)]
    return {"inside": statistics.median(inside), "between": statistics.median(between) if between else 0.0}


def _ping_round_trips(broker: str, count: int = 50) -> float:
    """Median seconds for a `celery.ping` task through the dagster queue and back (rpc:// results)."""
    from dagster_celery.make_app import make_app

    app = make_app({"broker": broker, "backend": "rpc://"})
    app.send_task("celery.ping", queue="dagster").get(timeout=60)  # connections up
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        app.send_task("celery.ping", queue="dagster").get(timeout=60)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    ctl = shutil.which("rabbitmqctl")
    assert ctl, "rabbitmqctl is needed for a vhost of the benchmark's own"
    vhost = f"ci_assets_bench_{uuid.uuid4().hex[:8]}"
    subprocess.run([ctl, "-q", "add_vhost", vhost], check=True)
    subprocess.run([ctl, "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True)
    broker = f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    figures: dict[str, float] = {}
    parts: dict[str, dict[str, float]] = {}
    ping = 0.0
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "dagster_home"
            home.mkdir()
            (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
            (Path(tmp) / "dagster_celery_config.py").write_text(f"broker_url = {broker!r}\nresult_backend = 'rpc://'\n")
            os.environ["DAGSTER_HOME"] = str(home)
            env = {**os.environ, "PYTHONPATH": f"{tmp}:{REPO}"}
            with dg.DagsterInstance.get() as instance:
                figures["in-process"] = _run(inprocess_probe, instance, args.steps, None)[0]
                for workers in (1, 2):
                    command = [sys.executable, "-m", "celery", "-A", "dagster_celery.app", "worker", "-Q", "dagster"]
                    command += ["-c", "1", "--loglevel=WARNING", "--without-gossip", "--without-mingle"]
                    procs = [
                        subprocess.Popen(
                            [*command, "-n", f"bench{i}@%h"],
                            cwd=REPO,
                            env=env,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                        for i in range(workers)
                    ]
                    time.sleep(4)
                    try:
                        _run(celery_probe, instance, 4, broker)  # warm the workers' imports
                        mode = f"celery, {workers} worker(s)"
                        figures[mode], run_id = _run(celery_probe, instance, args.steps, broker)
                        parts[mode] = _breakdown(instance, run_id)
                        if workers == 1:
                            ping = _ping_round_trips(broker)
                    finally:
                        for p in procs:
                            p.terminate()
                        for p in procs:
                            p.wait(timeout=60)
    finally:
        subprocess.run([ctl, "-q", "delete_vhost", vhost], check=False)
    base = figures["in-process"]
    print(f"{args.steps} light steps (+ fan-out and gather) on this 2-core machine, RabbitMQ at 127.0.0.1")
    for mode, seconds in figures.items():
        added = (seconds - base) / args.steps if mode != "in-process" else 0.0
        print(f"  {mode:22s} {seconds:7.2f} s  {args.steps / seconds:6.1f} steps/s  engine adds {added:.3f} s a step")
    print("where a step's time goes on the workers (medians):")
    for mode, split in parts.items():
        print(
            f"  {mode:22s} inside the step {split['inside']:.3f} s, between steps on a worker {split['between']:.3f} s"
        )
    print(f"  broker round trip (celery.ping through the dagster queue, rpc:// result): {ping * 1000:.1f} ms")


if __name__ == "__main__":
    main()
