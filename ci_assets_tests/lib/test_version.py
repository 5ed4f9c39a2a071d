"""Dockerflow's version.json: written by the image's build, read back as written; from a checkout, its
git commit."""

import json
import subprocess
import sys
from pathlib import Path

from ci_assets.lib.version import checkout_commit, version_info

REPO = Path(__file__).resolve().parents[2]


def test_a_checkout_reports_its_git_commit() -> None:
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True)
    info = version_info(None)
    assert info["commit"] == head.stdout.strip() and len(info["commit"]) == 40
    assert info["version"] == "0.1.0" and info["build"] == ""
    assert checkout_commit(REPO / "ci_assets") is None  # not a checkout's root: no commit made up


def test_the_builds_version_json_is_what_is_served(tmp_path: Path) -> None:
    cli = Path(sys.executable).parent / "ci-assets"
    written = subprocess.run(
        [cli, "version", "--commit", "0123abc", "--build", "https://ci.example/build/7"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin", "CI_ASSETS_VERSION_FILE": str(tmp_path / "none.json")},
    ).stdout
    version_file = tmp_path / "version.json"
    version_file.write_text(written)
    info = version_info(version_file)
    assert info == json.loads(written)
    assert (info["commit"], info["build"], info["version"]) == ("0123abc", "https://ci.example/build/7", "0.1.0")
