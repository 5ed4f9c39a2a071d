"""buildhub.json validation against the reference schema, and the content hash."""

import json
from pathlib import Path

import pytest

from ci_assets.defs.buildhub.documents import Invalid, Valid, build_hash, is_buildhub_key, parse
from ci_assets.defs.buildhub.samples import INVALID_DOCUMENTS, encode, make_document

EXAMPLES = Path(__file__).parent / "reference"


@pytest.mark.parametrize(
    "name", ["valid-buildhub.json", "valid-buildhub-release-channel.json", "valid-buildhub-fennec-release-channel.json"]
)
def test_the_reference_documents_are_valid(name: str) -> None:
    assert isinstance(parse((EXAMPLES / name).read_bytes()), Valid)


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("not-json", "$"),
        ("empty-object", "$"),
        ("missing-version", "$.target"),
        ("size-not-integer", "$.download.size"),
        ("extra-nesting", "$.build.id"),
    ],
)
def test_invalid_documents_name_the_failing_path(name: str, path: str) -> None:
    result = parse(INVALID_DOCUMENTS[name])
    assert isinstance(result, Invalid)
    assert result.paths[0] == path and path in result.reason


def test_generated_documents_are_valid_and_hash_ignores_key_order() -> None:
    import random

    document = make_document(random.Random(1))
    parsed = parse(encode(document))
    assert isinstance(parsed, Valid)
    shuffled = json.loads(json.dumps(dict(reversed(list(document.items())))))
    assert build_hash(shuffled) == parsed.build_hash
    # Buildhub2's formula, so its hashes and ours agree: "v1:" + md5 of the sorted JSON.
    assert parsed.build_hash.startswith("v1:") and len(parsed.build_hash) == 35


@pytest.mark.parametrize(
    ("key", "matched"),
    [
        ("pub/firefox/nightly/2024/01/buildhub.json", True),
        ("pub/firefox/x/target.buildhub.json", True),
        ("pub/firefox/x/buildhub.json.asc", False),
        ("pub/firefox/buildhub.json/other.txt", False),
        ("buildhub.json", True),
    ],
)
def test_key_matching_follows_the_original_daemon(key: str, matched: bool) -> None:
    assert is_buildhub_key(key) is matched
