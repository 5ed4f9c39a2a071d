"""A 200-step run of light steps on the dagster-celery executor (1 and 2 workers) against the
in-process executor, over the machine's RabbitMQ: throughput, and the time the engine adds a step.

Each mode runs the same job graph (fan out N light steps, gather) into one persistent
(SQLite) instance; the workers are real `celery worker` processes on a fresh vhost.

    python bench/celery_overhead.py [--steps 200]
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import dagster as dg

from ci_assets.scaleout.probe import celery_probe, inprocess_probe

REPO = Path(__file__).resolve().parent.parent


def _run(job: dg.JobDefinition, instance: dg.DagsterInstance, steps: int, broker: str | None) -> float:
    config: dict = {
        "ops": {"fan_out": {"config": {"steps": steps}}},
        "loggers": {"console": {"config": {"log_level": "WARNING"}}},
    }
    if broker:
        config["execution"] = {"config": {"broker": broker, "backend": "rpc://"}}
    t0 = time.perf_counter()
    with dg.execute_job(dg.reconstructable(job), instance=instance, run_config=config) as result:
        assert result.success and len(result.output_for_node("gather")) == steps
    return time.perf_counter() - t0


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
    figures = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            home = Path(tmp) / "dagster_home"
            home.mkdir()
            (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
            (Path(tmp) / "dagster_celery_config.py").write_text(f"broker_url = {broker!r}\nresult_backend = 'rpc://'\n")
            os.environ["DAGSTER_HOME"] = str(home)
            env = {**os.environ, "PYTHONPATH": f"{tmp}:{REPO}"}
            with dg.DagsterInstance.get() as instance:
                figures["in-process"] = _run(inprocess_probe, instance, args.steps, None)
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
                        figures[f"celery, {workers} worker(s)"] = _run(celery_probe, instance, args.steps, broker)
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


if __name__ == "__main__":
    main()
