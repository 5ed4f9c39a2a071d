"""buildhub.json documents: which keys hold one, what a valid one is, and its identity.

The schema is Buildhub's own `schema.yaml` (a copy of the shared reference, loaded at
run time); the hash is Buildhub2's ("v1:" + md5 of the key-sorted JSON), so builds
hashed here and builds migrated from Kinto or Buildhub2 deduplicate against each other.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import posixpath
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from ci_assets.lib.lazy import lazy

if TYPE_CHECKING:
    import fastjsonschema
    import jsonschema
else:  # imported on first use (ci_assets.lib.lazy): the first document compiles the schema anyway
    fastjsonschema, jsonschema = lazy("fastjsonschema"), lazy("jsonschema")

SCHEMA_DIR = Path(__file__).parent / "schema"
KEY_SUFFIX = "buildhub.json"
HASH_PREFIX = "v1"


@functools.cache
def schema() -> dict[str, Any]:
    loaded = yaml.safe_load((SCHEMA_DIR / "schema.yaml").read_text())["schema"]
    jsonschema.validators.validator_for(loaded).check_schema(loaded)
    return dict(loaded)


@functools.cache
def _compiled() -> Any:
    """The schema compiled to Python code: ~20x faster than walking it for every document."""
    return fastjsonschema.compile(schema())


@functools.cache
def _validator() -> jsonschema.protocols.Validator:
    spec = schema()
    # No format checker, as in Buildhub2: what it accepted stays accepted.
    return jsonschema.validators.validator_for(spec)(spec)


def is_buildhub_key(key: str) -> bool:
    """The original daemon's rule: the key's file name ends with `buildhub.json`."""
    return posixpath.basename(key).endswith(KEY_SUFFIX)


def build_hash(document: dict[str, Any]) -> str:
    digest = hashlib.md5(json.dumps(document, sort_keys=True).encode(), usedforsecurity=False).hexdigest()
    return f"{HASH_PREFIX}:{digest}"


@dataclasses.dataclass(frozen=True)
class Invalid:
    reason: str
    # JSON paths of every violation, e.g. "$.target.version"; the first is the best match.
    paths: list[str]


@dataclasses.dataclass(frozen=True)
class Valid:
    document: dict[str, Any]
    build_hash: str
    raw: bytes | None = None  # the bytes it was parsed from

    @property
    def build_id(self) -> str | None:
        build = self.document.get("build") or {}
        value = build.get("id")
        return str(value) if value is not None else None


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _unstorable(value: Any, path: str = "$") -> tuple[str, str] | None:
    """The first string (or key) PostgreSQL cannot store — a NUL, or half of a surrogate pair, both
    valid JSON escapes — as (JSON path, what it holds): one such document must not fail its batch."""
    if isinstance(value, str):
        found = _UNSTORABLE.search(value)
        if found:
            return path, "a NUL character" if found.group() == "\x00" else "a lone UTF-16 surrogate"
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}"
            found_key = _unstorable(key, inner)
            if found_key:
                return found_key
            found_item = _unstorable(item, inner)
            if found_item:
                return found_item
    elif isinstance(value, list):
        for n, item in enumerate(value):
            found_item = _unstorable(item, f"{path}[{n}]")
            if found_item:
                return found_item
    return None


def parse(data: bytes) -> Valid | Invalid:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return Invalid(f"not JSON at $: {err}", ["$"])
    # Both arrive only as \u escapes (raw NUL is not JSON, raw surrogates are not UTF-8).
    bad = _unstorable(document) if b"\\u" in data else None
    if bad:
        return Invalid(f"unstorable text at {bad[0]}: {bad[1]}", [bad[0]])
    parsed = parse_document(document)
    return dataclasses.replace(parsed, raw=data) if isinstance(parsed, Valid) else parsed


def parse_document(document: Any) -> Valid | Invalid:
    if not isinstance(document, dict):
        return Invalid(f"$ is not a JSON object but a {type(document).__name__}", ["$"])
    try:
        _compiled()(document)
        return Valid(document, build_hash(document))
    except fastjsonschema.JsonSchemaValueException:
        pass  # invalid: let jsonschema name every failing path, not just the first
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        best = jsonschema.exceptions.best_match(errors)
        assert best is not None
        paths = [best.json_path] + [e.json_path for e in errors if e is not best]
        return Invalid(f"schema violation at {best.json_path}: {best.message}", paths)
    return Valid(document, build_hash(document))
