"""The user-code image's build, run here without a container daemon: the build stage's COPY lines read
from the Dockerfile, those files copied to a folder outside the checkout, and the Dockerfile's own
install step (`deploy/install.sh image`) run there into a fresh environment, from uv's cache."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "Dockerfile"


def instructions(stage: int | None = None) -> list[tuple[str, str]]:
    """(instruction, arguments) of the Dockerfile, continuation lines joined; of one stage (0, 1, ...)
    when `stage` is given."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    found, current = [], -1
    for line in lines:
        word, _, rest = line.partition(" ")
        if word.upper() == "FROM":
            current += 1
        if stage is None or current == stage:
            found.append((word.upper(), rest.strip()))
    return found


def build_context_files() -> list[str]:
    """The tracked files the build stage copies (`COPY <sources...> <dest>`), as repository paths."""
    sources: list[str] = []
    for word, rest in instructions(stage=0):
        if word == "COPY" and not rest.startswith("--from"):
            sources += shlex.split(rest)[:-1]
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    return [f for f in tracked if any(f == s or f.startswith(s.rstrip("/") + "/") for s in sources)]


def install_image_environment(folder: Path) -> Path:
    """What the build stage installs, in `folder`/venv (the script's image mode); the venv's path."""
    source, venv = folder / "src", folder / "venv"
    for name in build_context_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(Path.home()),
        "VENV": str(venv),
        "TOOLS": str(REPO / ".tools"),  # uv as `make install` installed it (the image installs its own)
        "UV_OFFLINE": "1",  # the locked packages are in uv's cache since `make install`
        "PYTHON": sys.executable,
    }
    result = subprocess.run(
        ["sh", "deploy/install.sh", "image"], cwd=source, env=env, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return venv
