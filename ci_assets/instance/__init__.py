"""Dagster instance configuration (dagster.yaml) per environment, and the local DAGSTER_HOME."""

import shutil
from pathlib import Path

import yaml

from ci_assets.lib import env

CONFIG_DIR = Path(__file__).parent


def config_file(environment: env.Environment) -> Path:
    return CONFIG_DIR / environment / "dagster.yaml"


RUN_LAUNCHERS = ("warm", "dagster")


def prepare_local_dagster_home(ci_home: Path, run_launcher: str = "warm") -> Path:
    """`$CI_ASSETS_HOME/dagster_home` with the local dagster.yaml, refreshed on every start.
    `run_launcher`: "warm" (the file's, lib/warm_runs.py) or "dagster" (Dagster's default
    launcher: the file without its `run_launcher` section)."""
    if run_launcher not in RUN_LAUNCHERS:
        raise SystemExit(f"CI_ASSETS_RUN_LAUNCHER must be one of {', '.join(RUN_LAUNCHERS)}, not {run_launcher!r}")
    home = ci_home / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(config_file("local"), home / "dagster.yaml")
    if run_launcher == "dagster":
        config = yaml.safe_load((home / "dagster.yaml").read_text())
        del config["run_launcher"]
        (home / "dagster.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return home
