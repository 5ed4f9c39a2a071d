"""Run by the Python of an environment that has only the wheel installed (test_packaging.py), from a
folder outside the checkout: it imports nothing of the tests, seeds the local demo in the home it is
given, and materializes one partition of each system as `make dev`'s first runs do.

Prints one line per run, `<system> <run description>: <status>`, and exits non-zero on a failure.
"""

from __future__ import annotations

import datetime as dt
import importlib
import sys
from pathlib import Path

import dagster as dg

import ci_assets
from ci_assets.cli import SYSTEMS, seed_demo
from ci_assets.definitions import build_definitions
from ci_assets.lib import env
from ci_assets.lib.launch import ASSET_JOB


def main(home: str) -> int:
    print(f"ci_assets from {ci_assets.__file__}", flush=True)
    settings = env.read({"CI_ASSETS_HOME": home})
    seed_demo(settings)
    defs = build_definitions(settings)
    today = dt.datetime.now(dt.UTC).date()
    failed = 0
    instance_dir = Path(home) / "dagster_home"
    instance_dir.mkdir(parents=True, exist_ok=True)
    (instance_dir / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.local_temp(str(instance_dir)) as instance:
        for system in SYSTEMS:
            demo = importlib.import_module(f"ci_assets.defs.{system}.demo").demo_runs(today)
            runs = [run for run in demo if not run.after]  # those that wait for another run's assets do not
            for run in runs[:1]:
                job = defs.resolve_job_def(run.job) if run.job != ASSET_JOB else asset_job(defs)
                result = job.execute_in_process(
                    partition_key=run.partition,
                    asset_selection=[dg.AssetKey(list(path)) for path in run.assets] or None,
                    instance=instance,
                    raise_on_error=False,
                )
                failed += not result.success
                print(f"{system} {run.description}: {'success' if result.success else 'failure'}", flush=True)
            if not runs:
                failed += not sensor_run(defs, system, instance)
    return 1 if failed else 0


def asset_job(defs: dg.Definitions) -> dg.JobDefinition:
    return defs.resolve_implicit_global_asset_job_def()


def sensor_run(defs: dg.Definitions, system: str, instance: dg.DagsterInstance) -> bool:
    """A system whose demo starts from its sensor (Buildhub): one tick, then its first run request."""
    sensor = next(s for s in defs.sensors or [] if s.name.startswith(system) and "new_keys" in s.name)
    with dg.build_sensor_context(instance=instance, definitions=defs, resources=defs.resources) as context:
        requests = sensor.evaluate_tick(context).run_requests or []
    request = requests[0]
    result = defs.resolve_job_def(sensor.job_name).execute_in_process(
        partition_key=request.partition_key,
        run_config=request.run_config,
        tags=request.tags,
        instance=instance,
        raise_on_error=False,
    )
    print(f"{system} {sensor.name}, {request.partition_key}: {'success' if result.success else 'failure'}")
    return result.success


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
