"""Dagster instance configuration (dagster.yaml) per environment, and the local DAGSTER_HOME."""

import shutil
from pathlib import Path

from ci_assets.lib import env

CONFIG_DIR = Path(__file__).parent


def config_file(environment: env.Environment) -> Path:
    return CONFIG_DIR / environment / "dagster.yaml"


def prepare_local_dagster_home(ci_home: Path) -> Path:
    """`$CI_ASSETS_HOME/dagster_home` with the local dagster.yaml, refreshed on every start."""
    home = ci_home / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(config_file("local"), home / "dagster.yaml")
    return home
