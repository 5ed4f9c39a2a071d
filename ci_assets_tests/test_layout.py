"""Every system folder follows one template (README, "Layout"): the same file names everywhere."""

from pathlib import Path

import pytest

DEFS = Path(__file__).resolve().parent.parent / "ci_assets" / "defs"
TEMPLATE = ("__init__.py", "assets.py", "partitions.py", "automation.py", "settings.py", "demo.py")


@pytest.mark.parametrize("system", ["activedata", "sources", "fxci", "buildhub", "aggregates"])
def test_the_system_folder_follows_the_template(system: str) -> None:
    missing = [name for name in TEMPLATE if not (DEFS / system / name).is_file()]
    assert not missing, f"defs/{system} lacks {missing}"
    assert not (DEFS / system / "sensors.py").exists()  # sensors live in automation.py


def test_every_asset_declares_its_columns() -> None:
    """The UI shows each asset's columns before it is ever materialized (a dump: its files)."""
    from ci_assets.definitions import asset_specs

    missing = [s.key.to_user_string() for s in asset_specs() if "dagster/column_schema" not in (s.metadata or {})]
    assert not missing, missing
