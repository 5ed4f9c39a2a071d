"""A wheel of the project carries every data file the code reads: built, installed into a fresh
virtual environment outside the checkout, and the code location loaded from there."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
UV = REPO / ".tools" / "bin" / "uv"

LOAD = """
import dagster as dg
import ci_assets, ci_assets.definitions as location
from ci_assets.lib import env
assert "site-packages" in ci_assets.__file__, ci_assets.__file__
defs = location.build_definitions(env.read({"CI_ASSETS_HOME": "home"}))
dg.Definitions.validate_loadable(defs)
from ci_assets.defs.fxci.worker_costs import worker_costs_v1  # reads its .sql file
from pathlib import Path
from ci_assets.lib.reference import MANIFEST, drift
manifests = list(Path(ci_assets.__file__).parent.rglob(MANIFEST))
assert len(manifests) >= 3 and not [p for m in manifests for p in drift(m.parent, None)]
print(len(list(defs.resolve_all_asset_specs())))
"""


def run(*args: str | Path, cwd: Path) -> str:
    result = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_a_wheel_installed_outside_the_checkout_loads_the_code_location(tmp_path: Path) -> None:
    dist, project, venv, elsewhere = (tmp_path / n for n in ("dist", "project", "venv", "elsewhere"))
    for folder in (project, elsewhere):
        folder.mkdir()
    # The build runs in a copy of the tree, so the checkout keeps no build/ or egg-info of it.
    (project / "src").mkdir()
    for name in ("pyproject.toml", "README.md", "ci_assets"):
        subprocess.run(["cp", "-r", str(REPO / name), str(project / "src")], check=True)
    run(
        UV,
        "build",
        "--wheel",
        "--no-build-isolation",
        "--python",
        sys.executable,
        "--out-dir",
        dist,
        "-q",
        cwd=project / "src",
    )
    wheel = next(dist.glob("ci_assets-*.whl"))
    # The dependencies as locked, from uv's cache (installed by `make test` already), then the wheel alone.
    for name in ("pyproject.toml", "uv.lock"):
        (project / name).write_bytes((REPO / name).read_bytes())
    env = {"UV_PROJECT_ENVIRONMENT": str(venv), "PATH": "/usr/bin:/bin", "HOME": str(Path.home())}
    subprocess.run(
        [str(UV), "sync", "-q", "--frozen", "--no-install-project", "--offline", "--python", sys.executable],
        cwd=project,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    run(UV, "pip", "install", "-q", "--offline", "--no-deps", "--python", venv / "bin" / "python", wheel, cwd=project)
    assets = int(run(venv / "bin" / "python", "-c", LOAD, cwd=elsewhere).strip().splitlines()[-1])
    assert assets > 20
