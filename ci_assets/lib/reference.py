"""Reference files copied from `shared/reference/` into the package, and proof they are unchanged.

Each system keeps its copies next to its code with a `REFERENCE.sha256` manifest
(`<sha256>  <file>` lines, as `sha256sum` writes them) naming the shared file each
one copies, so a test can tell a copy that drifted from its contract.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

MANIFEST = "REFERENCE.sha256"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest(directory: Path) -> dict[str, str]:
    entries = {}
    for line in (directory / MANIFEST).read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            entries[name.strip()] = digest
    return entries


def shared_reference_dir(start: Path) -> Path | None:
    """`shared/reference` beside the checkout (absent in a bare clone, as on CI)."""
    for parent in start.resolve().parents:
        candidate = parent / "shared" / "reference"
        if candidate.is_dir():
            return candidate
    return None


def drift(directory: Path, shared: Path | None) -> list[str]:
    """What no longer matches: a copy edited since its manifest, or a shared file changed since
    it was copied (checked only where `shared/reference` is reachable)."""
    problems = []
    for name, digest in manifest(directory).items():
        if sha256(directory / Path(name).name) != digest:
            problems.append(f"{directory / Path(name).name} was edited in the copy")
        if shared is not None and sha256(shared / name) != digest:
            problems.append(f"shared/reference/{name} changed: copy it again and update {directory / MANIFEST}")
    return problems
