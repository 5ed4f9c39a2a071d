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
