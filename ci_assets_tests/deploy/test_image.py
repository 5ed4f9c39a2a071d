"""The user-code image: no container daemon runs here, so the Dockerfile is held to what the chart runs
(its command, port, user and Dagster home), and its build stage's install step is run for real
(ci_assets_tests/deploy/image.py). The environment it makes serves the code location with
`dagster code-server start`, answers the chart's readiness probe, and carries the build's version.json."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import yaml

from ci_assets_tests.deploy.image import REPO, build_context_files, instructions
from ci_assets_tests.services import processes
from ci_assets_tests.services.network import free_port

VALUES = yaml.safe_load((REPO / "deploy" / "helm" / "values.yaml").read_text())
[DEPLOYMENT] = VALUES["dagster-user-deployments"]["deployments"]
MODULE = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["dg"]["project"]["code_location_target_module"]
CHART_DAGSTER_HOME = "/opt/dagster/dagster_home"  # the user deployments subchart's default dagsterHome


def final_stage() -> dict[str, Any]:
    stages = max(i for i, (word, _) in enumerate(instructions()) if word == "FROM")
    last = instructions()[stages:]
    env: dict[str, str] = {}
    for word, rest in last:
        if word == "ENV":
            env |= dict(pair.split("=", 1) for pair in rest.split())
    return {
        "user": [rest for word, rest in last if word == "USER"],
        "cmd": json.loads(next(rest for word, rest in last if word == "CMD")),
        "expose": [rest for word, rest in last if word == "EXPOSE"],
        "env": env,
        "copies": [rest for word, rest in last if word == "COPY"],
    }


def test_the_dockerfile_builds_what_the_charts_user_deployment_runs() -> None:
    build = [rest for word, rest in instructions(stage=0) if word == "RUN"]
    assert any("deploy/install.sh image" in run for run in build)  # the same script `make install` runs
    assert any("ci-assets version" in run and "version.json" in run for run in build)
    # The package and what it needs to build: its sources, the lock, the install script.
    copied = build_context_files()
    assert {"pyproject.toml", "uv.lock", "deploy/install.sh"} <= set(copied)
    assert {f for f in copied if f.startswith("ci_assets/")} == set(
        subprocess.run(["git", "ls-files", "ci_assets"], cwd=REPO, capture_output=True, text=True).stdout.split()
    )
    stage = final_stage()
    assert stage["user"] and stage["user"][-1] not in ("root", "0")
    port = str(DEPLOYMENT["port"])
    assert stage["cmd"][:3] == ["dagster", "code-server", "start"]
    assert stage["cmd"][stage["cmd"].index("--port") + 1] == port and stage["expose"] == [port]
    assert stage["cmd"][stage["cmd"].index("--module-name") + 1] == MODULE
    assert DEPLOYMENT["codeServerArgs"] == ["-m", MODULE]
    assert stage["env"]["DAGSTER_HOME"] == CHART_DAGSTER_HOME and stage["env"]["CI_ASSETS_ENV"] == "cloud"
    version_file = stage["env"]["CI_ASSETS_VERSION_FILE"]
    assert any(c.endswith(" " + version_file) and "version.json" in c for c in stage["copies"])


def test_the_image_environment_serves_the_code_location_and_its_version(image_venv: Path, tmp_path: Path) -> None:
    bin_dir = image_venv / "bin"
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DAGSTER_HOME": str(tmp_path),
        "CI_ASSETS_ENV": "cloud",
        "CI_ASSETS_LAKE_BUCKET": "ci-assets-lake",
        "CI_ASSETS_BQ_PROJECT": "moz-fx-data-shared-prod",
        "CI_ASSETS_POSTGRES_DSN": "postgresql://ci:secret@127.0.0.1:5432/ci",
    }
    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    # As the build stage writes it, then as /__version__ reads it.
    written = subprocess.run(
        [bin_dir / "ci-assets", "version", "--commit", "f00d", "--build", "42"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    (tmp_path / "version.json").write_text(written)
    probe = [bin_dir / "python", "-c", "from ci_assets.lib.version import version_info as v; import sys, json; "
             "print(json.dumps(v(__import__('pathlib').Path(sys.argv[1]))))", tmp_path / "version.json"]  # fmt: skip
    served = json.loads(subprocess.run(probe, env=env, capture_output=True, text=True, check=True).stdout)
    assert (served["commit"], served["build"], served["version"]) == ("f00d", "42", "0.1.0")

    port = free_port()
    command = [str(bin_dir / "dagster"), "code-server", "start", "--host", "127.0.0.1", "--port", str(port),
               "--module-name", MODULE]  # fmt: skip
    server = processes.start(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # The chart's readiness probe, then the definitions loaded through the server.
        health = ["dagster", "api", "grpc-health-check", "-p", str(port)]
        for _ in range(120):
            if subprocess.run(health, env=env, capture_output=True, timeout=30).returncode == 0:
                break
            assert server.poll() is None, server.stdout.read().decode() if server.stdout else ""
            subprocess.run(["sleep", "0.5"], check=True)
        else:
            raise AssertionError("the code server never answered the readiness probe")
        validate = subprocess.run(
            ["dagster", "definitions", "validate", "--grpc-host", "127.0.0.1", "--grpc-port", str(port)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert validate.returncode == 0, validate.stdout[-2000:] + validate.stderr[-2000:]
    finally:
        processes.stop(server)
