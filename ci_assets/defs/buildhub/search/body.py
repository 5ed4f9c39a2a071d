"""A search request's body read from bytes: strict JSON whose every string PostgreSQL can hold and
whose every number is finite, each refusal naming where it is (the API answers it with 400)."""

from __future__ import annotations

import json
import math
from typing import Any

from ci_assets.defs.buildhub.search.fields import SearchError


def _no_constant(name: str) -> Any:
    raise SearchError(f"Invalid JSON: {name} is not a JSON number")


def _check_text(text: str, where: str) -> None:
    if "\x00" in text:
        raise SearchError(f"{where}: text cannot hold a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise SearchError(f"{where}: text holds a lone surrogate (not valid Unicode)") from None


def _check(value: Any, where: str) -> None:
    if isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, float) and not math.isfinite(value):
        raise SearchError(f"{where}: number out of range")
    elif isinstance(value, dict):
        for key, inner in value.items():
            _check_text(key, where)
            _check(inner, f"{where}.{key}")
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            _check(inner, f"{where}[{index}]")


def parse(raw: bytes) -> Any:
    """The body, or SearchError: not UTF-8 JSON, NaN/Infinity, a number that overflows a double
    (`1e400`), a NUL or a lone surrogate in any key or value; RecursionError when nested too deeply."""
    try:
        body = json.loads(raw or b"{}", parse_constant=_no_constant)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise SearchError(f"Invalid JSON: {err}") from None
    _check(body, "body")
    return body
