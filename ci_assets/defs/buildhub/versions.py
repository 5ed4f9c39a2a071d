"""One order for every version string: Firefox's.

A version `mozilla-version` reads is placed by what it reads (100.0 after 99.0; 60.0b3 before
60.0; 60.0.1 after 60.0; 60.1.0esr after 60.1.0). Any other string is read leniently in the same
terms and placed among them, never after them all: its leading numbers as numbers (`060.1` is
60.1), then a release stage as Firefox orders them (a < b < rc < release < esr), then what is left
in natural order (digits as numbers). So `61.0b4rc1` comes right after `61.0b4`, and `60.1` between
`60.0.x` and `61.0`.

`version_key` is that order as a tuple; `sortable` is the same order as text that the store keeps
beside each build (compared bytewise: the column is `COLLATE "C"`), so ordering by version costs
an index, not mozilla-version at query time. `KEY_SCHEME` names the text's layout: keys of another
layout are computed again when the schema is ensured.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from ci_assets.lib.lazy import lazy

if TYPE_CHECKING:
    from mozilla_version import errors, gecko
else:  # imported on first use (ci_assets.lib.lazy): every run loads this module, few sort versions
    errors, gecko = lazy("mozilla_version.errors"), lazy("mozilla_version.gecko")

KEY_SCHEME = "v3"
WIDTH = 12  # digits kept of each number; larger numbers are clamped to 10**12 - 1
# Stages in Firefox's order, with mozilla-version's VersionType values.
NIGHTLY, AURORA, BETA, CANDIDATE, RELEASE, ESR = 1, 2, 3, 4, 5, 6
_LENIENT = re.compile(
    r"\s*v?(?P<numbers>\d+(?:\.\d+){0,3})"
    r"(?:(?P<stage>a|b|rc)(?P<stage_number>\d*))?"
    r"(?P<esr>esr)?",
    re.IGNORECASE | re.ASCII,  # digits are 0-9: int() refuses some of Unicode's (`¹`)
)
_STAGES = {"a": NIGHTLY, "b": BETA, "rc": CANDIDATE}
_DIGITS = re.compile(r"([0-9]+)")
_CONTROL = re.compile(r"[\x00-\x1f]")  # below the key's separator: not part of the order


def _clamp(number: int) -> int:
    return min(number, 10**WIDTH - 1)


def _rest(text: str) -> tuple[tuple[int, Any], ...]:
    """What follows the version's recognised part, in natural order: a number before text at the
    same place, numbers as numbers, text as text."""
    parts = [p for p in _DIGITS.split(_CONTROL.sub("", text)) if p]
    return tuple((0, _clamp(int(p))) if _DIGITS.fullmatch(p) else (1, p) for p in parts)


def _readable(text: str) -> Any | None:
    try:
        return gecko.GeckoVersion.parse(text)
    except (errors.PatternNotMatchedError, ValueError, TypeError):
        return None


@functools.lru_cache(maxsize=65536)
def version_key(text: str) -> tuple[Any, ...]:
    """(major, minor, patch, fourth, stage, stage number, build number, the rest): one total order for
    any string. mozilla-version holds a version without a build number equal to any build of it;
    here the missing number counts as 0, which keeps the order total."""
    parsed = _readable(text)
    if parsed is not None:
        numbers = (parsed.major_number, parsed.minor_number, parsed.patch_number or 0, parsed.old_fourth_number or 0)
        extra = parsed.beta_number or parsed.release_candidate_number or 0
        if parsed.version_type.value == AURORA:
            extra = 0  # `a2`: the number is the stage's name, not a count
        build = _clamp(parsed.build_number or 0)
        return (*map(_clamp, numbers), parsed.version_type.value, _clamp(extra), build, ())
    found = _LENIENT.match(text)
    if not found:
        return (0, 0, 0, 0, RELEASE, 0, 0, _rest(text))
    numbers = [_clamp(int(n)) for n in found["numbers"].split(".")]
    numbers += [0] * (4 - len(numbers))
    stage = _STAGES[found["stage"].lower()] if found["stage"] else RELEASE
    if found["esr"]:
        stage = ESR
    stage_number = _clamp(int(found["stage_number"])) if found["stage_number"] else 0
    return (*numbers, stage, stage_number, 0, _rest(text[found.end() :]))


def sortable(text: str | None) -> str | None:
    """`version_key` as text that sorts the same way, bytewise."""
    if text is None:
        return None
    *numbers, stage, stage_number, build, rest = version_key(text)
    head = ".".join(f"{n:0{WIDTH}d}" for n in numbers)
    # Each part of the rest: "0" and a number, or "1" and text; parts joined by \x1f, below every
    # character the text keeps, so a shorter rest sorts before a longer one it begins.
    tail = "\x1f".join(f"0{p:0{WIDTH}d}" if kind == 0 else f"1{p}" for kind, p in rest)
    return f"{KEY_SCHEME}.{head}.{stage}.{stage_number:0{WIDTH}d}.{build:0{WIDTH}d}.{tail}"
