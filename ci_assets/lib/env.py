"""Which environment the platform runs in, and where its local state lives.

Every local path hangs off one root (`CI_ASSETS_HOME`) so a whole local
environment can be thrown away with one `rm -r`.
"""

import os
from pathlib import Path
from typing import Literal

Environment = Literal["local", "cloud"]
ENVIRONMENTS: tuple[Environment, ...] = ("local", "cloud")


def current_env() -> Environment:
    value = os.environ.get("CI_ASSETS_ENV", "local").strip().lower() or "local"
    if value not in ENVIRONMENTS:
        raise ValueError(f"CI_ASSETS_ENV must be one of {', '.join(ENVIRONMENTS)}; got {value!r}")
    return value  # type: ignore[return-value]


def home() -> Path:
    """The root of every local path; created on first use."""
    root = Path(os.environ.get("CI_ASSETS_HOME", ".ci_assets")).expanduser().resolve()
    root.mkdir(parents=True, exist_ok=True)
    return root


def objects_root() -> Path:
    return home() / "objects"


def dagster_home() -> Path:
    return home() / "dagster_home"


def postgres_dir() -> Path:
    return home() / "postgres"


def listing_interval_seconds(default: int) -> int:
    """How often the bucket-listing sensors tick: `CI_ASSETS_LISTING_INTERVAL_SECONDS`, else the sensor's default.

    Read when the code location loads (Dagster fixes a sensor's interval at definition time).
    """
    raw = os.environ.get("CI_ASSETS_LISTING_INTERVAL_SECONDS", "").strip()
    if not raw:
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"CI_ASSETS_LISTING_INTERVAL_SECONDS must be a positive number of seconds; got {raw!r}")
    return int(raw)
