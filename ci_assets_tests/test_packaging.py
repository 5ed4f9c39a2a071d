"""What is installed from the wheel is the whole platform: the sdist and the wheel carry every file the
package reads (the list comes from git, not from a hand-kept one), the wheel builds from the sdist
(the C passes compile from it), every third-party module the package imports is a declared
dependency, and the wheel installed into a fresh environment outside the checkout loads the code
location, materializes a partition of each system and serves Buildhub's page."""

from __future__ import annotations

import ast
import functools
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

import pytest
import requests

from ci_assets_tests.services import processes
from ci_assets_tests.services.leftovers import stop_servers_under
from ci_assets_tests.services.network import free_port, wait_for_http

REPO = Path(__file__).resolve().parent.parent
UV = REPO / ".tools" / "bin" / "uv"
# Compiled from the sources the sdist carries; the wheel holds the built extension instead.
SOURCES_ONLY = (".py", ".c")


def tracked(folder: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", folder], cwd=REPO, capture_output=True, text=True, check=True).stdout
    return out.split()


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sdist, and the wheel built from it, from a copy of the tracked files (what a clone has)."""
    root = tmp_path_factory.mktemp("package")
    source, dist = root / "src", root / "dist"
    for name in ["pyproject.toml", "README.md", *tracked("ci_assets")]:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    run(UV, "build", "--no-build-isolation", "--python", sys.executable, "--out-dir", dist, "-q", cwd=source)
    return {"sdist": next(dist.glob("ci_assets-*.tar.gz")), "wheel": next(dist.glob("ci_assets-*.whl"))}


def test_the_sdist_and_the_wheel_carry_every_file_the_package_reads(artifacts: dict[str, Path]) -> None:
    files = tracked("ci_assets")
    with tarfile.open(artifacts["sdist"]) as sdist:
        in_sdist = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert set(files) - in_sdist == set()
    with zipfile.ZipFile(artifacts["wheel"]) as wheel:
        in_wheel = set(wheel.namelist())
    data = {f for f in files if not f.endswith(SOURCES_ONLY)}
    assert any(f.endswith(".html") for f in data) and any(f.endswith(".h") for f in data)
    assert data - in_wheel == set()
    assert {f for f in files if f.endswith(".py")} - in_wheel == set()
    # The C passes were compiled from the sdist's sources.
    assert len([n for n in in_wheel if re.search(r"/_(copy_rows|json_lines)\..*\.so$", n)]) == 2


def imported_modules() -> set[str]:
    """Every module the package imports by name: import statements, and the strings given to its
    lazy importer."""
    modules: set[str] = set()
    for path in (REPO / "ci_assets").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # `from google.cloud import bigquery`: the name may be a module of a namespace package.
                modules |= {f"{node.module}.{alias.name}" for alias in node.names}
            elif (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) in ("lazy", "import_module")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                modules.add(node.args[0].value)
    return {m for m in modules if m.split(".")[0] not in {*sys.stdlib_module_names, "ci_assets"}}


def providing_distribution(module: str) -> str:
    """The distribution that installs `module`: for a namespace such as `google`, the one whose files
    hold the longest prefix of the dotted name (`google.cloud.bigquery`, not `google.cloud`)."""
    candidates = list(dict.fromkeys(top_level_owners().get(module.split(".")[0], [])))
    assert candidates, f"no installed distribution provides {module}"
    if len(candidates) == 1:
        return candidates[0]
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        folder = "/".join(parts[:n])
        owners = [
            name for name in candidates if any(f.startswith((folder + "/", folder + ".")) for f in files_of(name))
        ]
        if owners:
            assert len(owners) == 1, (module, owners)
            return owners[0]
    raise AssertionError(f"no distribution holds {module}")


@functools.cache
def top_level_owners() -> dict[str, list[str]]:
    return dict(packages_distributions())


@functools.cache
def files_of(name: str) -> tuple[str, ...]:
    return tuple(str(f) for f in distribution(name).files or [])


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_third_party_module_the_package_imports_is_a_declared_dependency() -> None:
    declared = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {normalized(re.split(r"[\[<>=!~; ]", d, maxsplit=1)[0]) for d in declared}
    modules = imported_modules()
    assert {"starlette", "uvicorn", "jinja2", "google"} <= {m.split(".")[0] for m in modules}
    undeclared = {m: providing_distribution(m) for m in modules if normalized(providing_distribution(m)) not in names}
    assert undeclared == {}


def test_the_package_installed_outside_the_checkout_runs_every_system_and_serves_the_page(
    image_venv: Path, tmp_path: Path
) -> None:
    """From the environment the image's install step makes (the package's wheel and the locked
    dependencies, nothing of the checkout)."""
    venv, elsewhere = image_venv, tmp_path / "elsewhere"
    elsewhere.mkdir()
    python = venv / "bin" / "python"
    home = tmp_path / "home"
    child_env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HOME": str(Path.home()), "CI_ASSETS_HOME": str(home)}
    try:
        out = run(python, REPO / "ci_assets_tests" / "wheel_smoke.py", home, cwd=elsewhere, env=child_env)
        assert "ci_assets from " + str(venv) in out
        results = re.findall(r"^(\w+) .*: (success|failure)$", out, re.MULTILINE)
        assert results == [(s, "success") for s in ("activedata", "sources", "fxci", "buildhub", "aggregates")], out
        port = free_port()
        search = processes.start(
            [venv / "bin" / "ci-assets", "search", "--port", str(port)], cwd=elsewhere, env=child_env
        )
        try:
            wait_for_http(f"http://127.0.0.1:{port}/__lbheartbeat__", timeout=60)
            page = requests.get(f"http://127.0.0.1:{port}/", timeout=30)
            assert page.status_code == 200 and "text/html" in page.headers["content-type"]
            assert re.findall(r'data-facet="(\w+)"', page.text) == ["version", "platform", "channel", "locale"]
            assert 'data-swap="products"' in page.text  # the fifth facet: the product tabs
        finally:
            processes.stop(search)
    finally:
        stop_servers_under(tmp_path)
