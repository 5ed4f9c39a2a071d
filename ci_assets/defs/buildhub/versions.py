"""Firefox-family versions in numeric order (100.0 after 99.0; 60.0b3 before 60.0; 60.0.1 after
60.0), by Mozilla's own `mozilla-version` rules; anything it cannot read sorts after, naturally."""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from ci_assets.lib.lazy import lazy

if TYPE_CHECKING:
    from mozilla_version import errors, gecko
else:  # imported on first use (ci_assets.lib.lazy): every run loads this module, few sort versions
    errors, gecko = lazy("mozilla_version.errors"), lazy("mozilla_version.gecko")

_PARTS = re.compile(r"(\d+)")


@functools.lru_cache(maxsize=65536)
def version_key(text: str) -> tuple[Any, ...]:
    try:
        return (0, gecko.GeckoVersion.parse(text), "")
    except (errors.PatternNotMatchedError, ValueError, TypeError):
        natural = tuple(int(p) if p.isdigit() else p for p in _PARTS.split(text) if p)
        return (1, _Natural(natural), text)


@functools.total_ordering
class _Natural:
    """Digits compare as numbers, text as text, a number before text at the same place."""

    def __init__(self, parts: tuple[Any, ...]):
        self.parts = tuple((0, p) if isinstance(p, int) else (1, p) for p in parts)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Natural) and self.parts == other.parts

    def __lt__(self, other: _Natural) -> bool:
        return self.parts < other.parts

    def __hash__(self) -> int:
        return hash(self.parts)


def sortable(text: str | None) -> str | None:
    """`version_key` as text that sorts the same way (the store keeps it: ordering by version
    then costs an index, not mozilla-version at query time). Versions it cannot read sort after
    every one it can, in their natural order."""
    if text is None:
        return None
    kind, parsed, _ = version_key(text)
    if kind == 0:
        v = parsed
        extra = v.beta_number or v.release_candidate_number or 0
        numbers = (v.major_number, v.minor_number, v.patch_number or 0, v.old_fourth_number or 0)
        return ".".join(f"{n:06d}" for n in numbers) + f".{v.version_type.value}.{extra:06d}.{v.build_number or 0:06d}"
    parts = [f"{p:012d}" if isinstance(p, int) else p for _, p in parsed.parts]
    return "~" + "\x1f".join(parts)
