"""What is running, as Dockerflow's `version.json` says it (source, version, commit, build).

The image writes the file at build time (`ci-assets version --commit ... --build ... > version.json`);
`/__version__` serves it. Without the file (a checkout), the commit is the checkout's git HEAD.
"""

from __future__ import annotations

import json
import subprocess
from importlib.metadata import version
from pathlib import Path

SOURCE = "https://github.com/mozilla/ci_assets"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent.parent


def version_info(version_file: Path | None = None) -> dict[str, str]:
    """The build's `version.json` where it exists, else what the installed package and its checkout say."""
    if version_file is not None and version_file.is_file():
        written = json.loads(version_file.read_text())
        return {key: str(written.get(key, "")) for key in ("source", "version", "commit", "build")}
    return {"source": SOURCE, "version": version("ci-assets"), "commit": checkout_commit() or "", "build": ""}


def checkout_commit(root: Path = PACKAGE_ROOT) -> str | None:
    """The git HEAD of the checkout the package runs from (None when installed from a wheel)."""
    if not (root / ".git").exists():
        return None
    result = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=False
    )
    if result.returncode != 0:
        return None
    return result.stdout.strip() or None
