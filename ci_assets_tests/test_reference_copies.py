"""Every copy of a shared reference file (each folder with a REFERENCE.sha256) still matches."""

from pathlib import Path

import pytest

from ci_assets.lib.reference import MANIFEST, drift, manifest, shared_reference_dir

REPO = Path(__file__).resolve().parent.parent
COPIES = sorted(p.parent for root in ("ci_assets", "ci_assets_tests") for p in (REPO / root).rglob(MANIFEST))


def test_every_system_with_reference_files_has_its_copies_registered() -> None:
    names = {str(d.relative_to(REPO)) for d in COPIES}
    assert {
        "ci_assets/defs/buildhub/schema",
        "ci_assets/defs/fxci/schemas",
        "ci_assets_tests/defs/buildhub/reference",
        "ci_assets_tests/defs/fxci/pulse",
    } <= names


@pytest.mark.parametrize("directory", COPIES, ids=[str(d.relative_to(REPO)) for d in COPIES])
def test_copies_match_their_manifest_and_the_shared_reference(directory: Path) -> None:
    assert manifest(directory)
    # A bare clone (as on CI) has no shared/ beside it; then only the manifest is checked.
    assert drift(directory, shared_reference_dir(REPO)) == []
