"""`ci-assets`: what is not an asset run — seeding the local demo, starting the local platform."""

from __future__ import annotations

import argparse
import importlib
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import psycopg

from ci_assets.lib import env

REPO_ROOT = Path(__file__).resolve().parent.parent
SYSTEMS = ("activedata", "sources", "fxci", "buildhub", "aggregates")


def demo_seeders() -> list[tuple[str, Callable[[dict[str, Any]], str]]]:
    """Each system that has demo data offers `seed_demo(resources) -> summary` in `defs/<system>/demo.py`."""
    seeders = []
    for system in SYSTEMS:
        try:
            module = importlib.import_module(f"ci_assets.defs.{system}.demo")
        except ModuleNotFoundError as err:
            if err.name != f"ci_assets.defs.{system}.demo":
                raise
            continue
        seeders.append((system, module.seed_demo))
    return seeders


def seed_demo(settings: env.Settings) -> None:
    from ci_assets.defs.resources import resources_for

    if settings.env != "local":
        raise SystemExit("ci-assets demo seeds the embedded local default only (CI_ASSETS_ENV=local)")
    print(f"CI_ASSETS_HOME={settings.home}")
    resources = resources_for(settings)
    # Demo files are thrown away with the home: no fsync for each of them.
    resources["object_store"] = resources["object_store"].model_copy(update={"fsync": False})
    seeders = demo_seeders()
    for system, seed in seeders:
        print(f"  {system}: {seed(resources)}")
    if not seeders:
        print("  no system has demo data yet")


def launch_demo_runs(url: str) -> None:
    """Each system's most recent demo day as ordinary runs, once the code location is loaded; a run
    that reads another's assets is launched once those are materialized, so every materializable
    asset has a materialization in the first hour."""
    import datetime as dt

    from ci_assets.lib.launch import launch_in_order, wait_until_loaded

    if not wait_until_loaded(url, timeout=300):
        print("the code location did not load in 5 minutes: no demo runs launched", flush=True)
        return
    today = dt.datetime.now(dt.UTC).date()
    runs = [
        run for system in SYSTEMS for run in importlib.import_module(f"ci_assets.defs.{system}.demo").demo_runs(today)
    ]
    for run in launch_in_order(url, runs, lambda line: print(line, flush=True)):
        print(f"  demo run not launched, its upstream never materialized: {run.description}", flush=True)


def dev(host: str, port: int, demo_runs: bool = True) -> None:
    """Seed the demo, then run the Dagster webserver and daemon on the local default (and launch each
    system's most recent demo day) with Buildhub's search page beside them (SEARCH_PORT); stop the
    embedded PostgreSQL when they stop."""
    from ci_assets.instance import prepare_local_dagster_home
    from ci_assets.lib.storage.postgres import stop_embedded

    settings = env.read()
    if settings.env != "local":
        raise SystemExit("ci-assets dev runs the embedded local default only (CI_ASSETS_ENV=local)")
    seed_demo(settings)
    dagster_home = prepare_local_dagster_home(settings.home)
    child_env = env.child_environment(
        CI_ASSETS_ENV="local",
        CI_ASSETS_HOME=str(settings.home),  # the runs' processes see the same home
        DAGSTER_HOME=str(dagster_home),
        VIRTUAL_ENV=sys.prefix,  # the venv `dg` checks it runs in
        # A backfill evaluated while `dg dev` reloads the code waits for it instead of failing
        # (the chart sets the same for its daemon).
        DAGSTER_BACKFILL_RETRY_DEFINITION_CHANGED_ERROR="1",
    )
    dg = shutil.which("dg", path=str(Path(sys.executable).parent)) or "dg"
    print(f"Dagster UI on http://{host}:{port} (DAGSTER_HOME={dagster_home})", flush=True)
    # `dg dev` finds the code location through pyproject.toml's [tool.dg] section.
    child = subprocess.Popen([dg, "dev", "-h", host, "-p", str(port)], cwd=REPO_ROOT, env=child_env)
    search_port = settings.number("SEARCH_PORT", 8000)
    search = subprocess.Popen(
        [sys.executable, "-m", "ci_assets.cli", "search", "--host", host, "--port", str(search_port)], env=child_env
    )

    def forward(signum: int, _frame: Any) -> None:
        child.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    try:
        if demo_runs:  # beside the platform: runs that wait for their upstream launch as it lands
            threading.Thread(target=launch_demo_runs, args=(f"http://{host}:{port}",), daemon=True).start()
        code = child.wait()
    finally:
        for process in (child, search):
            if process.poll() is None:
                process.terminate()
                process.wait()
        if stop_embedded(settings.home / "postgres"):
            print("stopped the embedded PostgreSQL", flush=True)
    sys.exit(code)


def serve_search(host: str, port: int) -> None:
    """Buildhub's search page and /api/search on the environment's PostgreSQL, as the read-only role."""
    from ci_assets.lib.storage.postgres import stop_embedded

    settings = env.read()
    pgdata = settings.home / "postgres"
    # The embedded server this command starts is stopped when it stops (Ctrl-C), as `ci-assets dev`
    # stops its own; one that was already running (under `ci-assets dev`) is left to its owner.
    started_here = settings.env == "local" and not (pgdata / "postmaster.pid").exists()
    try:
        _serve_search(settings, host, port)
    finally:
        if started_here and stop_embedded(pgdata):
            print("stopped the embedded PostgreSQL", flush=True)


def _serve_search(settings: env.Settings, host: str, port: int) -> None:
    import uvicorn

    from ci_assets.defs.buildhub import store
    from ci_assets.defs.buildhub.search.api import create_app, ensure_reader_role, reader_dsn
    from ci_assets.defs.resources import resources_for

    dsn = settings.secret_value("CI_ASSETS_BUILDHUB_SEARCH_DSN")
    if not dsn:
        owner = settings.secret_value("CI_ASSETS_POSTGRES_DSN") or resources_for(settings)["postgres"].uri()
        with psycopg.connect(owner) as conn:
            store.ensure_schema(conn)
            ensure_reader_role(conn)
        dsn = reader_dsn(owner)
    print(f"Buildhub's search page on http://{host}:{port}/ (API: /api/search)", flush=True)
    bucket = resources_for(settings)["buildhub_settings"].bucket
    app = create_app(dsn, bucket=bucket, version_file=version_file(settings))
    uvicorn.run(app, host=host, port=port, log_level="warning")


def version_file(settings: env.Settings) -> Path:
    return Path(settings.text("CI_ASSETS_VERSION_FILE") or "/app/version.json")


def print_version(settings: env.Settings, overrides: dict[str, str | None]) -> None:
    """Dockerflow's version.json: what is installed, with what the image's build says (commit, build)."""
    import json

    from ci_assets.lib.version import version_info

    info = version_info(version_file(settings)) | {k: v for k, v in overrides.items() if v is not None}
    print(json.dumps(info, indent=2))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="ci-assets", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="seed the local environment with demo data")
    serve = commands.add_parser("dev", help="seed the demo, then start the Dagster UI and daemon")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--no-demo-runs", action="store_true", help="do not launch the demo's most recent day")
    api = commands.add_parser("search", help="serve Buildhub's search page and /api/search (port from SEARCH_PORT)")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=env.read().number("SEARCH_PORT", 8000))
    about = commands.add_parser("version", help="print Dockerflow's version.json (the image's build writes it)")
    for field in ("source", "commit", "build"):
        about.add_argument(f"--{field}", help=f"the build's {field}, instead of what the checkout says")
    args = parser.parse_args(argv)
    if args.command == "demo":
        seed_demo(env.read())
    elif args.command == "dev":
        dev(args.host, args.port, demo_runs=not args.no_demo_runs)
    elif args.command == "search":
        serve_search(args.host, args.port)
    elif args.command == "version":
        print_version(env.read(), {"source": args.source, "commit": args.commit, "build": args.build})


if __name__ == "__main__":
    main()
